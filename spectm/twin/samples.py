"""GLERL-like weekly samples of the twin: real stations, the real schedule, microcystin with scatter.

Why: the labels of the downstream task. They must look like GLERL's (bio-optics.md 1.5, 3.5, 3.6):
zero-inflated microcystin (non-detects below 0.1 ug/L, written ``bdl``), log-normal above, a bloom
that runs July-September, and a link to chlorophyll of r ~ 0.6 in log space.

How a sample is drawn (per visit, at the station's model cell on the visit day):

- small-scale patchiness: the bucket of water differs from the cell mean by a log-normal factor
  (SD 0.15 log10), and its cyanobacterial colonies by a further factor (SD 0.2 log10), shared by every
  analyte of that bucket;
- chlorophyll-a: (cyanobacterial + other chl-a, each x its patchiness) x extraction error (SD 0.08 log10);
- phycocyanin: surface phycocyanin (cyanobacterial chl-a x the cell's PC:chl ratio) x colony
  patchiness x extraction error (SD PC_EXTRACTION_SD_DEX);
- microcystin: surface cyanobacterial chl-a x the cell's toxic share x colony patchiness x a SEASONAL
  toxin quota x log-normal scatter (SD MC_SCATTER_DEX). The quota (:func:`toxin_quota`) peaks on a day
  drawn per season in 200-250 and falls off more slowly in autumn than it rose in summer: toxin per
  biomass varies within a season (toxic strains, nitrogen), which is why MC peaks in August while
  chl-a stays high into September (bio-optics.md 3.6). Values below the detection limit (0.1 ug/L)
  are non-detects. The numbers are calibrated to GLERL 2012-2024 (:mod:`spectm.twin.calibration`).
- dissolved microcystin ~ 8 % of particulate with its own scatter; bottom samples (WE2, WE8, WE12,
  WE13) see the mixed column, not the surface; a few calm-day scum grabs are added as GLERL does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

from spectm.data.glerl import STATION_POSITIONS, local_to_utc, station_table
from spectm.twin.blooms import BloomHistory
from spectm.twin.weather import Weather

DETECTION_LIMIT = 0.1  # ug/L, microcystin (bdl below it)
#: The 2024 GLERL sampling dates (glerl.md section 3).
GLERL_2024_DATES = (
    "04-24", "05-08", "05-20", "06-03", "06-17", "07-02", "07-08", "07-17", "07-22", "07-29", "08-05",
    "08-12", "08-21", "08-26", "09-03", "09-10", "09-16", "09-23", "10-01", "10-08", "10-17", "10-24",
)  # fmt: skip
STATION_VISIT_ORDER = ("WE9", "WE6", "WE2", "WE8", "WE4", "WE12", "WE13", "WE16")  # a westerly-first route


#: Toxin quota: peak ug MC per ug toxic cyanobacterial chl-a, e-folding widths before/after the peak (days).
QUOTA_PEAK, QUOTA_RISE_DAYS, QUOTA_FALL_DAYS = 0.18, 35.0, 60.0
#: Per-sample scatter of microcystin and of extracted phycocyanin (log10 SD).
MC_SCATTER_DEX, PC_EXTRACTION_SD_DEX = 0.22, 0.2


def toxin_quota(day_of_year, peak_doy: float = 220.0) -> np.ndarray:
    """Microcystin per toxic cyanobacterial chl-a (ug/ug): a skewed bell peaking on ``peak_doy``."""
    offset = np.asarray(day_of_year, float) - peak_doy
    width = np.where(offset < 0, QUOTA_RISE_DAYS, QUOTA_FALL_DAYS)
    return QUOTA_PEAK * np.exp(-((offset / width) ** 2))


def sampling_dates(year: int) -> pd.DatetimeIndex:
    """The season's sampling dates: 2024's real dates; another year gets the 2024 pattern shifted by
    whole weeks (52 per year), so every visit falls on the same weekday as in 2024."""
    dates = pd.DatetimeIndex([f"2024-{d}" for d in GLERL_2024_DATES])
    return dates + pd.Timedelta(weeks=52 * (int(year) - 2024))


def simulate_samples(history: BloomHistory, weather: Weather, rng: np.random.Generator, year: int) -> pd.DataFrame:
    """A table of surface, bottom and scum samples in the GLERL reader's columns (plus twin-only truth).

    Truth columns start with ``true_`` and are not written to the CSV.
    """
    grid = history.grid
    stations = station_table()
    rows = []
    dates = [d for d in sampling_dates(year) if d in history.days]
    for date in dates:
        fields = history.at(date)
        start = date + pd.Timedelta(hours=8, minutes=int(rng.integers(0, 40)))
        clock = start
        for station in STATION_VISIT_ORDER:
            clock = clock + pd.Timedelta(minutes=int(rng.integers(25, 50)))
            if rng.random() < 0.04:  # a missed station (weather, boat time)
                continue
            lat, lon = STATION_POSITIONS[station]
            lat_obs, lon_obs = lat + rng.normal(0, 0.002), lon + rng.normal(0, 0.002)
            r, c = grid.fractional_index(lon_obs, lat_obs)
            at = {k: float(ndimage.map_coordinates(np.nan_to_num(v, nan=np.nanmean(v)), [[r], [c]], order=1)[0])
                  for k, v in fields.items()}  # fmt: skip
            patch = 10 ** rng.normal(0, 0.1)
            visit = {
                "station": station, "date": date, "local_time": clock, "latitude": round(lat_obs, 5),
                "longitude": round(lon_obs, 5), "station_depth_m": round(float(stations.at[station, "water_depth_2024_median_m"]) + rng.normal(0, 0.15), 2),
                "departure_time_local": clock + pd.Timedelta(minutes=int(rng.integers(12, 25))),
                "Temp_C": round(at["water_temperature"] + rng.normal(0, 0.3), 3),
                "Turbidity_NTU": round(0.9 * at["tss"] + 0.05 * at["chl_surface"], 2),
                "Secchi_Depth_m": round(float(np.clip(1.7 / (0.4 + 0.015 * at["chl_surface"] + 0.05 * at["tss"] + 0.3 * at["ag440"]), 0.2, 5.0)), 2),
                "Wind_speed_ms-1": round(float(weather.basin.loc[date, "wind_speed"]) * (1 + rng.normal(0, 0.15)), 1),
                "Sky": _sky(float(weather.basin.loc[date, "cloud_fraction"])),
                "true_chl_surface": at["chl_surface"], "true_pc_surface": at["pc_surface"],
                "true_ag440": at["ag440"], "true_tss": at["tss"], "true_toxic_share": at["toxic_share"],
            }  # fmt: skip
            quota = float(toxin_quota(date.day_of_year, history.toxin_peak_doy))
            toxic = at["toxic_share"]
            rows.append(_sample(visit, "Surface", at["chl_surface"], at["pc_surface"], at["cyano_surface"], patch, date, rng,
                                quota, toxic))  # fmt: skip
            if bool(stations.at[station, "bottom_sampled"]):
                rows.append(_sample(visit, "Bottom", at["chl_column"], at["pc_surface"] / max(at["surface_factor"], 1.0),
                                    at["cyano_column"], 10 ** rng.normal(0, 0.15), date, rng, quota, toxic))  # fmt: skip
            calm_scum = at["surface_factor"] > 1.6 and at["cyano_surface"] > 30 and rng.random() < 0.35
            if calm_scum:
                scale = 10 ** rng.uniform(0.7, 1.5)
                scum = _sample(visit, "Scum", at["chl_surface"] * scale, at["pc_surface"] * scale,
                               at["cyano_surface"] * scale, patch, date, rng, quota, toxic)  # fmt: skip
                scum.update(latitude=np.nan, longitude=np.nan, local_time=pd.NaT, time_filled=True, position_filled=True)
                rows.append(scum)
    table = pd.DataFrame(rows)
    table["time"] = local_to_utc(table["local_time"])
    table["departure_time"] = local_to_utc(table["departure_time_local"])
    table = table.drop(columns=["departure_time_local"])
    table.attrs["source"] = "spectm Lake Erie twin (simulated)"
    return table


def _sky(cloud_fraction: float) -> str:
    return "clear" if cloud_fraction < 0.25 else "partly cloudy" if cloud_fraction < 0.65 else "cloudy"


def _sample(visit: dict, category: str, chl: float, pc: float, cyano: float, patch: float, date, rng,
            quota: float, toxic_share: float) -> dict:  # fmt: skip
    colonies = patch * 10 ** rng.normal(0, 0.12)  # buoyant colonies are patchier than the rest
    chl_value = (cyano * colonies + (chl - cyano) * patch) * 10 ** rng.normal(0, 0.08)
    pc_value = pc * colonies * 10 ** rng.normal(0, PC_EXTRACTION_SD_DEX)
    mc = cyano * toxic_share * colonies * quota * 10 ** rng.normal(0, MC_SCATTER_DEX)
    dissolved = mc * 0.08 * 10 ** rng.normal(0, 0.3)
    row = dict(visit)
    row.update({
        "depth_category": category,
        "sample_depth_m": {"Surface": 1.0, "Scum": 0.0}.get(category, round(visit["station_depth_m"] - 1.0, 2)),
        "particulate_microcystin": round(mc, 2) if mc >= DETECTION_LIMIT else DETECTION_LIMIT,
        "mc_censored": mc < DETECTION_LIMIT,
        "dissolved_microcystin": round(dissolved, 2) if dissolved >= DETECTION_LIMIT else DETECTION_LIMIT,
        "dissolved_mc_censored": dissolved < DETECTION_LIMIT,
        "chlorophyll_a": round(chl_value, 2), "chla_censored": False,
        "phycocyanin": round(pc_value, 3), "pc_censored": False,
        "true_microcystin": mc, "true_cyano_chl": cyano, "true_toxic_chl": cyano * toxic_share,
        "true_toxin_quota": quota,
        "time_filled": False, "position_filled": False,
    })  # fmt: skip
    if category != "Surface":
        for name in ("Temp_C", "Turbidity_NTU", "Secchi_Depth_m", "Wind_speed_ms-1", "Sky"):
            row[name] = np.nan if name != "Sky" else ""
    return row
