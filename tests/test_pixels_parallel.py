"""The pixel table built with dask (threads, processes, a client) is the serial table, byte for byte."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from spectm.data import pixels as pixels_module
from spectm.data import stream
from spectm.data.pixels import build_pixel_table
from tests.test_stream import BBOX, write_granule

LINES, PIXELS = 100, 70


@pytest.fixture(scope="module")
def granules(tmp_path_factory):
    """Five granules of different days and lake positions, one outside the bbox, one not netCDF."""
    folder = tmp_path_factory.mktemp("pace")
    paths = []
    for day, center in enumerate([(50, 35), (45, 30), (55, 40), (50, 33)]):
        start = pd.Timestamp("2024-07-10T17:00") + pd.Timedelta(days=day)
        paths.append(write_granule(folder, "3.2" if day % 2 else "3.1", LINES, PIXELS, center, start, seed=day))
    far = write_granule(folder / "far", "3.1", LINES, PIXELS, (500, 35), pd.Timestamp("2024-07-20T17:00"))
    broken = folder / "PACE_OCI.20240721T170000.L2.OC_AOP.V3_1.nc"
    broken.write_bytes(b"not a netCDF file")
    return paths[:2] + [far, broken] + paths[2:]


def _assert_same_table(a: xr.Dataset, b: xr.Dataset) -> None:
    """Identical datasets (but for where their cache files live) and identical raw array bytes."""
    drop = {"cache_file"}
    a, b = a.copy(), b.copy()
    a.attrs = {k: v for k, v in a.attrs.items() if k not in drop}
    b.attrs = {k: v for k, v in b.attrs.items() if k not in drop}
    xr.testing.assert_identical(a, b)
    for name in a.variables:
        if a[name].dtype.kind != "O":  # object arrays (granule names) hold pointers; compared above
            assert a[name].values.tobytes() == b[name].values.tobytes(), name


def _serial(granules, folder):
    with pytest.warns(UserWarning, match="skipped 1 of 6"):
        return build_pixel_table(granules, BBOX, cache_dir=folder, progress=False)


@pytest.mark.parametrize("scheduler", ["threads", "processes", "synchronous"])
def test_dask_table_equals_serial_table_byte_for_byte(granules, tmp_path, scheduler):
    serial = _serial(granules, tmp_path / "serial")
    with pytest.warns(UserWarning, match="skipped 1 of 6"):
        parallel = build_pixel_table(granules, BBOX, cache_dir=tmp_path / scheduler, progress=False,
                                     scheduler=scheduler, num_workers=2, batch_size=2)  # fmt: skip
    assert serial.sizes["pixel"] > 4 * 200 and list(serial["granule_pixels"].values)[2] == 0
    _assert_same_table(serial.load(), parallel.load())
    serial_file, parallel_file = serial.attrs["cache_file"], parallel.attrs["cache_file"]
    assert serial_file.rsplit("/", 1)[-1] == parallel_file.rsplit("/", 1)[-1]  # same key
    with open(serial_file, "rb") as a, open(parallel_file, "rb") as b:
        assert a.read() == b.read()


def test_granules_stay_in_input_order_and_batches_bound_memory(granules, tmp_path, monkeypatch):
    calls = []
    real_compute = dask.compute

    def counting_compute(*tasks, **options):
        calls.append(len(tasks))
        return real_compute(*tasks, **options)

    monkeypatch.setattr(dask, "compute", counting_compute)
    with pytest.warns(UserWarning, match="skipped"):
        table = build_pixel_table(granules, BBOX, progress=False, scheduler="threads", batch_size=2)
    assert calls == [2, 2, 2]  # six granules, never more than two results held
    readable = [p.name for p in granules if "far" in str(p.parent) or p.stat().st_size > 100]
    assert list(table["granule_name"].values) == readable


def test_a_distributed_style_client_is_used(granules, tmp_path):
    class FakeClient:
        """Stands in for dask.distributed.Client (not installed): dask.compute calls its ``get``."""

        asynchronous = False

        def __init__(self):
            self.graphs = 0

        def get(self, dsk, keys, **kwargs):
            self.graphs += 1
            return dask.local.get_sync(dsk, keys)

    client = FakeClient()
    with pytest.warns(UserWarning, match="skipped"):
        table = build_pixel_table(granules, BBOX, progress=False, scheduler=client, batch_size=3)
    assert client.graphs == 2
    with pytest.warns(UserWarning, match="skipped"):
        _assert_same_table(table, build_pixel_table(granules, BBOX, progress=False))


def test_progress_bar_counts_granules(granules, capsys):
    with pytest.warns(UserWarning, match="skipped"):
        build_pixel_table(granules, BBOX, progress=True, scheduler="threads", batch_size=4)
    err = capsys.readouterr().err
    assert "pixel table" in err and "6/6" in err


@pytest.mark.parametrize("scheduler", ["gpu", {}, 3])
def test_unknown_scheduler_is_refused(granules, scheduler):
    with pytest.raises(ValueError, match="scheduler"):
        build_pixel_table(granules, BBOX, progress=False, scheduler=scheduler)


def test_table_of_streamed_subsets_equals_table_of_whole_granules(granules, tmp_path):
    """Lines and columns of a subset are offset back to the source granule, so nothing changes."""
    readable = [p for p in granules if p.stat().st_size > 100]
    results = [stream.subset_granule(p, BBOX, tmp_path / "subsets") for p in readable]
    assert [r.path is None for r in results] == [False, False, True, False, False]
    whole = build_pixel_table([p for p, r in zip(readable, results) if r.path], BBOX, progress=False)
    subset = build_pixel_table([r.path for r in results if r.path], BBOX, progress=False)
    assert subset.sizes == whole.sizes
    assert int(subset["line"].max()) > LINES // 3  # offsets really were added back
    for name in ("Rrs", "time", "latitude", "longitude", "line", "column", "granule_name", "granule_pixels",
                 "granule_swath_pixels"):  # fmt: skip
        np.testing.assert_array_equal(subset[name].values, whole[name].values, err_msg=name)


def test_reading_is_serialised_by_a_lock():
    assert pixels_module._READ_LOCK.acquire(blocking=False)
    pixels_module._READ_LOCK.release()


@pytest.mark.parametrize("option", [{"batch_size": 0}, {"batch_size": -2}, {"num_workers": 0}, {"batch_size": 2.5}])
def test_nonsense_batch_or_worker_count_is_refused(granules, option):
    with pytest.raises(ValueError, match="positive integer"):
        build_pixel_table(granules, BBOX, progress=False, scheduler="threads", **option)
