"""Every chapter executed with ``source = "real"`` on real-format files laid out as ``spectm fetch`` lays them out.

The files are the twin's (``spectm twin --as-fetched``, both L2 AOP layouts, every fourth overpass day),
and the chapters run under the ``smoke`` profile: ``quick``'s code paths with a fraction of its work, since
this check proves that every chapter takes the real path and runs, not what its numbers say (``make book``
reads those under ``quick``). The check that a chapter took the real
path, not the twin: the data folder the chapters run on starts with no Lake Erie twin, and a chapter
that fell back to the twin would have to write one there; chapter 8's second water body is twin-only by
design and is the one twin allowed.

Minutes of work, so it runs as its own step of ``.ci/run`` (``SPECTM_BOOK_CHECKS=1``), after ``make book``
has made the twins it reuses (hard links: the checkout's files are never written).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from spectm import as_fetched, book
from spectm.profiles import get_profile
from spectm.results import CHAPTER_RESULTS

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book" / "notebooks").glob("*.md"))
#: Chapter 8's transfer test uses a second, hypothetical water body that exists only in the twin.
TWIN_ONLY = {"quick-seed0-2024-turbid_bay"}
#: Every n-th overpass day of the quick twin (46 granules a season at 4): enough matched samples for every
#: chapter (86 in 2024), a quarter of the twin book's pixels to train on. At 8, chapter 6's baseline grid
#: fails (a fold of 9 samples for a 10-neighbour regressor). SPECTM_REAL_CHECK_EVERY overrides it.
EVERY = int(os.environ.get("SPECTM_REAL_CHECK_EVERY", "4"))
#: The profile of every chapter here (``smoke``: every code path, a fraction of quick's work).
PROFILE = "smoke"

pytestmark = pytest.mark.skipif(os.environ.get("SPECTM_BOOK_CHECKS") != "1",
                                reason="minutes of chapter runs: a step of .ci/run (set SPECTM_BOOK_CHECKS=1)")


def _link_twins(source: Path, target: Path, names) -> None:
    """Reuse twins the book already made, as hard links (the twin writer replaces files, never edits them)."""
    for name in names:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, copy_function=os.link)


@pytest.fixture(scope="module")
def real_book(tmp_path_factory):
    """Lay out the real folder from one data folder, execute every chapter on another; yield both."""
    checkout_twins = ROOT / "data" / "twin"
    maker = tmp_path_factory.mktemp("twin_maker")
    runner = tmp_path_factory.mktemp("real_runner")
    out = tmp_path_factory.mktemp("executed_real")
    _link_twins(checkout_twins, maker / "twin", ["quick-seed0-2024", "quick-seed0-2025-V3_2"])
    _link_twins(checkout_twins, runner / "twin", TWIN_ONLY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPECTM_DATA", str(maker))
        as_fetched.lay_out_as_fetched(runner / "real", size=get_profile(PROFILE)["twin"]["name"], every=EVERY)
        patch.setenv("SPECTM_DATA", str(runner))
        for chapter in CHAPTERS:  # in file order, which runs every producer before its readers
            book.execute(chapter, out / f"{chapter.stem}.ipynb", profile=PROFILE, data="real")
        yield runner, out


def _outputs(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return json.dumps([c.get("outputs", []) for c in cells if c["cell_type"] == "code"])


def test_every_chapter_ran_on_the_real_path(real_book):
    runner, out = real_book
    assert sorted(p.stem for p in out.glob("*.ipynb")) == [c.stem for c in CHAPTERS]
    twins = {p.name for p in (runner / "twin").iterdir()} if (runner / "twin").exists() else set()
    assert twins <= TWIN_ONLY, f"a chapter fell back to the Lake Erie twin: {sorted(twins - TWIN_ONLY)}"
    results = {p.name for p in (runner / "results").iterdir()}
    assert results == {f"real-{PROFILE}-seed0"}, results
    saved = {p.stem for p in (runner / "results" / f"real-{PROFILE}-seed0").glob("*.json")}
    assert saved == {name for c in CHAPTER_RESULTS.values() for name in c["produces"]}


@pytest.mark.parametrize("chapter", [c.stem for c in CHAPTERS if c.stem != "01_why_these_bands"])
def test_chapter_states_that_it_ran_on_real_data(real_book, chapter):
    """Chapter 1 is physics only; every other one shows its data source in its provenance cell."""
    assert "data source real" in _outputs(real_book[1] / f"{chapter}.ipynb")
