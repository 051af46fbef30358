"""Derived-table caches survive damage: a truncated cache file is rebuilt with a warning that names it, and
the temporaries of killed writers are removed on the next start (only when their writer is dead)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from spectm import atomic
from spectm.bands import oci_rrs_centers
from spectm.data import cache
from spectm.data import pixels as pixels_module
from spectm.twin.writers.pace import write_l2_aop
from spectm.data.pixels import build_pixel_table

BBOX = (-83.5, 41.3, -82.45, 42.2)


def write_granule(folder, day: int):
    lat = np.linspace(41.5, 41.8, 3)[:, None] * np.ones((1, 4))
    lon = np.linspace(-83.3, -83.0, 4)[None, :] * np.ones((3, 1))
    rrs = 0.002 + 1e-5 * np.arange(oci_rrs_centers().size)[None, None, :] + 1e-4 * day * np.ones((3, 4, 1))
    flags = np.zeros((3, 4), np.int64)
    return write_l2_aop(folder, rrs, lat, lon, flags, pd.Timestamp(f"2024-07-{day}T18:00"))


@pytest.fixture
def granules(tmp_path):
    folder = tmp_path / "pace"
    folder.mkdir()
    return [write_granule(folder, day) for day in (10, 11)]


def count_builds(monkeypatch) -> dict:
    calls = {"n": 0}
    real = pixels_module._write_table

    def counted(*args):
        calls["n"] += 1
        return real(*args)

    monkeypatch.setattr(pixels_module, "_write_table", counted)
    return calls


def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_truncated_cache_file_is_rebuilt_with_a_warning(granules, tmp_path, monkeypatch):
    builds = count_builds(monkeypatch)
    first = build_pixel_table(granules, BBOX, cache_dir=tmp_path / "cache", progress=False)
    expected, path = first["Rrs"].values, first.attrs["cache_file"]
    del first  # (close() of the derived dataset leaves xarray's handle open; dropping it closes the file)
    gc.collect()
    content = open(path, "rb").read()
    with open(path + ".cut", "wb") as damaged:  # a copy cut short, put in place
        damaged.write(content[: len(content) // 2])
    os.replace(path + ".cut", path)
    with pytest.warns(UserWarning, match=rf"cache file {path} is damaged.*rebuilding"):
        again = build_pixel_table(granules, BBOX, cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(again["Rrs"].values, expected)
    assert builds["n"] == 2 and again.attrs["cache_file"] == path
    again.close()


def test_stale_temporaries_of_dead_writers_are_removed_on_the_next_build(granules, tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    host, dead, alive = atomic.host_name(), dead_pid(), os.getpid()
    names = {"dead": f".tmp-{host}_{dead}-0a1b2c3d-pixels-x.nc",
             "old_format": f".tmp-{dead}-0a1b2c3d-pixels-x.nc",
             "alive": f".tmp-{host}_{alive}-0a1b2c3d-pixels-x.nc",
             "other_host": f".tmp-elsewhere{host}_{dead}-0a1b2c3d-pixels-x.nc"}
    for name in names.values():
        (folder / name).write_bytes(b"half a table")
    table = build_pixel_table(granules, BBOX, cache_dir=folder, progress=False)
    table.close()
    left = {p.name for p in folder.iterdir()}
    assert names["dead"] not in left and names["old_format"] not in left
    assert names["alive"] in left and names["other_host"] in left  # maybe still being written


def test_an_interrupted_write_names_its_temporary_with_host_and_pid(tmp_path):
    seen = {}
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_write(tmp_path / "table.nc") as tmp:
            seen["name"] = tmp.name
            raise KeyboardInterrupt
    match = atomic.TEMPORARY_NAME.match(seen["name"])
    assert match and match["host"] == atomic.host_name() and int(match["pid"]) == os.getpid()


def test_open_or_discard_keeps_good_files_and_drops_damaged_ones(tmp_path):
    path = tmp_path / "table.nc"
    xr.Dataset({"x": ("i", np.arange(1000.0))}).to_netcdf(path)
    assert float(cache.open_or_discard(path, xr.load_dataset)["x"].sum()) == sum(range(1000))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.warns(UserWarning, match=str(path)):
        assert cache.open_or_discard(path, xr.load_dataset) is None
    assert not path.exists()
    assert cache.open_or_discard(path, xr.load_dataset) is None  # missing: nothing to warn about
