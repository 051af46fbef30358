"""Generated parts of the landing page: run times from the build, claims from spectm.paper."""

from __future__ import annotations

import json

import pytest

from spectm import pages
from spectm.paper import PAPER


def _notebook(path, title, seconds, profile="quick"):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": [f"# {title}\n", "text"]}]
    metadata = {"papermill": {"duration": seconds, "parameters": {"profile": profile}}}
    path.write_text(json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_reading_minutes_count_words_not_front_matter(tmp_path):
    source = tmp_path / "01_x.md"
    source.write_text("---\njupytext:\n  " + "meta " * 5000 + "\n---\n" + "word " * 1000)
    assert pages.reading_minutes(source) == 5
    source.write_text("tiny")
    assert pages.reading_minutes(source) == 1


def test_timings_table_from_papermill_records(tmp_path):
    sources = tmp_path / "book"
    sources.mkdir()
    (sources / "01_a.md").write_text("word " * 400)
    notebooks = [_notebook(tmp_path / "02_b.ipynb", "Second", 125.0), _notebook(tmp_path / "01_a.ipynb", "First", 12.4)]
    table = pages.timings_table(notebooks, sources=sources)
    lines = table.splitlines()
    assert lines[2] == "| 1. First | 2 min | 12 s |"
    assert lines[3] == "| 2. Second | n/a | 2.1 min |"
    assert "profile `quick`" in table and "2.3 min in all" in table


def test_a_notebook_without_papermill_record_is_named(tmp_path):
    bare = tmp_path / "03_c.ipynb"
    bare.write_text(json.dumps({"cells": [], "metadata": {}}))
    with pytest.raises(ValueError, match="03_c.ipynb: no papermill duration in metadata.papermill"):
        pages.timings_table([bare])
    assert pages.main(["timings", str(tmp_path / "out.md"), str(bare)]) == 1
    assert not (tmp_path / "out.md").exists()


def test_claims_table_quotes_spectm_paper(tmp_path):
    out = tmp_path / "claims.md"
    assert pages.main(["claims", str(out)]) == 0
    text = out.read_text()
    for key in pages.HEADLINE_CLAIMS:
        assert f"| {PAPER[key]} | {PAPER[key].section} |" in text
    assert len(text.strip().splitlines()) == 2 + len(pages.HEADLINE_CLAIMS)
