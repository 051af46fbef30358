"""PACE L2 AOP reader against plausible-but-wrong files: each is written by the project's writer, then tampered.

Every case was silently read (or crashed with a raw HDF5 error) before the reader checked it; each must
now raise one DataFormatError naming the file, the field and what was expected.
"""

from __future__ import annotations

import warnings

import netCDF4
import numpy as np
import pandas as pd
import pytest

from spectm.data import pace
from spectm.data.errors import DataFormatError
from spectm.twin.writers.pace import write_l2_aop
from tests.formats import build_minimal_l2

LINES, PIXELS, BANDS = 6, 7, 172
START = pd.Timestamp("2024-07-15T16:30:00")


def _granule(tmp_path, name="g.nc", lines=LINES, pixels=PIXELS, seed=0):
    rng = np.random.default_rng(seed)
    lat = 41.5 + np.linspace(0.0, 0.5, lines)[:, None] + np.zeros((1, pixels))
    lon = -83.4 + np.linspace(0.0, 0.9, pixels)[None, :] + np.zeros((lines, 1))
    rrs = rng.uniform(0.001, 0.025, (lines, pixels, BANDS))
    return write_l2_aop(tmp_path / name, rrs, lat, lon, np.zeros((lines, pixels)), START)


def _tamper(path, edit):
    with netCDF4.Dataset(path, "a") as nc:
        edit(nc)
    return path


def _error(path, field) -> DataFormatError:
    with pytest.raises(DataFormatError) as info:
        pace.open_l2_aop(path)
    assert info.value.file == str(path) and info.value.field == field
    assert str(path) in str(info.value) and field in str(info.value)
    return info.value


# ------------------------------------------------------------------------------------------ navigation


def _set_nav(name, row, col, value):
    def edit(nc):
        var = nc["navigation_data"][name]
        var.set_auto_maskandscale(False)
        data = var[:]
        data[row, col] = value
        var[:] = data

    return edit


@pytest.mark.parametrize(("name", "value"), [("latitude", 95.0), ("latitude", -120.0), ("longitude", 200.0), ("longitude", -181.0)])
def test_navigation_out_of_range(tmp_path, name, value):
    path = _tamper(_granule(tmp_path), _set_nav(name, 2, 3, value))
    error = _error(path, f"navigation_data/{name}")
    assert f"{value:g}" in str(error) and ("90" in error.expected or "180" in error.expected)


def test_navigation_all_fill(tmp_path):
    path = _tamper(_granule(tmp_path), _set_nav("latitude", slice(None), slice(None), pace.NAV_FILL))
    assert "fill" in _error(path, "navigation_data/latitude").expected


# ------------------------------------------------------------------------------------------ Rrs units and scaling


def _set_rrs_attrs(**attrs):
    def edit(nc):
        var = nc["geophysical_data"]["Rrs"]
        for key, value in attrs.items():
            if value is None:
                var.delncattr(key)
            else:
                var.setncattr(key, value)

    return edit


@pytest.mark.parametrize("units", ["1", "W m-2 um-1 sr-1", "mW cm^-2 um^-1 sr^-1", None])
def test_rrs_units_that_are_not_per_steradian(tmp_path, units):
    path = _tamper(_granule(tmp_path), _set_rrs_attrs(units=units))
    error = _error(path, "geophysical_data/Rrs units")
    assert "sr^-1" in error.expected


@pytest.mark.parametrize("units", ["sr^-1", "sr-1", "1/sr"])
def test_rrs_units_spellings_accepted(tmp_path, units):
    path = _tamper(_granule(tmp_path), _set_rrs_attrs(units=units))
    assert pace.open_l2_aop(path)["Rrs"].attrs["units"] == units


def test_reflectance_rho_file_is_not_rrs(tmp_path):
    """rho_w = pi * Rrs (dimensionless), stored in the Rrs slot by a converter: its names give it away."""
    path = _granule(tmp_path)
    _tamper(path, _set_rrs_attrs(long_name="Water-leaving reflectance", standard_name=None, units="sr^-1"))
    _error(path, "geophysical_data/Rrs long_name")
    _tamper(path, _set_rrs_attrs(long_name="Remote sensing reflectance",
                                 standard_name="surface_bidirectional_reflectance"))  # fmt: skip
    _error(path, "geophysical_data/Rrs standard_name")


def test_scale_factor_that_breaks_the_valid_range(tmp_path):
    path = _tamper(_granule(tmp_path), _set_rrs_attrs(scale_factor=np.float32(2e-5)))
    error = _error(path, "geophysical_data/Rrs scale_factor/add_offset")
    assert "0.1" in error.expected and "0.55" in str(error)


@pytest.mark.parametrize(("attrs", "shown"), [
    ({"add_offset": np.float32(0.15), "valid_max": None}, "median 0.1"),  # typical water Rrs > 0.1
    ({"scale_factor": np.float32(2e-5), "valid_max": None}, "median -0."),  # ten times the packing step
])  # fmt: skip
def test_scaling_that_makes_values_implausible(tmp_path, attrs, shown):
    path = _tamper(_granule(tmp_path), _set_rrs_attrs(**attrs))
    error = _error(path, "geophysical_data/Rrs")
    assert "water Rrs in sr^-1" in error.expected and shown in str(error)


def test_turbid_but_real_water_passes(tmp_path):
    rng = np.random.default_rng(3)
    lat, lon = np.full((2, 3), 41.7), np.full((2, 3), -83.2)
    rrs = rng.uniform(0.01, 0.05, (2, 3, BANDS))  # brighter than any Lake Erie median
    path = write_l2_aop(tmp_path / "turbid.nc", rrs, lat, lon, np.zeros((2, 3)), START)
    assert np.nanmedian(pace.open_l2_aop(path)["Rrs"].values) > 0.025


# ------------------------------------------------------------------------------------------ scan times


def _scan_values(name, value, rows=slice(None)):
    def edit(nc):
        var = nc["scan_line_attributes"][name]
        data = var[:]
        data[rows] = value
        var[:] = data

    return edit


def test_scan_times_all_fill(tmp_path):
    path = _granule(tmp_path)
    for name, value in (("time", np.nan), ("year", -32767), ("day", -32767), ("msec", -32767)):
        _tamper(path, _scan_values(name, value))
    assert "only fill" in str(_error(path, "scan_line_attributes/time"))


def test_scan_times_absent(tmp_path):
    """A file with no scan_line_attributes (netCDF-4 cannot delete variables, so build one without)."""
    path = tmp_path / "no_scan_lines.nc"
    coords = np.full((2, 3), 41.7, np.float32), np.full((2, 3), -83.2, np.float32)
    build_minimal_l2(path, np.full((2, 3, BANDS), -22500, np.int16), *coords, np.zeros((2, 3)))
    error = _error(path, "scan_line_attributes/time")
    assert "missing" in str(error) and "seconds since 1970-01-01" in error.expected


def test_scan_time_fill_falls_back_to_year_day_msec(tmp_path):
    path = _granule(tmp_path)
    expected = pace.open_l2_aop(path)["time"].values
    _tamper(path, _scan_values("time", 9.969209968386869e36))  # netCDF default double fill
    got = pace.open_l2_aop(path)["time"].values
    assert np.abs(got - expected).max() <= np.timedelta64(1, "ms")


def test_partly_missing_scan_times_make_those_lines_invalid(tmp_path):
    path = _tamper(_granule(tmp_path), _scan_values("time", -999.0, rows=slice(0, 2)))
    ds = pace.open_l2_aop(path)
    assert np.isnat(ds["time"].values[:2]).all() and not np.isnat(ds["time"].values[2:]).any()
    assert not ds["valid"].values[:2].any() and ds["valid"].values[2:].all()


# ------------------------------------------------------------------------------------------ corrupted chunk


def _corrupt_middle(path, size=4096):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = b"\xa5" * size
    path.write_bytes(bytes(data))


def test_corrupted_rrs_chunk(tmp_path):
    path = _granule(tmp_path, "corrupt.nc", lines=64, pixels=64)  # Rrs noise is most of the file
    good = _granule(tmp_path, "good.nc")
    _corrupt_middle(path)
    with netCDF4.Dataset(path) as nc, pytest.raises((RuntimeError, OSError)):
        nc["geophysical_data"]["Rrs"][:]  # the tampering did hit Rrs's compressed data
    error = _error(path, "geophysical_data/Rrs")
    assert "decodes" in error.expected
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        datasets, skipped = pace.open_l2_aop_many([good, path])
    assert len(datasets) == 1 and [s.path for s in skipped] == [str(path)]
    assert "geophysical_data/Rrs" in skipped[0].reason and "decodes" in skipped[0].reason
    assert "skipped 1 of 2" in str(caught[-1].message) and str(path) in str(caught[-1].message)


def test_damage_anywhere_is_an_error_or_harmless(tmp_path):
    """256 random bytes at 40 places across a granule: each read fails cleanly or returns the same values.

    Before, 101 of 120 such files crashed with a raw ``RuntimeError: NetCDF: HDF error``.
    """
    source = _granule(tmp_path, "source.nc", lines=24, pixels=24)
    reference = pace.open_l2_aop(source).drop_attrs()
    data = source.read_bytes()
    rng = np.random.default_rng(7)
    outcomes = {"error": 0, "same": 0}
    for fraction in np.linspace(0.005, 0.995, 40):
        damaged = bytearray(data)
        at = int(len(data) * fraction)
        damaged[at : at + 256] = rng.integers(0, 256, 256, dtype=np.uint8).tobytes()
        path = tmp_path / "damaged.nc"
        path.write_bytes(bytes(damaged))
        try:
            values = pace.open_l2_aop(path).drop_attrs()
        except DataFormatError as error:
            assert error.file == str(path)
            outcomes["error"] += 1
            continue
        assert values.equals(reference), f"damage at byte {at} changed the values silently"
        outcomes["same"] += 1
    assert outcomes["error"] > 20  # most of the file is Rrs: most damage must be noticed
