"""The 52 weather features of a sample: gridMET history at the sample's place, up to its date.

The paper uses "52 weather features" without listing them; this set is the project's choice
(:data:`WEATHER_FEATURES`, name -> description). It covers what drives a cyanobacterial bloom and what
brings it to the surface: warmth (means, degree-days), light, wind (speed, calm spells, direction
as sin/cos, u/v), rain (sums over days to weeks, spring loading) and humidity. It uses ten gridMET
variables: tmmx, tmmn, srad, vs, th, pr, sph, vpd, rmax, rmin.

Where: gridMET has no values over open lake water (fill), so each sample takes the **nearest cell that
holds data for every variable on every day loaded** (haversine between sample and cell centre; the
distance is returned as ``gridmet_distance_km``). Near-shore stations get their own shore cell, offshore
ones (WE4, WE13) the nearest shore cell 4-7 km away.

When (no leakage): a time t (UTC) falls in the gridMET day D whose period, ~07:00 UTC D to 07:00 UTC
D+1, contains it; every feature uses days <= D only (an N-day window is D-N+1 ... D). For the
current-week task pass the sample times; for the 8-day-ahead task pass the imagery (pixel) times.
``include_day=False`` stops at D-1, the last day complete before t (day D's afternoon can postdate a
morning sample). Windows that run before the first loaded day raise an error rather than fill in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial import cKDTree

from spectm.data.matchup import haversine_m, unit_vectors

#: gridMET variables the features are made of.
REQUIRED_VARIABLES = ("tmmx", "tmmn", "srad", "vs", "th", "pr", "sph", "vpd", "rmax", "rmin")

#: A gridMET day begins at ~07:00 UTC of its date (midnight Mountain Standard Time).
DAY_START_UTC = pd.Timedelta(hours=7)

#: Longest look-back of any feature, days (days_since_rain_10mm is capped here).
LOOKBACK_DAYS = 60

#: (month, day) of the starts of the season-to-date sums.
GDD_SEASON_START = (4, 1)
SPRING_RAIN = ((3, 1), (6, 30))

WEATHER_FEATURES: dict[str, str] = {
    # air temperature, degC; tmean = (tmmx + tmmn) / 2; "Nd" = the N days ending on the reference day
    "tmean_1d": "mean air temperature of the reference day (degC)",
    "tmean_3d": "mean air temperature, 3-day mean (degC)",
    "tmean_7d": "mean air temperature, 7-day mean (degC)",
    "tmean_14d": "mean air temperature, 14-day mean (degC)",
    "tmean_30d": "mean air temperature, 30-day mean (degC)",
    "tmmx_1d": "daily maximum temperature of the reference day (degC)",
    "tmmx_7d": "daily maximum temperature, 7-day mean (degC)",
    "tmmn_1d": "daily minimum temperature of the reference day (degC)",
    "tmmn_7d": "daily minimum temperature, 7-day mean (degC)",
    "dtr_7d": "diurnal temperature range tmmx - tmmn, 7-day mean (degC)",
    "gdd10_7d": "degree-days above 10 degC of tmean, 7-day sum (degC day)",
    "gdd10_30d": "degree-days above 10 degC of tmean, 30-day sum (degC day)",
    "gdd20_14d": "degree-days above 20 degC of tmean, 14-day sum (degC day)",
    "gdd10_season": "degree-days above 10 degC since 1 April of the year (0 before) (degC day)",
    "tmean_7d_minus_30d": "warming: 7-day minus 30-day mean temperature (degC)",
    "tmean_lag7": "mean air temperature 7 days before the reference day (degC)",
    "tmean_trend_14d": "least-squares slope of daily mean temperature over 14 days (degC per day)",
    # shortwave radiation, W m-2
    "srad_1d": "downward shortwave radiation of the reference day (W m-2)",
    "srad_3d": "downward shortwave radiation, 3-day mean (W m-2)",
    "srad_7d": "downward shortwave radiation, 7-day mean (W m-2)",
    "srad_14d": "downward shortwave radiation, 14-day mean (W m-2)",
    "srad_30d": "downward shortwave radiation, 30-day mean (W m-2)",
    "srad_7d_minus_30d": "light anomaly: 7-day minus 30-day mean radiation (W m-2)",
    # wind
    "vs_1d": "wind speed at 10 m of the reference day (m s-1)",
    "vs_3d": "wind speed, 3-day mean (m s-1)",
    "vs_7d": "wind speed, 7-day mean (m s-1)",
    "vs_14d": "wind speed, 14-day mean (m s-1)",
    "vs_max_7d": "largest daily wind speed of 7 days (m s-1)",
    "vs_min_3d": "smallest daily wind speed of 3 days (calm spell) (m s-1)",
    "calm_days_7d": "days of 7 with mean wind below 3 m s-1 (count)",
    "wind_from_sin_1d": "sine of the direction the wind blows from, reference day (1)",
    "wind_from_cos_1d": "cosine of the direction the wind blows from, reference day (1)",
    "wind_from_sin_7d": "sine of wind-from direction, 7-day mean of daily sines (1)",
    "wind_from_cos_7d": "cosine of wind-from direction, 7-day mean of daily cosines (1)",
    "wind_u_7d": "eastward wind component -vs sin(th), 7-day mean (m s-1)",
    "wind_v_7d": "northward wind component -vs cos(th), 7-day mean (m s-1)",
    # precipitation, mm
    "pr_1d": "precipitation of the reference day (mm)",
    "pr_3d": "precipitation, 3-day sum (mm)",
    "pr_7d": "precipitation, 7-day sum (mm)",
    "pr_14d": "precipitation, 14-day sum (mm)",
    "pr_30d": "precipitation, 30-day sum (mm)",
    "pr_lag7_7d": "precipitation of days 7-13 before the reference day, sum (runoff in transit) (mm)",
    "pr_spring": "precipitation 1 March - 30 June of the year, up to the reference day (spring loading) (mm)",
    "wet_days_14d": "days of 14 with at least 1 mm precipitation (count)",
    "days_since_rain_10mm": "days since the last day with >= 10 mm (0 = the reference day; capped at 60) (days)",
    # humidity
    "sph_1d": "specific humidity of the reference day (kg kg-1)",
    "sph_7d": "specific humidity, 7-day mean (kg kg-1)",
    "vpd_1d": "vapour pressure deficit of the reference day (kPa)",
    "vpd_7d": "vapour pressure deficit, 7-day mean (kPa)",
    "vpd_14d": "vapour pressure deficit, 14-day mean (kPa)",
    "rmax_7d": "daily maximum relative humidity, 7-day mean (%)",
    "rmin_7d": "daily minimum relative humidity, 7-day mean (%)",
}  # fmt: skip

assert len(WEATHER_FEATURES) == 52


def reference_days(times, include_day: bool = True) -> np.ndarray:
    """The last gridMET day each time may use (datetime64[D]): the day containing it (or the one before)."""
    stamps = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]"))
    days = (stamps - DAY_START_UTC).floor("D").to_numpy().astype("datetime64[D]")
    return days if include_day else days - np.timedelta64(1, "D")


def nearest_valid_cells(gridmet_ds: xr.Dataset, lats, lons) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lat index, lon index, distance km) of the nearest cell with data for every variable and day."""
    valid = np.ones((gridmet_ds.sizes["lat"], gridmet_ds.sizes["lon"]), bool)
    for name in REQUIRED_VARIABLES:
        valid &= np.isfinite(gridmet_ds[name].transpose("time", "lat", "lon").values).all(axis=0)
    rows, cols = np.nonzero(valid)
    if rows.size == 0:
        raise ValueError("gridMET: no cell holds data for every variable and day of the dataset")
    cell_lat, cell_lon = gridmet_ds["lat"].values[rows], gridmet_ds["lon"].values[cols]
    lats, lons = np.asarray(lats, np.float64), np.asarray(lons, np.float64)
    _, nearest = cKDTree(unit_vectors(cell_lat, cell_lon)).query(unit_vectors(lats, lons), k=1)
    distance = haversine_m(lats, lons, cell_lat[nearest], cell_lon[nearest]) / 1000.0
    return rows[nearest], cols[nearest], distance


def _history(gridmet_ds, name, rows, cols, index) -> np.ndarray:
    """(sample, LOOKBACK_DAYS) values of ``name``, column 0 = the reference day, column k = k days before."""
    data = gridmet_ds[name].transpose("time", "lat", "lon").values
    steps = index[:, None] - np.arange(LOOKBACK_DAYS)[None, :]
    return data[steps, rows[:, None], cols[:, None]]


def _season_sum(daily: np.ndarray, rows, cols, index, days: np.ndarray, start, end) -> np.ndarray:
    """Sum of ``daily`` (time, lat, lon) over [start, min(end, reference day)] of each sample's year."""
    cumulative = np.concatenate([np.zeros((1,) + daily.shape[1:]), np.cumsum(daily, axis=0)])
    years = days[index].astype("datetime64[Y]").astype(int) + 1970
    first = np.array([np.datetime64(f"{y}-{start[0]:02d}-{start[1]:02d}") for y in years], dtype="datetime64[D]")
    last = np.array([np.datetime64(f"{y}-{end[0]:02d}-{end[1]:02d}") for y in years], dtype="datetime64[D]")
    lo = np.searchsorted(days, first)
    hi = np.minimum(index + 1, np.searchsorted(days, last, side="right"))
    if np.any((days[0] > first) & (days[index] >= first)):
        raise ValueError(f"gridMET starts on {days[0]}: season sums need data from {first.min()}")
    total = cumulative[hi, rows, cols] - cumulative[lo, rows, cols]
    return np.where(hi > lo, total, 0.0)


def _reference_index(gridmet_ds: xr.Dataset, times, include_day: bool) -> tuple[np.ndarray, np.ndarray]:
    """(gridMET days, index of each time's reference day), refusing data that cannot give every feature.

    Why here: features read :data:`LOOKBACK_DAYS` consecutive days up to the reference day, so missing
    variables, gaps in the time axis and too short a record are errors, not NaNs.
    """
    missing = [v for v in REQUIRED_VARIABLES if v not in gridmet_ds]
    if missing:
        raise ValueError(f"gridMET dataset lacks {', '.join(missing)}: weather features need {', '.join(REQUIRED_VARIABLES)}")
    days = gridmet_ds["time"].values.astype("datetime64[D]")
    if np.any(np.diff(days) != np.timedelta64(1, "D")):
        raise ValueError("gridMET time axis must be consecutive days (concatenate whole yearly files)")
    ref = reference_days(times, include_day)
    index = (ref - days[0]).astype(np.int64)
    too_early = index - (LOOKBACK_DAYS - 1) < 0
    if np.any(too_early) or np.any(index >= days.size):
        bad = ref[too_early | (index >= days.size)][0]
        raise ValueError(f"gridMET covers {days[0]} - {days[-1]}: features for day {bad} need "
                         f"{LOOKBACK_DAYS} days up to it")  # fmt: skip
    return days, index


def weather_features(gridmet_ds: xr.Dataset, times, lats, lons, include_day: bool = True) -> pd.DataFrame:
    """The 52 :data:`WEATHER_FEATURES` (columns, in that order) for each (time, lat, lon).

    ``gridmet_ds`` is ``gridmet.open_gridmet(...)`` output holding :data:`REQUIRED_VARIABLES`; ``times``
    are UTC (sample times, or imagery times for the 8-day-ahead task). Only gridMET days up to each
    time's reference day are used (module docstring); :func:`weather_sources` says which cell and day.
    """
    days, index = _reference_index(gridmet_ds, times, include_day)
    rows, cols, _ = nearest_valid_cells(gridmet_ds, lats, lons)

    h = {name: _history(gridmet_ds, name, rows, cols, index) for name in REQUIRED_VARIABLES}
    tmmx, tmmn = h["tmmx"] - 273.15, h["tmmn"] - 273.15
    tmean = (tmmx + tmmn) / 2.0
    theta = np.deg2rad(h["th"])
    vs, pr = h["vs"], h["pr"]

    def mean(x, n):
        return x[:, :n].mean(axis=1)

    def total(x, n, skip=0):
        return x[:, skip : skip + n].sum(axis=1)

    slope_x = -np.arange(14, dtype=np.float64)  # column k is k days before: time = -k
    slope_x = slope_x - slope_x.mean()
    heavy = pr >= 10.0
    days_since = np.where(heavy.any(axis=1), heavy.argmax(axis=1), LOOKBACK_DAYS).astype(np.float64)
    tmean_daily = (gridmet_ds["tmmx"].transpose("time", "lat", "lon").values + gridmet_ds["tmmn"].transpose("time", "lat", "lon").values) / 2 - 273.15
    pr_daily = gridmet_ds["pr"].transpose("time", "lat", "lon").values

    f = {
        "tmean_1d": tmean[:, 0], "tmean_3d": mean(tmean, 3), "tmean_7d": mean(tmean, 7), "tmean_14d": mean(tmean, 14),
        "tmean_30d": mean(tmean, 30), "tmmx_1d": tmmx[:, 0], "tmmx_7d": mean(tmmx, 7), "tmmn_1d": tmmn[:, 0],
        "tmmn_7d": mean(tmmn, 7), "dtr_7d": mean(tmmx - tmmn, 7),
        "gdd10_7d": total(np.maximum(tmean - 10, 0), 7), "gdd10_30d": total(np.maximum(tmean - 10, 0), 30),
        "gdd20_14d": total(np.maximum(tmean - 20, 0), 14),
        "gdd10_season": _season_sum(np.maximum(tmean_daily - 10, 0), rows, cols, index, days, GDD_SEASON_START, (12, 31)),
        "tmean_7d_minus_30d": mean(tmean, 7) - mean(tmean, 30), "tmean_lag7": tmean[:, 7],
        "tmean_trend_14d": (tmean[:, :14] - mean(tmean, 14)[:, None]) @ slope_x / (slope_x @ slope_x),
        "srad_1d": h["srad"][:, 0], "srad_3d": mean(h["srad"], 3), "srad_7d": mean(h["srad"], 7),
        "srad_14d": mean(h["srad"], 14), "srad_30d": mean(h["srad"], 30),
        "srad_7d_minus_30d": mean(h["srad"], 7) - mean(h["srad"], 30),
        "vs_1d": vs[:, 0], "vs_3d": mean(vs, 3), "vs_7d": mean(vs, 7), "vs_14d": mean(vs, 14),
        "vs_max_7d": vs[:, :7].max(axis=1), "vs_min_3d": vs[:, :3].min(axis=1), "calm_days_7d": total(vs < 3.0, 7),
        "wind_from_sin_1d": np.sin(theta[:, 0]), "wind_from_cos_1d": np.cos(theta[:, 0]),
        "wind_from_sin_7d": mean(np.sin(theta), 7), "wind_from_cos_7d": mean(np.cos(theta), 7),
        "wind_u_7d": mean(-vs * np.sin(theta), 7), "wind_v_7d": mean(-vs * np.cos(theta), 7),
        "pr_1d": pr[:, 0], "pr_3d": total(pr, 3), "pr_7d": total(pr, 7), "pr_14d": total(pr, 14), "pr_30d": total(pr, 30),
        "pr_lag7_7d": total(pr, 7, skip=7),
        "pr_spring": _season_sum(pr_daily, rows, cols, index, days, *SPRING_RAIN),
        "wet_days_14d": total(pr >= 1.0, 14), "days_since_rain_10mm": days_since,
        "sph_1d": h["sph"][:, 0], "sph_7d": mean(h["sph"], 7), "vpd_1d": h["vpd"][:, 0], "vpd_7d": mean(h["vpd"], 7),
        "vpd_14d": mean(h["vpd"], 14), "rmax_7d": mean(h["rmax"], 7), "rmin_7d": mean(h["rmin"], 7),
    }  # fmt: skip
    table = pd.DataFrame({name: np.asarray(f[name], dtype=np.float64) for name in WEATHER_FEATURES})
    table.attrs["descriptions"] = dict(WEATHER_FEATURES)
    return table


def weather_sources(gridmet_ds: xr.Dataset, times, lats, lons, include_day: bool = True) -> pd.DataFrame:
    """Which gridMET day and cell :func:`weather_features` uses for each point: ``gridmet_day``
    (the last day used), ``gridmet_lat``, ``gridmet_lon`` and ``gridmet_distance_km``."""
    rows, cols, distance = nearest_valid_cells(gridmet_ds, lats, lons)
    return pd.DataFrame({
        "gridmet_day": reference_days(times, include_day),
        "gridmet_lat": gridmet_ds["lat"].values[rows],
        "gridmet_lon": gridmet_ds["lon"].values[cols],
        "gridmet_distance_km": distance,
    })  # fmt: skip


def weather_frame(table: xr.Dataset, weather: pd.DataFrame) -> pd.DataFrame:
    """``weather`` (rows = the samples of matchup ``table``) reduced to the 52 :data:`WEATHER_FEATURES`
    columns as float64; a frame with other rows or missing columns is one clear error."""
    names = list(WEATHER_FEATURES)
    missing = [n for n in names if n not in weather.columns]
    if missing or len(weather) != table.sizes["sample"]:
        raise ValueError(f"weather frame: expected the 52 WEATHER_FEATURES columns and {table.sizes['sample']} rows, "
                         f"got {len(weather)} rows, missing {missing[:3]}")  # fmt: skip
    return weather[names].reset_index(drop=True).astype(np.float64)


def attach_weather(table: xr.Dataset, weather: pd.DataFrame) -> xr.Dataset:
    """A copy of matchup ``table`` with the 52 weather features (:func:`weather_features` of its samples)
    as ``sample`` variables."""
    frame = weather_frame(table, weather)
    return table.assign({name: ("sample", frame[name].to_numpy(), {"long_name": WEATHER_FEATURES[name]})
                         for name in frame.columns})  # fmt: skip
