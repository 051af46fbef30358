"""gridMET reader against plausible-but-wrong files: written by the project's writer, then tampered.

Before the reader checked units it overwrote them with its own, so a file in degC was read as K
(``tmean_1d`` about -250 degC) with no error; skipped and empty days passed silently too.
"""

from __future__ import annotations

import netCDF4
import numpy as np
import pandas as pd
import pytest

from spectm.data import gridmet
from spectm.data.errors import DataFormatError
from spectm.twin.writers.gridmet import write_gridmet_year

LAT = 41.3 + (np.arange(3) + 0.5) / 24
LON = -83.5 + (np.arange(4) + 0.5) / 24


def _write(folder, variable, dates, values=None, seed=0):
    dates = pd.DatetimeIndex(dates)
    rng = np.random.default_rng(seed)
    low, high = {"tmmx": (285.0, 305.0), "pr": (0.0, 30.0)}[variable]
    data = rng.uniform(low, high, (dates.size, LAT.size, LON.size)) if values is None else values
    return write_gridmet_year(folder, variable, data, LAT, LON, dates)


def _attrs(path, name, **attrs):
    with netCDF4.Dataset(path, "a") as nc:
        nc[name].setncatts(attrs)
    return path


JULY = pd.date_range("2024-07-01", periods=4)


@pytest.mark.parametrize(("units", "scale", "offset"), [
    ("degC", 0.1, 220.0 - 273.15),
    ("\u00b0C", 0.1, 220.0 - 273.15),
    ("degF", 0.18, (220.0 - 273.15) * 1.8 + 32.0),
    ("kelvin", 0.1, 220.0),
])  # fmt: skip
def test_temperature_in_other_units_is_converted_to_kelvin(tmp_path, units, scale, offset):
    path = _write(tmp_path, "tmmx", JULY)
    expected = gridmet.open_gridmet_file(path).values
    _attrs(path, "air_temperature", units=units, scale_factor=scale, add_offset=offset)
    got = gridmet.open_gridmet_file(path)
    np.testing.assert_allclose(got.values, expected, atol=1e-6)
    assert got.attrs["units"] == "K" and got.attrs["units_in_file"] == units


@pytest.mark.parametrize("units", ["in", "inches"])
def test_precipitation_in_inches_is_converted_to_mm(tmp_path, units):
    path = _write(tmp_path, "pr", JULY)
    expected = gridmet.open_gridmet_file(path).values
    _attrs(path, "precipitation_amount", units=units, scale_factor=0.1 / 25.4)
    got = gridmet.open_gridmet(tmp_path)["pr"]
    np.testing.assert_allclose(got.values, expected, rtol=1e-9, atol=1e-9)
    assert got.attrs["units"] == "mm"


def test_unknown_units_are_an_error(tmp_path):
    path = _attrs(_write(tmp_path, "tmmx", JULY), "air_temperature", units="furlongs")
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet(tmp_path)
    error = info.value
    assert error.file == str(path) and error.field == "tmmx (air_temperature) units"
    assert error.expected.startswith("K or a convertible spelling") and "'furlongs'" in str(error)


def test_values_that_contradict_their_units_are_an_error(tmp_path):
    """Labelled K, packed as degC: the -116 degC of the issue."""
    path = _attrs(_write(tmp_path, "tmmx", JULY), "air_temperature", add_offset=220.0 - 273.15)
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet_file(path)
    assert info.value.field == "tmmx (air_temperature)" and "180..340 K" in info.value.expected
    assert "on 2024-07-01" in str(info.value) and str(path) in str(info.value)


def test_skipped_day_in_a_file(tmp_path):
    dates = pd.DatetimeIndex(["2024-07-01", "2024-07-02", "2024-07-04"])
    path = _write(tmp_path, "tmmx", dates)
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet_file(path)
    assert info.value.field == "tmmx day" and "missing 2024-07-03" in info.value.expected
    assert str(path) in str(info.value)


def test_day_with_no_data(tmp_path):
    values = np.random.default_rng(1).uniform(285, 300, (JULY.size, LAT.size, LON.size))
    values[2] = np.nan
    path = _write(tmp_path, "tmmx", JULY, values)
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet_file(path)
    assert info.value.field == "tmmx (air_temperature)" and "only fill on 2024-07-03" in str(info.value)


def test_lake_only_bbox_is_not_a_missing_day(tmp_path):
    values = np.random.default_rng(2).uniform(285, 300, (JULY.size, LAT.size, LON.size))
    mask = np.zeros((LAT.size, LON.size), bool)
    mask[:, 0] = True  # one column of open water, on every day
    path = write_gridmet_year(tmp_path, "tmmx", values, LAT, LON, JULY, mask=mask)
    lake = gridmet.open_gridmet_file(path, bbox=(LON[0] - 0.01, LAT[0] - 0.01, LON[0] + 0.01, LAT[-1] + 0.01))
    assert lake.sizes["lon"] == 1 and np.isnan(lake.values).all()


def test_variable_missing_a_day_the_others_have(tmp_path):
    _write(tmp_path, "tmmx", JULY)
    pr = _write(tmp_path, "pr", JULY[:3])
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet(tmp_path)
    assert info.value.file == str(pr) and info.value.field == "pr day" and "first 2024-07-04" in str(info.value)


def test_same_day_twice(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _write(tmp_path / "a", "tmmx", JULY)
    _write(tmp_path / "b", "tmmx", JULY)
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet([tmp_path / "a", tmp_path / "b"])
    assert info.value.field == "tmmx day" and "2024-07-01 twice" in str(info.value)


def _coordinate(path, name, values):
    with netCDF4.Dataset(path, "a") as nc:
        nc[name][:] = values
    return path


@pytest.mark.parametrize(("axis", "shift"), [("lon", 360.0), ("lon", -2 * (-83.45)), ("lat", -90.0)])
def test_grid_outside_conus_is_an_error(tmp_path, axis, shift):
    """Longitudes in 0..360, a lost sign (+83), a latitude in the south: the bbox would silently select nothing."""
    path = _write(tmp_path, "tmmx", JULY)
    with netCDF4.Dataset(path) as nc:
        values = nc[axis][:] + shift
    _coordinate(path, axis, values)
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet_file(path, bbox=(-83.5, 41.3, -83.3, 41.5))
    assert info.value.field == axis and "CONUS" in info.value.expected and str(path) in str(info.value)


def test_uneven_grid_is_an_error(tmp_path):
    path = _write(tmp_path, "tmmx", JULY)
    _coordinate(path, "lon", LON + np.array([0.0, 0.0, 0.02, 0.0]))
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet_file(path)
    assert info.value.field == "lon" and "evenly spaced" in info.value.expected


def test_day_value_that_is_not_a_date(tmp_path):
    path = _write(tmp_path, "tmmx", JULY)
    _coordinate(path, "day", [45473.0, 1e30, 45475.0, 45476.0])
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet_file(path)
    assert info.value.field == "file" and str(path) in str(info.value)


def test_damage_anywhere_is_an_error_or_harmless(tmp_path):
    """256 random bytes at 40 places: each read fails cleanly or returns the same values (before: 49 of
    120 crashed with ``RuntimeError: NetCDF: HDF error`` and 2 with ``OverflowError``)."""
    dates = pd.date_range("2024-07-01", periods=30)
    rng = np.random.default_rng(4)
    lat, lon = 41.3 + np.arange(20) / 24, -83.5 + np.arange(30) / 24
    source = write_gridmet_year(tmp_path / "tmmx_2024.nc", "tmmx", rng.uniform(285, 300, (30, 20, 30)), lat, lon, dates)
    reference = gridmet.open_gridmet_file(source).drop_attrs()
    data = source.read_bytes()
    errors = 0
    for fraction in np.linspace(0.005, 0.995, 40):
        damaged = bytearray(data)
        at = int(len(data) * fraction)
        damaged[at : at + 256] = rng.integers(0, 256, 256, dtype=np.uint8).tobytes()
        path = tmp_path / "damaged" / "tmmx_2024.nc"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(bytes(damaged))
        try:
            values = gridmet.open_gridmet_file(path).drop_attrs()
        except DataFormatError as error:
            assert error.file == str(path)
            errors += 1
            continue
        assert values.equals(reference), f"damage at byte {at} changed the values silently"
    assert errors > 10
