"""The notebook runner behind `make book`: profiles injected, failures named, targets written atomically."""

import json
import os

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


def test_the_kernel_runs_numpy_on_one_blas_thread_and_the_caller_keeps_its_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    source = write(tmp_path, "import numpy\nfrom threadpoolctl import threadpool_info\n"
                             "print('blas threads', sorted({p['num_threads'] for p in threadpool_info() "
                             "if p['user_api'] == 'blas' and p['internal_api'] == 'openblas'}))")
    target = tmp_path / "chapter.ipynb"
    book.execute(source, target, timeout=120)
    assert "blas threads [1]" in target.read_text()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "2"


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


#: Index of the last cell in the executed notebook: title, parameters, injected parameters, print, last.
LAST_CELL = 4
#: Per-cell timeout of the timeout test: far below the cell's 60 s sleep, far above a one-line cell.
TIMEOUT_S = 3


def run_main(tmp_path, capsys, last_cell):
    source = write(tmp_path, last_cell)
    target = tmp_path / "out" / "chapter.ipynb"
    code = book.main(["execute", str(source), str(target), "--timeout", str(TIMEOUT_S)])
    return code, capsys.readouterr().err, source, target


def assert_named_failure(err, source, target, code, *expected):
    assert err.startswith(f"FAILED: {source}: cell {LAST_CELL} (execution count")
    for text in (code, *expected):
        assert text in err
    assert not target.exists()
    assert str(target.with_suffix(".failed.ipynb")) in err
    failed = json.loads(target.with_suffix(".failed.ipynb").read_text())
    # papermill adds two marker cells to the copy after an exception; the index counts cells without them
    cells = [c for c in failed["cells"] if "papermill-error-cell-tag" not in c["metadata"].get("tags", [])]
    assert "".join(cells[LAST_CELL]["source"]) == code
    assert sorted(p.name for p in target.parent.iterdir()) == ["chapter.failed.ipynb"]


def test_a_raising_cell_fails_main_with_the_named_message(tmp_path, capsys):
    cell = "raise ValueError('bad band grid')"
    code, err, source, target = run_main(tmp_path, capsys, cell)
    assert code == 1
    assert_named_failure(err, source, target, cell, "raised ValueError: bad band grid")


def test_a_cell_past_the_timeout_is_named_like_a_raising_cell(tmp_path, capsys):
    cell = "import time\ntime.sleep(60)"
    code, err, source, target = run_main(tmp_path, capsys, cell)
    assert code == 1
    assert_named_failure(err, source, target, cell, f"within the {TIMEOUT_S} s cell timeout (CellTimeoutError")


KERNEL_KILLERS = ["import os\nos._exit(1)", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"]


@pytest.mark.parametrize("cell", KERNEL_KILLERS, ids=["os._exit", "SIGKILL"])
def test_a_cell_that_kills_its_kernel_is_named_like_a_raising_cell(tmp_path, capsys, cell):
    code, err, source, target = run_main(tmp_path, capsys, cell)
    assert code == 1
    assert_named_failure(err, source, target, cell, "killed the kernel (DeadKernelError")


def test_a_run_that_stops_before_any_cell_says_so(tmp_path, monkeypatch):
    def kernel_will_not_start(*args):
        raise RuntimeError("Kernel didn't respond in 60 seconds")

    monkeypatch.setattr(book, "_run_papermill", kernel_will_not_start)
    source = write(tmp_path, "x = 1")
    target = tmp_path / "out" / "chapter.ipynb"
    target.parent.mkdir()
    target.with_suffix(".failed.ipynb").write_text("{}")  # left by an earlier failed run
    expected = (r"(?s)chapter\.md: before any cell ran: stopped the run with RuntimeError: "
                r"Kernel didn't respond.*no cell output was saved")
    with pytest.raises(book.NotebookFailed, match=expected):
        book.execute(source, target)
    assert sorted(p.name for p in target.parent.iterdir()) == []


def test_the_data_source_is_injected_beside_the_profile_and_checked(tmp_path):
    source = tmp_path / "chapter.md"
    source.write_text(NOTEBOOK.format(last_cell="print(f'data from {source}')").replace(
        'profile = "quick"', 'profile = "quick"\nsource = "twin"'))
    target = tmp_path / "out" / "chapter.ipynb"
    book.execute(source, target, profile="quick", timeout=120, data="real")
    outputs = "".join("".join(o.get("text", "")) for c in json.loads(target.read_text())["cells"]
                      if c["cell_type"] == "code" for o in c.get("outputs", []))
    assert "data from real" in outputs
    with pytest.raises(ValueError, match="unknown data source"):
        book.execute(source, target, data="Real")


def test_the_cell_timeout_comes_from_the_profile():
    """CI's quick build stops a hung cell; the study's fair-test cell trains for an hour; paper's has no limit."""
    assert book.cell_timeout("quick") == 1800
    assert book.cell_timeout("study") > 3600
    assert book.cell_timeout("paper") is None
    with pytest.raises(ValueError, match="unknown profile"):
        book.cell_timeout("fast")
