"""The 52 weather features: names, hand values, nearest land cell, no leakage from the future."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from spectm.data.gridmet import open_gridmet
from spectm.data.weather import REQUIRED_VARIABLES, WEATHER_FEATURES, reference_days, weather_features, weather_sources
from spectm.twin.writers.gridmet import write_gridmet_year

DAYS = pd.date_range("2024-03-01", "2024-08-31", freq="D")
LAT = np.array([41.80, 41.75, 41.70])
LON = np.array([-83.30, -83.25, -83.20])


def _gridmet(seed=0) -> xr.Dataset:
    """Random daily fields; the middle column is lake (NaN), as gridMET masks open water."""
    rng = np.random.default_rng(seed)
    shape = (DAYS.size, LAT.size, LON.size)
    base = {"tmmx": (295.0, 5.0), "tmmn": (285.0, 5.0), "srad": (250.0, 60.0), "vs": (4.0, 2.0), "th": (180.0, 90.0),
            "pr": (2.0, 4.0), "sph": (0.01, 0.002), "vpd": (1.0, 0.3), "rmax": (90.0, 5.0), "rmin": (45.0, 8.0)}  # fmt: skip
    data = {}
    for name, (mean, sd) in base.items():
        values = np.abs(mean + sd * rng.standard_normal(shape)) if name in ("vs", "pr", "vpd", "sph") else mean + sd * rng.standard_normal(shape)
        values = values % 360.0 if name == "th" else values
        values[:, :, 1] = np.nan
        data[name] = (("time", "lat", "lon"), values)
    return xr.Dataset(data, coords={"time": DAYS, "lat": LAT, "lon": LON})


def test_exactly_52_documented_features():
    assert len(WEATHER_FEATURES) == 52 and len(set(WEATHER_FEATURES)) == 52
    assert all(isinstance(d, str) and len(d) > 15 for d in WEATHER_FEATURES.values())
    table = weather_features(_gridmet(), [pd.Timestamp("2024-07-15T14:00")], [41.75], [-83.30])
    assert list(table.columns) == list(WEATHER_FEATURES) and table.shape == (1, 52)
    assert np.isfinite(table.to_numpy()).all()


def test_reference_day_is_the_gridmet_day_containing_the_time():
    times = pd.to_datetime(["2024-07-15T06:59", "2024-07-15T07:00", "2024-07-15T23:00"])
    np.testing.assert_array_equal(reference_days(times), np.array(["2024-07-14", "2024-07-15", "2024-07-15"], "datetime64[D]"))
    np.testing.assert_array_equal(reference_days(times, include_day=False)[1], np.datetime64("2024-07-14"))


def test_hand_values_at_the_nearest_land_cell():
    ds = _gridmet()
    time, lat, lon = pd.Timestamp("2024-07-15T14:00"), 41.70, -83.2010  # near a land cell (col 2)
    row = weather_features(ds, [time], [lat], [lon]).iloc[0]
    cell = ds.sel(lat=41.70, lon=-83.20)
    window7 = cell.sel(time=slice("2024-07-09", "2024-07-15"))
    tmean7 = float(((window7["tmmx"] + window7["tmmn"]) / 2 - 273.15).mean())
    assert row["tmean_7d"] == pytest.approx(tmean7)
    assert row["pr_14d"] == pytest.approx(float(cell["pr"].sel(time=slice("2024-07-02", "2024-07-15")).sum()))
    assert row["pr_lag7_7d"] == pytest.approx(float(cell["pr"].sel(time=slice("2024-07-02", "2024-07-08")).sum()))
    assert row["vs_max_7d"] == pytest.approx(float(window7["vs"].max()))
    assert row["wind_from_cos_1d"] == pytest.approx(np.cos(np.deg2rad(float(cell["th"].sel(time="2024-07-15")))))
    spring = cell["pr"].sel(time=slice("2024-03-01", "2024-06-30")).sum()
    assert row["pr_spring"] == pytest.approx(float(spring))
    tmean = (cell["tmmx"] + cell["tmmn"]) / 2 - 273.15
    gdd = np.maximum(tmean.sel(time=slice("2024-04-01", "2024-07-15")) - 10, 0).sum()
    assert row["gdd10_season"] == pytest.approx(float(gdd))
    heavy = np.flatnonzero(cell["pr"].sel(time=slice(None, "2024-07-15")).values[::-1] >= 10.0)
    assert row["days_since_rain_10mm"] == min(heavy[0] if heavy.size else 60, 60)
    source = weather_sources(ds, [time], [lat], [lon]).iloc[0]
    assert source["gridmet_lon"] == -83.20 and source["gridmet_distance_km"] < 0.1


def test_lake_point_takes_the_nearest_valid_cell():
    ds = _gridmet()
    # on the masked lake column, a bit east of centre: the east land column is nearest
    source = weather_sources(ds, [pd.Timestamp("2024-07-15T14:00")], [41.75], [-83.24]).iloc[0]
    assert source["gridmet_lon"] == -83.20 and source["gridmet_lat"] == 41.75


@pytest.mark.parametrize("include_day", [True, False])
def test_no_leakage_from_days_after_the_reference_day(include_day):
    ds = _gridmet()
    time = pd.Timestamp("2024-07-15T14:00")  # gridMET day 2024-07-15
    last = np.datetime64("2024-07-15") if include_day else np.datetime64("2024-07-14")
    points = ([time, time], [41.80, 41.70], [-83.30, -83.20])
    before = weather_features(ds, *points, include_day=include_day)
    future = ds.copy(deep=True)
    after_last = future["time"].values > last
    for name in REQUIRED_VARIABLES:
        future[name].values[after_last] = future[name].values[after_last] * 3.0 + 50.0
    pd.testing.assert_frame_equal(weather_features(future, *points, include_day=include_day), before)
    changed = ds.copy(deep=True)  # the last allowed day itself does matter (the test can fail)
    on_last = changed["time"].values == last
    for name in REQUIRED_VARIABLES:
        changed[name].values[on_last] = changed[name].values[on_last] + 1.0
    assert not weather_features(changed, *points, include_day=include_day).equals(before)


def test_eight_day_task_uses_only_days_up_to_the_imagery():
    ds = _gridmet()
    imagery, sample = pd.Timestamp("2024-07-07T18:00"), pd.Timestamp("2024-07-15T14:00")
    features = weather_features(ds, [imagery], [41.80], [-83.30])
    altered = ds.copy(deep=True)
    window = (altered["time"].values > np.datetime64("2024-07-07")) & (altered["time"].values <= np.datetime64(sample.date()))
    for name in REQUIRED_VARIABLES:
        altered[name].values[window] = 0.0 if name != "tmmx" else 400.0
    pd.testing.assert_frame_equal(weather_features(altered, [imagery], [41.80], [-83.30]), features)


def test_too_short_a_record_is_an_error():
    with pytest.raises(ValueError, match="gridMET covers"):
        weather_features(_gridmet(), [pd.Timestamp("2024-03-20T14:00")], [41.8], [-83.3])


def test_from_gridmet_files(tmp_path):
    ds = _gridmet(seed=5)
    mask = np.zeros((LAT.size, LON.size), bool)
    mask[:, 1] = True
    for name in REQUIRED_VARIABLES:
        values = ds[name].values.copy()
        values = np.round(values, 1) if name not in ("sph", "vpd") else values
        write_gridmet_year(tmp_path, name, np.nan_to_num(values, nan=0.0), LAT, LON, DAYS, mask=mask)
    opened = open_gridmet(tmp_path)
    table = weather_features(opened, [pd.Timestamp("2024-08-01T15:00")], [41.75], [-83.31])
    assert table.shape == (1, 52) and np.isfinite(table.to_numpy()).all()
    assert weather_sources(opened, [pd.Timestamp("2024-08-01T15:00")], [41.75], [-83.31])["gridmet_lon"].iloc[0] == pytest.approx(-83.30)
