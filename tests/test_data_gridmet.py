"""gridMET yearly files: writer layout, lake mask, reader on current and pre-2019 layouts, bad input."""

from __future__ import annotations

import netCDF4
import numpy as np
import pandas as pd
import pytest

from spectm.data import gridmet
from spectm.data.errors import DataFormatError
from spectm.twin.writers.gridmet import write_gridmet_year

LAT = 41.3 + (np.arange(5) + 0.5) / 24  # ascending on purpose: the writer must store them descending
LON = -83.5 + (np.arange(6) + 0.5) / 24
LAKE = np.zeros((5, 6), dtype=bool)
LAKE[3:, 2:5] = True  # "open water" cells, indexed like LAT (ascending)


def _write(tmp_path, variable, year, offset=0.0, days=3):
    dates = pd.date_range(f"{year}-07-01", periods=days)
    rng = np.random.default_rng(year)
    data = 285.0 + offset + rng.uniform(0, 15, (days, LAT.size, LON.size))
    return write_gridmet_year(tmp_path, variable, data, LAT, LON, dates, mask=LAKE), data


def test_writer_layout(tmp_path):
    path, _ = _write(tmp_path, "tmmx", 2024)
    assert path.name == "tmmx_2024.nc"
    with netCDF4.Dataset(path) as nc:
        assert nc.data_model == "NETCDF4"
        assert {k: len(v) for k, v in nc.dimensions.items()} == {"lon": 6, "lat": 5, "day": 3, "crs": 1}
        lat, lon = nc["lat"][:], nc["lon"][:]
        assert np.all(np.diff(lat) < 0) and np.all(np.diff(lon) > 0)
        assert nc["lat"].dtype == np.float64 and nc["lat"].axis == "Y" and nc["lon"].units == "degrees_east"
        day = nc["day"]
        assert day.units == "days since 1900-01-01" and day.calendar == "gregorian"
        assert day[0] == 45290 + 182  # 2024-01-01 is day 45290 (spec); 31+29+31+30+31+30 days to July 1
        var = nc["air_temperature"]
        assert var.dimensions == ("day", "lat", "lon") and var.dtype == np.uint16
        assert var._Unsigned == "true" and var._FillValue == 32767 and var.missing_value.dtype == np.int16
        assert var.scale_factor == 0.1 and var.add_offset == 220.0 and var.scale_factor.dtype == np.float64
        assert (var.units, var.long_name, var.standard_name, var.grid_mapping) == ("K", "tmmx", "tmmx", "crs")
        assert var.description == "Daily Maximum Temperature" and var.coordinates == "day"
        assert nc["crs"].grid_mapping_name == "latitude_longitude" and nc["crs"].inverse_flattening == 298.257223563
        assert nc.Conventions == "CF-1.6" and "Mountain Standard Time" in nc.note5
        assert float(nc["crs"].GeoTransform.split()[3]) == pytest.approx(lat[0])
        var.set_auto_maskandscale(False)
        raw = var[:]
    # open water: fill on every day; stored north-to-south, so ascending row 3 and 4 become rows 1 and 0
    lake_rows = raw[:, :2, 2:5]
    assert (lake_rows == 32767).all() and (raw == 32767).sum() == 3 * 6


def test_helpers():
    assert gridmet.day_numbers(["2024-01-01", "2024-12-31", "2025-01-01", "2025-12-31"]).tolist() == [
        45290, 45655, 45656, 46020]  # fmt: skip
    assert gridmet.gridmet_filename("pr", 2025) == "pr_2025.nc"
    with pytest.raises(ValueError, match="unknown gridMET variable"):
        gridmet.gridmet_filename("temp", 2024)


def test_round_trip_two_variables_two_years_and_bbox(tmp_path):
    written = {}
    for variable, offset in (("tmmx", 5.0), ("tmmn", -5.0)):
        for year in (2024, 2025):
            _, data = _write(tmp_path, variable, year, offset)
            written[variable, year] = data
    (tmp_path / "notes.txt").write_text("not a gridMET file")
    ds = gridmet.open_gridmet(tmp_path)
    assert set(ds.data_vars) == {"tmmx", "tmmn"} and ds["tmmx"].dims == ("time", "lat", "lon")
    assert ds.sizes["time"] == 6 and str(ds["time"].values[3])[:10] == "2025-07-01"
    assert ds["tmmx"].attrs["units"] == "K" and ds["tmmx"].attrs["standard_name"] == "air_temperature"
    expected = np.concatenate([written["tmmx", 2024], written["tmmx", 2025]])[:, ::-1, :]
    expected = np.where(LAKE[::-1][None], np.nan, expected)
    got = ds["tmmx"].values
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.nanmax(np.abs(got - expected)) <= 0.05 + 1e-9
    box = gridmet.open_gridmet(tmp_path, variables="tmmn", bbox=(-83.45, 41.32, -83.35, 41.45))
    assert list(box.data_vars) == ["tmmn"]
    assert box["lat"].values.tolist() == pytest.approx([41.4458333, 41.4041667, 41.3625, 41.3208333])  # descending
    assert box["lon"].values.tolist() == pytest.approx([-83.4375, -83.3958333, -83.3541667])


def test_hand_built_current_and_old_layouts(tmp_path):
    current = tmp_path / "pr_2024.nc"
    with netCDF4.Dataset(current, "w") as nc:
        for name, size in (("lon", 2), ("lat", 2), ("day", 1)):
            nc.createDimension(name, size)
        nc.createVariable("lon", "f8", ("lon",))[:] = [-83.4, -83.3583]
        nc.createVariable("lat", "f8", ("lat",))[:] = [41.8, 41.7583]
        day = nc.createVariable("day", "f8", ("day",))
        day.units = "days since 1900-01-01"
        day[:] = [45290]
        var = nc.createVariable("precipitation_amount", "u2", ("day", "lat", "lon"), fill_value=np.uint16(32767))
        var.set_auto_maskandscale(False)
        var.setncatts({"_Unsigned": "true", "scale_factor": 0.1, "add_offset": 0.0})
        var[:] = np.array([[[125, 32767], [0, 7]]], dtype=np.uint16)
    old = tmp_path / "vs_2017.nc"  # pre-2019: float32 (day, lon, lat), fill -32767
    with netCDF4.Dataset(old, "w") as nc:
        for name, size in (("lon", 2), ("lat", 3), ("day", 1)):
            nc.createDimension(name, size)
        nc.createVariable("lon", "f8", ("lon",))[:] = [-83.4, -83.3583]
        nc.createVariable("lat", "f8", ("lat",))[:] = [41.8, 41.7583, 41.7167]
        day = nc.createVariable("day", "f4", ("day",))
        day.units = "days since 1900-01-01 00:00:00"
        day[:] = [42734]  # 2017-01-01: 117 * 365 + 29 leap days
        var = nc.createVariable("wind_speed", "f4", ("day", "lon", "lat"), fill_value=np.float32(-32767))
        var[:] = np.array([[[1.0, 2.0, 3.0], [4.0, -32767.0, 6.0]]], dtype=np.float32)
    ds = gridmet.open_gridmet([current])
    np.testing.assert_allclose(ds["pr"].sel(time="2024-01-01").values, [[12.5, np.nan], [0.0, 0.7]])
    vs = gridmet.open_gridmet(old)["vs"].sel(time="2017-01-01")
    assert vs.dims == ("lat", "lon")
    np.testing.assert_allclose(vs.values, [[1.0, 4.0], [2.0, np.nan], [3.0, 6.0]])
    with pytest.raises(DataFormatError) as info:  # different grids are never silently aligned
        gridmet.open_gridmet([current, old])
    assert str(old) in str(info.value) and info.value.field == "lat/lon"


def test_bad_files(tmp_path):
    good, _ = _write(tmp_path, "tmmx", 2024)
    truncated = tmp_path / "tmmn_2024.nc"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    html = tmp_path / "vs_2024.nc"
    html.write_text("<html>502 Bad Gateway</html>")
    for broken in (truncated, html):
        with pytest.raises(DataFormatError) as info:
            gridmet.open_gridmet_file(broken)
        assert str(broken) in str(info.value) and info.value.field == "file"
    empty = tmp_path / "pr_2023.nc"
    with netCDF4.Dataset(empty, "w") as nc:
        nc.createDimension("day", 1)
        nc.createVariable("day", "f8", ("day",))[:] = [0]
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet_file(empty)
    assert str(empty) in str(info.value) and "'data variable'" in str(info.value)


def test_missing_variable(tmp_path):
    with pytest.raises(FileNotFoundError, match="no gridMET files for srad"):
        gridmet.open_gridmet(tmp_path, variables=["srad"])  # an empty directory
