"""The twin's own daily weather on a gridMET-like 1/24 degree grid: seasonal cycle + synoptic weather.

Why: blooms in the twin grow with warmth and light, mix with wind and the Maumee plume follows rain,
so the weather the models may later read (gridMET files) is the weather that drove the water.

Construction (approximate Toledo climatology; twin-only values, not observations):

- a common synoptic state per day: AR(1) anomalies of temperature (lag-1 r 0.75), cloudiness (0.6)
  and the wind vector (0.5); rain falls on cloudy days with gamma-distributed amounts;
- seasonal cycles: mean air temperature 10.3 + 13.2 cos(2 pi (doy - 202)/365.25) deg C, diurnal range
  8-12 K (smaller under cloud), wind speed 3.2 m/s in summer to 5.2 m/s in winter, prevailing south-west
  wind, clear-sky shortwave from the top-of-atmosphere daily insolation at the cell's latitude;
- smooth spatial structure: a daily large-scale gradient, spatially smooth rain fields, and the lake's
  moderating effect (cooler afternoons, warmer nights over and near the water).

Humidity follows from a dew point tied to the minimum temperature; ``sph``, ``vpd``, ``rmax`` and
``rmin`` are derived from it with the Tetens formula.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from spectm.twin.config import KM_PER_DEG_LAT, WESTERN_BASIN_BBOX
from spectm.twin.lake import is_water

#: gridMET cell centres: lat_i = 49.4 - i/24, lon_j = -124.7666667 + j/24 (the coordinate arrays of the
#: gridMET files, Abatzoglou 2013, doi:10.1002/joc.3413).
GRIDMET_LAT0, GRIDMET_LON0, CELL = 49.4, -124.76666666666667, 1.0 / 24.0

#: gridMET variables the twin writes, with their units.
WEATHER_VARIABLES = {
    "tmmx": "K", "tmmn": "K", "vs": "m/s", "th": "degree", "srad": "W m-2", "pr": "mm",
    "sph": "kg/kg", "vpd": "kPa", "rmax": "%", "rmin": "%",
}  # fmt: skip


@dataclass
class Weather:
    """A year of daily weather: ``fields[short]`` is (day, lat, lon) in the gridMET units."""

    days: pd.DatetimeIndex
    lat: np.ndarray  # ascending
    lon: np.ndarray
    fields: dict[str, np.ndarray]
    no_data: np.ndarray  # (lat, lon) True where real gridMET has fill: open lake water, Ontario
    basin: pd.DataFrame  # basin means per day, and the wind vector (u, v toward east/north, m/s)


def gridmet_axes(bbox=WESTERN_BASIN_BBOX, margin_deg: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """gridMET cell centres (lat ascending, lon ascending) covering ``bbox`` plus a margin."""
    west, south, east, north = bbox
    rows = np.arange(np.floor((GRIDMET_LAT0 - north - margin_deg) / CELL), np.ceil((GRIDMET_LAT0 - south + margin_deg) / CELL) + 1)
    cols = np.arange(np.floor((west - margin_deg - GRIDMET_LON0) / CELL), np.ceil((east + margin_deg - GRIDMET_LON0) / CELL) + 1)
    return np.sort(GRIDMET_LAT0 - rows * CELL), GRIDMET_LON0 + cols * CELL


def gridmet_no_data(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Cells real gridMET leaves as fill here: open lake water (cell centre in the lake) and Ontario.

    Ontario (non-US land) is approximated as land north of the Detroit River mouth's latitude and east
    of the river, plus Pelee Island; gridMET is a CONUS product.
    """
    lon2, lat2 = np.meshgrid(lon, lat)
    water = is_water(lon2, lat2)
    ontario = (lat2 > 42.0) & (lon2 > -83.12)
    pelee = (lon2 > -82.72) & (lon2 < -82.60) & (lat2 > 41.72) & (lat2 < 41.82)
    return water | ontario | pelee


def _ar1(rng: np.random.Generator, n: int, phi: float, size=()) -> np.ndarray:
    """Unit-variance AR(1) series along the first axis."""
    shocks = rng.standard_normal((n, *np.atleast_1d(size))) if size else rng.standard_normal(n)
    out = np.empty_like(shocks)
    out[0] = shocks[0]
    scale = np.sqrt(1.0 - phi**2)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + scale * shocks[t]
    return out


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_cells: float, axes=(-2, -1)) -> np.ndarray:
    """Gaussian random field with unit variance, smoothed over the last two axes (spatial correlation)."""
    noise = rng.standard_normal(shape)
    sigma = [0.0] * len(shape)
    for axis in axes:
        sigma[axis] = sigma_cells
    field = ndimage.gaussian_filter(noise, sigma, mode="wrap")
    return field / field.std(axis=tuple(axes), keepdims=True).clip(1e-12)


def clear_sky_shortwave(doy: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """Daily-mean clear-sky shortwave at the surface (W m-2): 0.75 x top-of-atmosphere insolation."""
    decl = 0.409 * np.sin(2 * np.pi * doy / 365.0 - 1.39)
    phi = np.deg2rad(lat_deg)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(decl), -1, 1))
    dr = 1 + 0.033 * np.cos(2 * np.pi * doy / 365.0)
    toa = 1361.0 / np.pi * dr * (ws * np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.sin(ws))
    return 0.75 * toa


def saturation_vapour_pressure(t_celsius):
    """Tetens: kPa."""
    return 0.6108 * np.exp(17.27 * t_celsius / (t_celsius + 237.3))


def _temperatures(season, temp_anom, cloud, lake_influence, gradient) -> tuple[np.ndarray, np.ndarray]:
    """Daily (max, min) deg C: a seasonal cycle, a smaller range under cloud, a lake that evens out the day."""
    t_mean = 10.3 + 13.2 * season + temp_anom  # deg C
    dtr = (10.0 + 2.0 * season) * (1.25 - 0.6 * cloud)
    lake_day = lake_influence * (1.0 + 1.0 * season[:, None, None])  # lake cools afternoons in summer by up to 2 K
    lake_night = lake_influence * 1.2
    tmax = t_mean[:, None, None] + dtr[:, None, None] / 2 + 1.2 * gradient - lake_day
    tmin = t_mean[:, None, None] - dtr[:, None, None] / 2 + 1.2 * gradient + lake_night
    return tmax, tmin


def _basin_wind(doy: np.ndarray, wind_anom: np.ndarray) -> tuple[np.ndarray, ...]:
    """(u, v, speed, raw speed) of the basin's daily wind: prevailing from the south-west, stronger in winter.

    u, v are toward east / north; ``speed`` keeps the climatological mean while ``raw_speed`` is the
    length of (u, v) that scales them to it.
    """
    speed_clim = 4.2 - 1.0 * np.cos(2 * np.pi * (doy - 200) / 365.25)
    u = 0.45 * speed_clim + wind_anom[:, 0]
    v = 0.25 * speed_clim + wind_anom[:, 1]
    raw_speed = np.hypot(u, v)
    speed = speed_clim * raw_speed / raw_speed.mean()
    speed = np.clip(speed, 0.3, None)
    return u, v, speed, raw_speed


def _humidity(tmax: np.ndarray, tmin: np.ndarray, cloud: np.ndarray) -> tuple[np.ndarray, ...]:
    """(sph, vpd, rmax, rmin) from a dew point below the night's minimum, lower under clear skies."""
    dew = tmin - 0.5 - 2.5 * (1.0 - cloud[:, None, None])
    e = saturation_vapour_pressure(dew)
    sph = 0.622 * e / (99.5 - 0.378 * e)
    es_max, es_min = saturation_vapour_pressure(tmax), saturation_vapour_pressure(tmin)
    vpd = np.clip((es_max + es_min) / 2 - e, 0.0, None)
    rmax = np.clip(100.0 * e / es_min, 0.0, 100.0)
    rmin = np.clip(100.0 * e / es_max, 0.0, 100.0)
    return sph, vpd, rmax, rmin


def simulate_weather(year: int, rng: np.random.Generator, bbox=WESTERN_BASIN_BBOX) -> Weather:
    """A year of daily weather for ``year`` on the gridMET cells around ``bbox`` (deterministic in ``rng``)."""
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    n = days.size
    doy = days.day_of_year.to_numpy(float)
    lat, lon = gridmet_axes(bbox)
    ny, nx = lat.size, lon.size
    season = np.cos(2 * np.pi * (doy - 202) / 365.25)  # +1 late July, -1 late January

    # synoptic state shared by the basin
    temp_anom = _ar1(rng, n, 0.75) * (3.8 - 1.2 * season)  # K; weaker in summer
    cloud_index = _ar1(rng, n, 0.6)
    wind_anom = _ar1(rng, n, 0.5, size=2) * 2.6  # m/s
    cloud_bias = -0.35 * season + 0.1  # cloudier in spring/autumn/winter
    cloud = 1.0 / (1.0 + np.exp(-1.6 * (cloud_index + cloud_bias)))  # 0..1
    rain_day = (cloud_index + 0.5 * rng.standard_normal(n)) > 0.55
    rain_amount = np.where(rain_day, rng.gamma(0.75, 9.0, n), 0.0)

    # spatial structure
    lon2, lat2 = np.meshgrid(lon, lat)
    water = is_water(lon2, lat2)
    lake_influence = ndimage.gaussian_filter(water.astype(float), 1.5)  # 0..1, near water
    angle = rng.uniform(0, 2 * np.pi, n)
    y_km = (lat2 - lat2.mean()) * KM_PER_DEG_LAT
    x_km = (lon2 - lon2.mean()) * KM_PER_DEG_LAT * np.cos(np.deg2rad(41.75))
    gradient = (np.cos(angle)[:, None, None] * x_km + np.sin(angle)[:, None, None] * y_km) / 100.0  # ~ +-0.6
    rain_pattern = np.exp(0.6 * smooth_noise(rng, (n, ny, nx), 4.0) - 0.18)

    tmax, tmin = _temperatures(season, temp_anom, cloud, lake_influence, gradient)

    u, v, speed, raw_speed = _basin_wind(doy, wind_anom)
    direction_from = np.rad2deg(np.arctan2(-u, -v)) % 360.0
    vs = speed[:, None, None] * (1.0 + 0.25 * lake_influence) * (1.0 + 0.05 * gradient)
    th = np.broadcast_to(direction_from[:, None, None], (n, ny, nx)).copy()

    srad = clear_sky_shortwave(doy[:, None, None], lat2[None]) * (1.0 - 0.72 * cloud[:, None, None])
    srad = srad * (1.0 + 0.03 * gradient)
    pr = rain_amount[:, None, None] * rain_pattern

    sph, vpd, rmax, rmin = _humidity(tmax, tmin, cloud)

    fields = {
        "tmmx": tmax + 273.15, "tmmn": tmin + 273.15, "vs": vs, "th": th, "srad": srad, "pr": pr,
        "sph": sph, "vpd": vpd, "rmax": rmax, "rmin": rmin,
    }  # fmt: skip
    fields = {k: v.astype(np.float32) for k, v in fields.items()}
    basin = pd.DataFrame(
        {
            "tmean_c": ((tmax + tmin) / 2)[:, water].mean(axis=1),
            "srad": srad[:, water].mean(axis=1),
            "precip_mm": pr.mean(axis=(1, 2)),
            "wind_speed": vs[:, water].mean(axis=1),
            "wind_u": u * speed / raw_speed.clip(1e-6),
            "wind_v": v * speed / raw_speed.clip(1e-6),
            "cloud_fraction": cloud,
        },
        index=days,
    )  # the lake's daily means drive the bloom model
    return Weather(days=days, lat=lat, lon=lon, fields=fields, no_data=gridmet_no_data(lat, lon), basin=basin)
