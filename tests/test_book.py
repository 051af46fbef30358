"""The notebook runner behind `make book`: profiles injected, failures named, targets written atomically."""

import json

import pytest

from spectm import book

NOTEBOOK = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3
  language: python
---

# A tiny chapter

```{{code-cell}} ipython3
:tags: [parameters]

profile = "quick"
```

```{{code-cell}} ipython3
print(f"running under {{profile}}")
```

```{{code-cell}} ipython3
{last_cell}
```
"""


def write(tmp_path, last_cell):
    source = tmp_path / "chapter.md"
    source.write_text(NOTEBOOK.format(last_cell=last_cell))
    return source


def test_profile_is_injected_and_injected_cell_is_hidden(tmp_path):
    source = write(tmp_path, "x = 1")
    target = tmp_path / "out" / "chapter.ipynb"
    book.execute(source, target, profile="paper", timeout=120)
    cells = json.loads(target.read_text())["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0]["metadata"]["tags"]
    texts = [o.get("text", "") for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
    outputs = "".join("".join(t) if isinstance(t, list) else t for t in texts)
    assert "running under paper" in outputs
    assert sorted(p.name for p in target.parent.iterdir()) == ["chapter.ipynb"]


def test_a_failing_cell_names_notebook_and_cell_and_writes_no_target(tmp_path):
    source = write(tmp_path, "raise ValueError('bad band grid')")
    target = tmp_path / "out" / "chapter.ipynb"
    with pytest.raises(book.NotebookFailed) as failure:
        book.execute(source, target, timeout=120)
    message = str(failure.value)
    assert str(source) in message
    assert "ValueError: bad band grid" in message
    assert "raise ValueError('bad band grid')" in message
    assert not target.exists()
    assert target.with_suffix(".failed.ipynb").exists()


def test_unknown_profile_is_refused(tmp_path):
    with pytest.raises(ValueError, match="quick"):
        book.execute(write(tmp_path, "x = 1"), tmp_path / "x.ipynb", profile="fast")
