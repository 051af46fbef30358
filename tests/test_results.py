"""The contract between chapters: one store keyed by (profile, seed, source), and declared needs.

The chapters' own source is parsed here: every result a chapter saves or loads must be declared in
``spectm.results.CHAPTER_RESULTS``, every need produced by an earlier chapter, and every store built from
the chapter's ``source`` parameter, so that a chapter executed on real data cannot read or write the
twin's numbers.
"""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spectm import atomic, experiments, results
from spectm.data.errors import DataFormatError
from spectm.results import CHAPTER_RESULTS, ResultMissing, ResultStore

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book" / "notebooks").glob("0*.md"))
CLAIMS = ROOT / "spectm" / "evaluate" / "claims.py"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SPECTM_DATA", str(tmp_path))
    return tmp_path


# --- the store ---------------------------------------------------------------------------------------


def test_store_keeps_twin_and_real_apart(data_dir):
    twin, real = ResultStore("quick", 0, "twin"), ResultStore("quick", 0, "real")
    twin.save("microcystin", [{"r2": 0.5}])
    assert twin.path("microcystin") == data_dir / "results" / "twin-quick-seed0" / "microcystin.json"
    with pytest.raises(ResultMissing, match="06_microcystin") as missing:
        real.load("microcystin")
    assert "real-quick-seed0" in str(missing.value) and "'real'" in str(missing.value)


def test_store_has_no_default_source():
    with pytest.raises(TypeError):
        ResultStore("quick", 0)  # the argument a chapter once forgot cannot be left out


@pytest.mark.parametrize("profile, seed, source, match", [
    ("quick", 0, "Real", "source must be one of twin, real"),
    ("quick", 0, None, "source must be one of twin, real"),
    ("fast", 0, "twin", "unknown profile 'fast'"),
    ("quick", -1, "twin", "seed must be a non-negative integer"),
    ("quick", "0", "twin", "seed must be a non-negative integer"),
    ("quick", True, "twin", "seed must be a non-negative integer"),
])  # fmt: skip
def test_store_refuses_bad_keys(profile, seed, source, match):
    with pytest.raises(ValueError, match=match):
        ResultStore(profile, seed, source)


def test_saved_json_is_the_format_chapter_9_reads(data_dir):
    value = [{"model": "SpecTM embeddings", "r2": np.float64(0.25), "seeds": np.int64(3),
              "when": np.datetime64("2024-07-01")}]
    path = ResultStore("quick", 0, "twin").save("microcystin", value)
    expected = [{"model": "SpecTM embeddings", "r2": 0.25, "seeds": 3, "when": "2024-07-01"}]
    assert path.read_text() == json.dumps(expected, indent=1)
    assert ResultStore("quick", 0, "twin").load("microcystin") == expected


@pytest.mark.parametrize("value", [pd.DataFrame({"r2": [0.1, 0.2]}), np.array([0.1, 0.2])],
                         ids=["dataframe", "array"])
def test_a_table_is_refused_instead_of_saved_as_its_printout(data_dir, value):
    store = ResultStore("quick", 0, "twin")
    with pytest.raises(TypeError, match=f"not a {type(value).__name__}"):
        store.save("microcystin", {"summary": value})
    assert not store.folder.exists() or not any(store.folder.iterdir())


def test_unknown_result_names_are_refused(data_dir):
    store = ResultStore("quick", 0, "twin")
    with pytest.raises(ValueError, match="unknown result 'microcystn'"):
        store.save("microcystn", {})
    with pytest.raises(ValueError, match="unknown result '../trust'"):
        store.load("../trust")


def test_a_damaged_result_names_file_and_producer(data_dir):
    store = ResultStore("quick", 0, "real")
    store.save("trust", {"samples": 3})
    store.path("trust").write_text('{"samples": 3, "cover')  # a half-copied file
    with pytest.raises(DataFormatError, match="trust.json.*field 'trust'.*08_trust"):
        store.load("trust")


def test_a_failed_save_keeps_the_previous_result(data_dir, monkeypatch):
    store = ResultStore("quick", 0, "twin")
    store.save("ablations", {"version": 1})

    def interrupted(source, target):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(atomic.os, "replace", interrupted)
        with pytest.raises(OSError, match="disk full"):
            store.save("ablations", {"version": 2})
    assert store.load("ablations") == {"version": 1}
    assert sorted(p.name for p in store.folder.iterdir()) == ["ablations.json"]


# --- the declared contract ---------------------------------------------------------------------------


def test_declared_needs_come_from_earlier_chapters():
    order = results.chapter_order()
    made_by = results.producers()
    for chapter, contract in CHAPTER_RESULTS.items():
        assert all(order.index(made_by[name]) < order.index(chapter) for name in contract["needs"])
        assert all(made_by[name] < chapter for name in contract["needs"])  # earlier in the book too


@pytest.mark.parametrize("table, match", [
    ({"a": {"produces": ("x",), "needs": ("y",)}, "b": {"produces": ("y",), "needs": ("x",)}}, "come later"),
    ({"a": {"produces": ("x",), "needs": ()}, "b": {"produces": ("x",), "needs": ()}}, "by both a and b"),
    ({"a": {"produces": (), "needs": ("z",)}}, "no chapter produces"),
    ({"a": {"produces": ("x",), "needs": ("x",)}}, "come later"),
])  # fmt: skip
def test_broken_contracts_are_refused(table, match):
    with pytest.raises(ValueError, match=match):
        results.chapter_order(table)


def test_makedeps_orders_every_reader_after_its_producers():
    rules = dict(line.split(": ") for line in results.makedeps().splitlines() if not line.startswith("#"))
    for chapter, contract in CHAPTER_RESULTS.items():
        expected = {f"executed/{results.producers()[name]}.ipynb" for name in contract["needs"]}
        assert set(rules.get(f"executed/{chapter}.ipynb", "").split()) == expected


def test_makefile_takes_its_chapter_order_from_the_contract():
    makefile = (ROOT / "Makefile").read_text()
    assert "-include $(OUTDIR)/deps.mk" in makefile
    assert "spectm.results makedeps" in makefile
    assert not re.search(r"^executed/0\d_\w+\.ipynb\s*:", makefile, re.M), "hand-written chapter order"


def _store_calls(text: str, method: str) -> set[str]:
    return set(re.findall(rf"\bstore\.{method}\(\s*\"(\w+)\"", text))


def _claims_loads() -> dict[str, set[str]]:
    """``{function in spectm.evaluate.claims: result names it loads from the store it is given}``."""
    tree = ast.parse(CLAIMS.read_text())
    return {node.name: _store_calls(ast.get_source_segment(CLAIMS.read_text(), node), "load")
            for node in tree.body if isinstance(node, ast.FunctionDef)}


def _parameters_cell(text: str) -> str:
    match = re.search(r"```\{code-cell\}[^\n]*\n:tags: \[parameters\]\n(.*?)```", text, re.S)
    assert match, "no parameters cell"
    return match.group(1)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_saves_and_loads_exactly_what_it_declares(chapter):
    text = chapter.read_text()
    loads = _store_calls(text, "load")
    for function, names in _claims_loads().items():
        if re.search(rf"\bclaims\.{function}\(\s*store\b", text):
            loads |= names
    declared = CHAPTER_RESULTS.get(chapter.stem, {"produces": (), "needs": ()})
    assert _store_calls(text, "save") == set(declared["produces"])
    assert loads == set(declared["needs"])
    second_way = r"save_result|load_result|results_dir|[\"']results[\"']"
    assert not re.search(second_way, text), "results reached other than through the store"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_reaches_data_and_results_through_its_source_parameter(chapter):
    text = chapter.read_text()
    stores = re.findall(r"ResultStore\(([^)]*)\)", text)
    if chapter.stem in CHAPTER_RESULTS:
        assert stores == ["profile, seed, source"]
    parameters = _parameters_cell(text)
    assert re.search(r"^source = \"twin\"$", parameters, re.M), "source must be a papermill parameter"
    for call in re.findall(r"lake_erie_data\(([^)]*)\)", text):
        other_water = "water=" in call  # a second water body exists only in the twin
        assert "source=source" in call or other_water, f"lake_erie_data({call}) ignores the chapter's source"


def test_real_data_exist_only_for_lake_erie(data_dir):
    with pytest.raises(ValueError, match="real data exist only for Lake Erie; water='turbid_bay'"):
        experiments.lake_erie_data("quick", source="real", water="turbid_bay")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_runs_each_chapter_after_the_chapters_it_reads(tmp_path):
    """``make -n`` on a copy of the checkout: deps.mk is generated, then the order follows from it."""
    for part in ("Makefile", "pyproject.toml", "book/notebooks", "spectm"):
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy2
        copy(ROOT / part, tmp_path / part)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    make = ["make", "-n", "-C", str(tmp_path), f"PY={sys.executable}", "STAMP=pyproject.toml"]
    planned = subprocess.run([*make, "executed/09_side_by_side.ipynb"], env=env, capture_output=True,
                             text=True, check=True).stdout
    executed = re.findall(r"spectm\.book execute book/notebooks/(\w+)\.md", planned)
    assert executed == ["05_reconstruction", "06_microcystin", "07_ablations", "08_trust", "09_side_by_side"]
    assert (tmp_path / "executed" / "deps.mk").read_text() == results.makedeps()


def test_real_files_written_by_the_twin_are_labelled_simulated(tmp_path, monkeypatch):
    import pandas as pd

    from spectm import paths
    from spectm.data import layout
    from spectm.evaluate import claims
    from spectm.data.layout import source_label
    from spectm.results import ResultStore

    real = tmp_path / "real"
    (real / "pace").mkdir(parents=True)
    assert source_label("real", real_root=real) == "real PACE OCI and GLERL data"
    assert source_label("twin") == "the Lake Erie twin"
    (real / "pace" / layout.TWIN_MARKER).write_text("simulated")
    assert source_label("real", real_root=real) == "real-format files written by the twin (simulated)"
    assert source_label("real", short=True, real_root=real) == "real-format twin files, simulated"
    monkeypatch.setattr(paths, "real_dir", lambda: real)
    frame = pd.DataFrame([{"claim": "c", "paper": "p", "this book": "b", "verdict": "v"}])
    frame.attrs["rule"] = "rule"
    monkeypatch.setattr(claims, "verdicts", lambda store: frame)
    text = claims.verdicts_markdown(ResultStore("quick", 0, "real"))
    assert "Measured on real-format files written by the twin (simulated)" in text and "real PACE OCI" not in text
