"""The pixel table: grid, gap bands, resampling by hand, atomic cache, skipped files."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

from spectm.bands import gap_mask, oci_rrs_centers, wavelength_grid
from spectm.data import pixels as pixels_module
from spectm.atomic import atomic_write
from spectm.data.cache import cache_key
from spectm.data.pace import flag_bits, open_l2_aop
from spectm.data.pixels import build_pixel_table, resample_rrs, skipped_files
from spectm.twin.writers.pace import write_l2_aop

BBOX = (-83.5, 41.3, -82.45, 42.2)
LINES, COLUMNS = 4, 5


def _spectrum_pattern(lines, columns) -> np.ndarray:
    """Distinct, smooth-free values per band and pixel (so a wrong band index shows)."""
    band = np.arange(oci_rrs_centers().size)
    pixel = np.arange(lines * columns).reshape(lines, columns)
    return 0.001 + 1e-5 * ((band[None, None, :] * 7) % 23) + 1e-4 * pixel[..., None]


def _write_granule(path, start="2024-07-10T18:00:00", offset=0.0):
    lat = np.linspace(41.5, 41.8, LINES)[:, None] * np.ones((1, COLUMNS))
    lon = np.linspace(-83.3, -83.0, COLUMNS)[None, :] * np.ones((LINES, 1))
    lon[0, 0] = -84.0  # outside the bbox
    flags = np.zeros((LINES, COLUMNS), np.int64)
    flags[1, 1] = flag_bits("CLDICE")  # an excluded flag
    flags[2, 3] = flag_bits("LAND")
    flags[3, 4] = flag_bits("TURBIDW")  # not excluded: stays valid
    rrs = _spectrum_pattern(LINES, COLUMNS) + offset
    return write_l2_aop(path, rrs, lat, lon, flags, pd.Timestamp(start))


@pytest.fixture
def granules(tmp_path):
    folder = tmp_path / "pace"
    folder.mkdir()
    return [_write_granule(folder, start=f"2024-07-{10 + i}T18:00:00") for i in range(3)]


def test_table_shape_grid_and_gap_nans(granules, tmp_path):
    table = build_pixel_table(granules, BBOX, progress=False)
    per_granule = LINES * COLUMNS - 3  # outside bbox, CLDICE, LAND
    assert table.sizes == {"pixel": 3 * per_granule, "wavelength": 122, "granule": 3}
    np.testing.assert_array_equal(table["wavelength"].values, 415.0 + 2.5 * np.arange(122))
    nan_bands = np.isnan(table["Rrs"].values).all(axis=0)
    np.testing.assert_array_equal(nan_bands, gap_mask(wavelength_grid("paper122")).values)
    assert nan_bands.sum() == 9 and table["wavelength"].values[nan_bands].tolist() == [590 + 2.5 * k for k in range(9)]
    assert not np.isnan(table["Rrs"].values[:, ~nan_bands]).any()
    assert list(table["granule_pixels"].values) == [per_granule] * 3
    assert set(table["granule"].values) == {p.name for p in granules}
    assert table["Rrs"].attrs["units"] == "sr^-1" and table["latitude"].attrs["standard_name"] == "latitude"
    assert table["time"].dtype.kind == "M" and str(table["time"].values[0])[:10] == "2024-07-10"
    inside = (table["longitude"] >= BBOX[0]).all() and (table["longitude"] <= BBOX[2]).all()
    assert bool(inside)


def test_resampling_values_by_hand(granules):
    native = open_l2_aop(granules[0])  # the packed values the file really holds
    table = build_pixel_table(granules[:1], BBOX, progress=False)
    row = int(np.flatnonzero((table["line"].values == 2) & (table["column"].values == 1))[0])
    stored = native["Rrs"].sel(y=2, x=1).values
    centers = oci_rrs_centers()
    wl = table["wavelength"].values
    got = table["Rrs"].values[row]
    # 415.0 nm lies between the native bands 412.557 (index i) and 415.025 (i + 1)
    i = int(np.flatnonzero(np.isclose(centers, 412.557))[0])
    weight = (415.0 - 412.557) / (415.025 - 412.557)
    assert got[wl == 415.0][0] == pytest.approx((1 - weight) * stored[i] + weight * stored[i + 1], abs=1e-7)
    # 702.5 nm between 701.858 and 703.097 (1.25 nm red spacing)
    j = int(np.flatnonzero(np.isclose(centers, 701.858))[0])
    weight = (702.5 - 701.858) / (703.097 - 701.858)
    assert got[wl == 702.5][0] == pytest.approx((1 - weight) * stored[j] + weight * stored[j + 1], abs=1e-7)
    # 612.5 nm: no bracketing pair (588.1 -> 612.7 is the gap), nearest band 612.73 is 0.23 nm away
    k = int(np.flatnonzero(np.isclose(centers, 612.73))[0])
    assert got[wl == 612.5][0] == pytest.approx(stored[k], abs=1e-7)
    assert np.isnan(got[wl == 590.0][0]) and np.isnan(got[wl == 610.0][0])


def test_resample_propagates_a_missing_native_band_locally():
    rrs = np.ones((2, oci_rrs_centers().size), np.float32)
    rrs[0, np.flatnonzero(np.isclose(oci_rrs_centers(), 415.025))] = np.nan
    out = resample_rrs(rrs)
    wl = wavelength_grid("paper122").values
    assert np.isnan(out[0, wl == 415.0]) and np.isnan(out[0, wl == 417.5])
    assert not np.isnan(out[0, wl == 420.0]) and not np.isnan(out[1, ~gap_mask(wl).values]).any()


def test_cache_reused_and_interrupted_write_leaves_no_file(granules, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    real = pixels_module._granule_rows
    calls = {"n": 0}

    def interrupted(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # killed half-way through the second granule
        return real(*args)

    monkeypatch.setattr(pixels_module, "_granule_rows", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_pixel_table(granules, BBOX, cache_dir=cache, progress=False)
    assert list(cache.iterdir()) == []  # neither a final file nor a temporary one
    monkeypatch.setattr(pixels_module, "_granule_rows", real)

    first = build_pixel_table(granules, BBOX, cache_dir=cache, progress=False)
    files = sorted(cache.iterdir())
    assert len(files) == 1 and files[0].name.startswith("pixels-") and files[0].name == os.path.basename(first.attrs["cache_file"])

    def must_not_build(*args):
        raise AssertionError("a matching cache must be reused")

    monkeypatch.setattr(pixels_module, "_write_table", must_not_build)
    again = build_pixel_table(granules, BBOX, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(again["Rrs"].values, first["Rrs"].values)
    first.close()
    again.close()


def test_changed_input_rebuilds(granules, tmp_path):
    cache = tmp_path / "cache"
    before = build_pixel_table(granules, BBOX, cache_dir=cache, progress=False)
    old = before["Rrs"].values.copy()
    before.close()
    stat = os.stat(granules[1])
    _write_granule(granules[1], start="2024-07-11T18:00:00", offset=0.002)  # same name, new values
    os.utime(granules[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    after = build_pixel_table(granules, BBOX, cache_dir=cache, progress=False)
    assert len(list(cache.glob("pixels-*.nc"))) == 2
    changed = after["granule_index"].values == 1
    np.testing.assert_allclose(np.nan_to_num(after["Rrs"].values[changed] - old[changed]), np.where(np.isnan(old[changed]), 0, 0.002), atol=3e-6)
    np.testing.assert_array_equal(after["Rrs"].values[~changed], old[~changed])
    after.close()
    assert cache_key(granules, {"a": 1}) != cache_key(granules, {"a": 2})  # settings are part of the key


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "table.nc"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["table.nc"]
    with atomic_write(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["table.nc"]


def test_corrupt_and_missing_files_are_reported_and_the_rest_kept(granules, tmp_path):
    corrupt = tmp_path / "pace" / "PACE_OCI.20240801T180000.L2.OC_AOP.V3_1.nc"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"not really a granule" * 50)
    truncated = tmp_path / "pace" / "PACE_OCI.20240802T180000.L2.OC_AOP.V3_1.nc"
    truncated.write_bytes(granules[0].read_bytes()[:3000])
    missing = tmp_path / "pace" / "PACE_OCI.20240803T180000.L2.OC_AOP.V3_1.nc"
    paths = [granules[0], corrupt, granules[1], truncated, missing, granules[2]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = build_pixel_table(paths, BBOX, cache_dir=tmp_path / "cache", progress=False)
    assert any("skipped 3 of 6 granules" in str(w.message) for w in caught)
    skipped = skipped_files(table)
    assert [s.path for s in skipped] == [os.fspath(corrupt), os.fspath(truncated), os.fspath(missing)]
    assert all(s.reason for s in skipped)
    assert list(table["granule_name"].values) == [p.name for p in granules]
    assert table.sizes["pixel"] == 3 * (LINES * COLUMNS - 3)
    table.close()
