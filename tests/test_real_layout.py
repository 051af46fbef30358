"""The real path's folder layout: seasons kept apart, fetch skipped when on disk, `make book SOURCE=real` planned.

The folder is filled by ``spectm twin --as-fetched`` (tiny twin, both L2 AOP layouts), the way CI fills
``data/real``; no test here reaches the network (conftest blocks it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import netCDF4
import pytest

from spectm import as_fetched, cli, experiments, paths
from spectm.data import access, layout

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """A real-data folder in the fetch layout: 2024 in V3.1, 2025 in V3.2 (every second overpass day)."""
    root = tmp_path_factory.mktemp("as_fetched") / "real"
    seasons = as_fetched.lay_out_as_fetched(root, size="tiny", every=2)
    return root, seasons


def test_as_fetched_folder_has_the_fetch_layout_and_both_granule_layouts(fetched):
    root, seasons = fetched
    assert sorted(seasons) == [2024, 2025]
    for year, version in as_fetched.SEASON_LAYOUTS.items():
        files = seasons[year]
        assert files.pace and all(p.parent == root / "pace" for p in files.pace)
        assert all(p.name.endswith(f".V{version.replace('.', '_')}.nc") for p in files.pace)
        assert [p.name for p in files.glerl] == access.glerl_files_for_year(year)
        assert sorted(p.name for p in files.gridmet) == sorted(f"{v}_{year}.nc" for v in layout.REQUIRED_VARIABLES)
        with netCDF4.Dataset(files.pace[0]) as nc:  # a subset written by the streaming code, as fetched
            assert nc.subset_source_name == files.pace[0].name
        for source in layout.FETCH_SOURCES:
            assert layout.missing(source, year, root) is None
    assert layout.twin_written(root) and not layout.twin_written(root.parent / "elsewhere")


def test_a_season_reads_only_its_own_files(fetched):
    root, seasons = fetched
    assert {layout.granule_year(p.name) for p in seasons[2025].pace} == {2025}
    assert not set(seasons[2024].pace) & set(seasons[2025].pace)
    assert all(p.name.endswith("_2025.nc") for p in seasons[2025].gridmet)


def test_missing_pieces_are_named(fetched, tmp_path):
    root, _ = fetched
    copy = tmp_path / "real"
    shutil.copytree(root, copy)
    layout.pace_record_path(2024, copy).unlink()
    assert "no record of a complete PACE fetch for 2024" in layout.missing("pace", 2024, copy)
    gone = layout.season_files(2025, copy).pace[0]
    gone.unlink()
    assert "1 of the" in layout.missing("pace", 2025, copy) and gone.name in layout.missing("pace", 2025, copy)
    (copy / "gridmet" / "vpd_2025.nc").unlink()
    assert layout.missing("gridmet", 2025, copy) == "gridMET vpd for 2025"
    (copy / "pace" / layout.pace_record_path(2025, copy).name).write_text("{not json")
    assert "damaged" in layout.missing("pace", 2025, copy)


def test_no_season_on_disk_names_the_fetch_commands(tmp_path):
    expected = r"no pace/glerl/gridmet files for 2024 .*spectm fetch pace --year 2024"
    with pytest.raises(FileNotFoundError, match=expected):
        layout.require_season(2024, tmp_path)


@pytest.mark.parametrize("source", layout.FETCH_SOURCES)
def test_fetch_if_missing_touches_no_network_when_the_season_is_on_disk(fetched, source, capsys, monkeypatch):
    root, _ = fetched
    for name in ("download_url", "search_pace_granules", "earthdata_session"):
        monkeypatch.setattr(access, name, lambda *a, **k: pytest.fail("fetched although on disk"))
    assert cli.main(["fetch", source, "--year", "2025", "--if-missing", "--out", str(root)]) == 0
    assert "nothing fetched" in capsys.readouterr().out


@pytest.mark.parametrize("source", layout.FETCH_SOURCES)
def test_fetch_if_missing_offline_is_one_sentence_at_once(source, tmp_path, capsys):
    """Nothing on disk and no network (conftest): exit 2 and one sentence, from the first request."""
    assert cli.main(["fetch", source, "--year", "2024", "--if-missing", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Cannot reach") and len(err.splitlines()) == 1
    assert not layout.pace_record_path(2024, tmp_path).exists()


def test_real_source_reads_the_season_asked_for(fetched, monkeypatch):
    root, seasons = fetched
    monkeypatch.setattr(paths, "real_dir", lambda: root)
    data = experiments.lake_erie_data("quick", year=2025, source="real")
    assert data["twin"] is None
    assert set(data["pixels"]["granule_name"].values.tolist()) == {p.name for p in seasons[2025].pace}
    assert set(data["pixels"]["time"].dt.year.values.tolist()) == {2025}
    assert set(data["samples"]["time"].dt.year) == {2025}


def _make_plan(tmp_path, *args) -> str:
    """``make -n`` on a copy of the checkout: what would run, in order (deps.mk is made for real)."""
    for part in ("Makefile", "pyproject.toml", "_config.yml", "_toc.yml", "book", "spectm"):
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy2
        copy(ROOT / part, tmp_path / part)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    make = ["make", "-n", "-C", str(tmp_path), f"PY={sys.executable}", "STAMP=pyproject.toml", "VENV=venv"]
    return subprocess.run([*make, *args], env=env, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_book_real_fetches_first_and_writes_only_its_own_folders(tmp_path):
    planned = _make_plan(tmp_path, "book", "SOURCE=real", "PROFILE=paper")
    fetch = planned.index("fetch $source --year $year --if-missing")
    executes = [m.start() for m in re.finditer(r"spectm\.book execute", planned)]
    assert executes and fetch < executes[0]
    execute = r"spectm\.book execute book/notebooks/\w+\.md (\S+) --profile paper --source real"
    targets = re.findall(execute, planned)
    assert len(targets) == 9 and all(t.startswith("executed-real/") for t in targets)
    assert "verdicts executed-real/verdicts.md --profile paper --source real" in planned
    assert "jupyter-book build _build/real" in planned and "cp -r executed-real _build/real/executed" in planned
    assert (tmp_path / "executed-real" / "deps.mk").read_text().count("executed-real/") > 5
    assert not (tmp_path / "executed").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_book_twin_neither_fetches_nor_touches_the_real_folders(tmp_path):
    planned = _make_plan(tmp_path, "book")
    assert "fetch" not in planned and "executed-real" not in planned and "_build/real" not in planned
    targets = re.findall(r"spectm\.book execute book/notebooks/\w+\.md (\S+)", planned)
    assert len(targets) == 9 and all(t.startswith("executed/") for t in targets)


def _no_network(monkeypatch):
    for name in ("download_url", "search_pace_granules", "earthdata_session"):
        monkeypatch.setattr(access, name, lambda *a, **k: pytest.fail("fetched although the version differs"))


@pytest.mark.parametrize("year, args", [(2024, ["--if-missing", "--version", "3.2"]), (2025, ["--version", "3.1"])])
def test_fetch_of_another_version_than_recorded_is_one_sentence(fetched, year, args, capsys, monkeypatch):
    root, _ = fetched
    _no_network(monkeypatch)
    assert cli.main(["fetch", "pace", "--year", str(year), "--out", str(root), *args]) == 2
    err = capsys.readouterr().err.strip()
    recorded, asked = as_fetched.SEASON_LAYOUTS[year], args[-1]
    assert len(err.splitlines()) == 1 and str(root / "pace") in err
    assert f"fetched as V{recorded}" in err and f"not the V{asked} asked for" in err


def test_fetch_without_version_keeps_the_recorded_one(fetched, capsys, monkeypatch):
    root, _ = fetched
    _no_network(monkeypatch)
    assert cli.main(["fetch", "pace", "--year", "2024", "--if-missing", "--out", str(root)]) == 0  # V3.1 on disk
    assert "nothing fetched" in capsys.readouterr().out


def test_read_with_another_version_is_refused(fetched):
    root, seasons = fetched
    assert layout.require_season(2024, root, version="3.1").pace == seasons[2024].pace
    with pytest.raises(layout.MixedVersions, match=r"PACE 2024 season fetched as V3\.1 .*not the V3\.2 asked for"):
        layout.require_season(2024, root, version="3.2")


def test_season_holding_two_versions_is_refused(fetched, tmp_path):
    root, seasons = fetched
    copy = tmp_path / "real"
    shutil.copytree(root, copy, copy_function=os.link)
    stray = copy / "pace" / seasons[2024].pace[0].name.replace("V3_1", "V3_2")
    os.link(seasons[2024].pace[0], stray)
    with pytest.raises(layout.MixedVersions, match=rf"granules of V3\.1, V3\.2 .*{re.escape(stray.name)}.*record says V3\.1"):
        layout.season_files(2024, copy)
    os.unlink(copy / "pace" / layout.pace_record_path(2024).name)
    with pytest.raises(layout.MixedVersions, match=r"granules of V3\.1, V3\.2"):
        layout.season_files(2024, copy)  # without a record, two versions in the names are refused too
    assert layout.season_files(2025, copy).pace  # the other season is untouched
