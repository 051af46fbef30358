"""Samples to pixels, and pixels to the same place 8 days later: the pairs the models learn from.

Matchup rule (the paper's: nearest valid pixel within 2 km and +-4 days), made exact here:

- distance: great-circle (haversine, mean Earth radius :data:`EARTH_RADIUS_M`) between the sample
  position and the pixel centre, ``<= max_distance_km`` (inclusive);
- days: whole calendar days between the pixel's US Eastern local date and the sample's local date
  (GLERL dates are Eastern; an overpass at ~18 UTC is early afternoon the same local day), inclusive;
- ties: the smallest ``|day offset - preferred offset|`` wins first (same day for the current week),
  then the smallest distance, then the earliest pixel in the table (a deterministic last resort).

Only ``Surface`` samples with a position and a time are matched (scum and bottom samples are not what
a satellite sees). A spatial index (``scipy.spatial.cKDTree`` on 3-D unit vectors; the query radius is
the chord of the great-circle limit, then haversine decides) finds the candidates;
:func:`find_matches_bruteforce` is the all-pairs reference used by the tests and the benchmark.

8-day-ahead, for the downstream task (:func:`match_samples` with ``lead_days=8``): a sample at local
date t is paired with the nearest valid pixel within 2 km from imagery dated t-8 ... t-8-``max_days``
(one-sided, so the forecast horizon is never shorter than 8 days); the shortest lead wins, then distance.
For the temporal head (:func:`future_pairs`): each pixel of local day d is paired with the nearest valid
pixel of day d+8 within ``max_distance_km`` (default 1 km: real OCI pixels are ~1 km, so the nearest
pixel centre of another day lies within ~0.7 km).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial import cKDTree

from spectm.data.glerl import utc_to_local

#: Mean Earth radius (IUGG), m.
EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (m) between points given in degrees (broadcasting)."""
    p1, p2 = np.deg2rad(np.asarray(lat1, np.float64)), np.deg2rad(np.asarray(lat2, np.float64))
    dlat = p2 - p1
    dlon = np.deg2rad(np.asarray(lon2, np.float64) - np.asarray(lon1, np.float64))
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def unit_vectors(lat, lon) -> np.ndarray:
    """(n, 3) points on the unit sphere, where chord length grows monotonically with great-circle distance."""
    phi, lam = np.deg2rad(np.asarray(lat, np.float64)), np.deg2rad(np.asarray(lon, np.float64))
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _chord(distance_m: float) -> float:
    """Unit-sphere chord of a great-circle distance, padded so no point at the limit is lost to rounding."""
    return 2.0 * np.sin(min(distance_m / (2.0 * EARTH_RADIUS_M), np.pi / 2)) * (1.0 + 1e-9) + 1e-12


def local_day(times) -> np.ndarray:
    """UTC times -> US Eastern local calendar day as integer days since 1970-01-01."""
    local = utc_to_local(pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]")))
    return local.normalize().to_numpy().astype("datetime64[D]").astype(np.int64)


def _as_day(dates) -> np.ndarray:
    return pd.DatetimeIndex(dates).normalize().to_numpy().astype("datetime64[D]").astype(np.int64)


@dataclass(frozen=True)
class Matches:
    """Per sample: matched pixel index (-1 = none), distance (m) and day offset (pixel - sample day)."""

    pixel: np.ndarray
    distance_m: np.ndarray
    day_offset: np.ndarray

    @property
    def matched(self) -> np.ndarray:
        return self.pixel >= 0


def _choose(sample_idx, pixel_idx, distance, offset, preferred: int, n_samples: int) -> Matches:
    """Best candidate per sample by (|offset - preferred|, distance, pixel index)."""
    out = Matches(np.full(n_samples, -1, np.int64), np.full(n_samples, np.nan), np.zeros(n_samples, np.int64))
    if sample_idx.size == 0:
        return out
    order = np.lexsort((pixel_idx, distance, np.abs(offset - preferred), sample_idx))
    first = order[np.r_[True, np.diff(sample_idx[order]) != 0]]
    out.pixel[sample_idx[first]] = pixel_idx[first]
    out.distance_m[sample_idx[first]] = distance[first]
    out.day_offset[sample_idx[first]] = offset[first]
    return out


def _check_window(offset_range) -> tuple[int, int]:
    low, high = (int(v) for v in offset_range)
    if low > high:
        raise ValueError(f"offset_range {offset_range!r}: expected (low, high) with low <= high")
    return low, high


def find_matches(sample_lat, sample_lon, sample_day, pixel_lat, pixel_lon, pixel_day, max_distance_m: float = 2000.0,
                 offset_range=(-4, 4), preferred_offset: int = 0, tree: cKDTree | None = None) -> Matches:  # fmt: skip
    """Nearest valid pixel per sample with ``distance <= max_distance_m`` and
    ``low <= pixel_day - sample_day <= high``; ties as in the module docstring. ``tree`` may be a
    prebuilt ``cKDTree(unit_vectors(pixel_lat, pixel_lon))``."""
    low, high = _check_window(offset_range)
    sample_lat, sample_lon = np.asarray(sample_lat, np.float64), np.asarray(sample_lon, np.float64)
    sample_day, pixel_day = np.asarray(sample_day, np.int64), np.asarray(pixel_day, np.int64)
    n = sample_lat.size
    if tree is None:
        tree = cKDTree(unit_vectors(pixel_lat, pixel_lon)) if np.size(pixel_lat) else None
    if tree is None or n == 0:
        return _choose(np.array([], np.int64), np.array([], np.int64), np.array([]), np.array([], np.int64), preferred_offset, n)
    lists = tree.query_ball_point(unit_vectors(sample_lat, sample_lon), _chord(max_distance_m))
    counts = np.fromiter((len(c) for c in lists), dtype=np.int64, count=n)
    pix = np.concatenate([np.asarray(c, np.int64) for c in lists]) if counts.sum() else np.array([], np.int64)
    smp = np.repeat(np.arange(n), counts)
    offset = pixel_day[pix] - sample_day[smp]
    distance = haversine_m(sample_lat[smp], sample_lon[smp], np.asarray(pixel_lat)[pix], np.asarray(pixel_lon)[pix])
    keep = (distance <= max_distance_m) & (offset >= low) & (offset <= high)
    return _choose(smp[keep], pix[keep], distance[keep], offset[keep], preferred_offset, n)


def find_matches_bruteforce(sample_lat, sample_lon, sample_day, pixel_lat, pixel_lon, pixel_day, max_distance_m: float = 2000.0,
                            offset_range=(-4, 4), preferred_offset: int = 0, block: int = 64) -> Matches:  # fmt: skip
    """The all-pairs reference of :func:`find_matches` (same rule, no index), in blocks of samples."""
    low, high = _check_window(offset_range)
    sample_lat, sample_lon = np.asarray(sample_lat, np.float64), np.asarray(sample_lon, np.float64)
    pixel_lat, pixel_lon = np.asarray(pixel_lat, np.float64), np.asarray(pixel_lon, np.float64)
    sample_day, pixel_day = np.asarray(sample_day, np.int64), np.asarray(pixel_day, np.int64)
    parts = []
    for start in range(0, sample_lat.size, block):
        rows = np.arange(start, min(start + block, sample_lat.size))
        distance = haversine_m(sample_lat[rows, None], sample_lon[rows, None], pixel_lat[None, :], pixel_lon[None, :])
        offset = pixel_day[None, :] - sample_day[rows, None]
        r, c = np.nonzero((distance <= max_distance_m) & (offset >= low) & (offset <= high))
        parts.append((rows[r], c, distance[r, c], offset[r, c]))
    if not parts:
        parts = [(np.array([], np.int64), np.array([], np.int64), np.array([]), np.array([], np.int64))]
    smp, pix, dist, off = (np.concatenate(p) for p in zip(*parts))
    return _choose(smp, pix.astype(np.int64), dist, off.astype(np.int64), preferred_offset, sample_lat.size)


# --------------------------------------------------------------------------------------------------
# samples x pixel table


@dataclass
class Matchups:
    """Learning-ready matchups (``table``, on ``sample``) and how many samples survived each step."""

    table: xr.Dataset
    survival: pd.DataFrame


def _pixel_columns(pixels: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lat = pixels["latitude"].values.astype(np.float64)
    lon = pixels["longitude"].values.astype(np.float64)
    return lat, lon, local_day(pixels["time"].values)


def _check_sample_columns(samples: pd.DataFrame, label: str) -> None:
    """Matching needs the read_glerl_csv columns; a table without them is refused by name."""
    for column in ("depth_category", "latitude", "longitude", "time", "date", label):
        if column not in samples.columns:
            raise ValueError(f"samples lack the column {column!r} (expected the read_glerl_csv table)")


def _surface_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """Surface samples with a position and a time: the only ones a satellite pixel can stand for."""
    return samples[(samples["depth_category"] == "Surface") & samples[["latitude", "longitude"]].notna().all(axis=1)
                   & samples["time"].notna()]  # fmt: skip


def _pair_table(chosen: pd.DataFrame, pixels: xr.Dataset, matches: Matches, final: np.ndarray, label: str) -> xr.Dataset:
    """The matched samples with their pixel's spectrum, the sample's columns and where the pixel lies."""
    index = matches.pixel[final]
    picked = pixels.isel(pixel=xr.DataArray(index, dims="sample"))
    table = xr.Dataset(
        {"Rrs": picked["Rrs"].load().variable, label: ("sample", chosen[label].to_numpy(np.float64), {"units": "ug L-1"})},
        coords={"wavelength": pixels["wavelength"]},
    )
    for column in chosen.columns:
        if column not in (label, "latitude", "longitude", "time"):
            values = chosen[column].to_numpy()
            table[column] = ("sample", values.astype(str) if values.dtype == object or str(values.dtype) == "str" else values)
    table = table.assign_coords(
        time=("sample", chosen["time"].to_numpy("datetime64[ns]"), {"standard_name": "time", "long_name": "sample time (UTC)"}),
        latitude=("sample", chosen["latitude"].to_numpy(np.float64), {"standard_name": "latitude", "units": "degrees_north"}),
        longitude=("sample", chosen["longitude"].to_numpy(np.float64), {"standard_name": "longitude", "units": "degrees_east"}),
    )
    table["pixel_index"] = ("sample", index, {"long_name": "row of the pixel table"})
    table["pixel_time"] = ("sample", picked["time"].values, {"long_name": "overpass time of the matched pixel (UTC)"})
    table["pixel_latitude"] = ("sample", picked["latitude"].values.astype(np.float64), {"units": "degrees_north"})
    table["pixel_longitude"] = ("sample", picked["longitude"].values.astype(np.float64), {"units": "degrees_east"})
    table["granule"] = ("sample", np.asarray(picked["granule"].values, dtype=str))
    table["distance_m"] = ("sample", matches.distance_m[final], {"units": "m", "long_name": "sample to pixel-centre distance"})
    table["day_offset"] = ("sample", matches.day_offset[final], {"units": "days", "long_name": "pixel local date - sample local date"})
    return table


def match_samples(samples: pd.DataFrame, pixels: xr.Dataset, max_distance_km: float = 2.0, max_days: int = 4,
                  lead_days: int = 0, label: str = "particulate_microcystin") -> Matchups:  # fmt: skip
    """Match GLERL samples (``read_glerl_csv`` table) to the pixel table (``build_pixel_table``).

    ``lead_days=0``: the current-week task, pixels within +-``max_days`` of the sample date.
    ``lead_days=8``: the 8-day-ahead task, pixels dated ``lead_days`` to ``lead_days + max_days`` days
    before the sample. Returns the final pairs (matched, with a ``label`` value; censored values count,
    at their detection limit) with the pixel's ``Rrs(sample, wavelength)``, and the survival table.
    """
    _check_sample_columns(samples, label)
    if lead_days:
        window, preferred = (-lead_days - max_days, -lead_days), -lead_days
    else:
        window, preferred = (-max_days, max_days), 0
    limit_m = max_distance_km * 1000.0
    surface = _surface_samples(samples)
    s_lat, s_lon = surface["latitude"].to_numpy(np.float64), surface["longitude"].to_numpy(np.float64)
    s_day = _as_day(surface["date"])
    p_lat, p_lon, p_day = _pixel_columns(pixels)
    tree = cKDTree(unit_vectors(p_lat, p_lon)) if p_lat.size else None
    anytime = find_matches(s_lat, s_lon, s_day, p_lat, p_lon, p_day, limit_m, (-(10**6), 10**6), preferred, tree)
    matches = find_matches(s_lat, s_lon, s_day, p_lat, p_lon, p_day, limit_m, window, preferred, tree)
    labelled = surface[label].notna().to_numpy()
    final = matches.matched & labelled
    window_text = f"+-{max_days} days" if not lead_days else f"{lead_days}-{lead_days + max_days} days before"
    survival = pd.DataFrame({
        "step": ["samples read", "surface samples (with position and time)", f"with a valid pixel within {max_distance_km:g} km",
                 f"... dated {window_text}", f"final (with {label})"],
        "samples": [len(samples), len(surface), int(anytime.matched.sum()), int(matches.matched.sum()), int(final.sum())],
    })  # fmt: skip
    table = _pair_table(surface[final].reset_index(drop=True), pixels, matches, final, label)
    table.attrs = {
        "title": "GLERL surface samples matched to PACE OCI pixels",
        "rule": f"nearest valid pixel within {max_distance_km:g} km (haversine), {window_text} (local calendar days); "
                f"ties: smallest |day offset - ({preferred})|, then distance, then table order",
        "lead_days": int(lead_days),
    }  # fmt: skip
    return Matchups(table=table, survival=survival)


def future_pairs(pixels: xr.Dataset, lead_days: int = 8, max_distance_km: float = 1.0, with_spectra: bool = True) -> xr.Dataset:
    """Each pixel of local day d paired with the nearest valid pixel of day d + ``lead_days``.

    Only pixels whose partner lies within ``max_distance_km`` (haversine) make a pair. Returns, on a
    ``pair`` dimension, ``pixel_index``/``future_index`` (rows of the pixel table), both times and
    positions, ``distance_m`` and, if ``with_spectra``, ``Rrs`` and ``Rrs_future`` (pair, wavelength).
    """
    lat, lon, day = _pixel_columns(pixels)
    limit_m = max_distance_km * 1000.0
    vectors = unit_vectors(lat, lon)
    order = np.argsort(day, kind="stable")
    days, starts = np.unique(day[order], return_index=True)
    groups = dict(zip(days.tolist(), np.split(order, starts[1:])))
    now_parts, future_parts = [], []
    for d, rows in groups.items():
        later = groups.get(d + lead_days)
        if later is None:
            continue
        _, nearest = cKDTree(vectors[later]).query(vectors[rows], k=1, distance_upper_bound=_chord(limit_m))
        found = nearest < later.size
        now, future = rows[found], later[nearest[found]]
        close = haversine_m(lat[now], lon[now], lat[future], lon[future]) <= limit_m
        now_parts.append(now[close])
        future_parts.append(future[close])
    now = np.concatenate(now_parts) if now_parts else np.array([], np.int64)
    future = np.concatenate(future_parts) if future_parts else np.array([], np.int64)
    sort = np.argsort(now, kind="stable")
    now, future = now[sort], future[sort]
    times = pixels["time"].values
    out = xr.Dataset(
        {
            "pixel_index": ("pair", now, {"long_name": "row of the pixel table (day d)"}),
            "future_index": ("pair", future, {"long_name": f"row of the pixel table (day d + {lead_days})"}),
            "time_future": ("pair", times[future], {"long_name": "overpass time of the future pixel (UTC)"}),
            "latitude_future": ("pair", lat[future], {"units": "degrees_north"}),
            "longitude_future": ("pair", lon[future], {"units": "degrees_east"}),
            "distance_m": ("pair", haversine_m(lat[now], lon[now], lat[future], lon[future]), {"units": "m"}),
        },
        coords={
            "time": ("pair", times[now], {"standard_name": "time", "long_name": "overpass time (UTC)"}),
            "latitude": ("pair", lat[now], {"standard_name": "latitude", "units": "degrees_north"}),
            "longitude": ("pair", lon[now], {"standard_name": "longitude", "units": "degrees_east"}),
        },
        attrs={"title": f"pixel pairs {lead_days} days apart for the temporal head",
               "rule": f"nearest valid pixel on local day d + {lead_days} within {max_distance_km:g} km (haversine)"},  # fmt: skip
    )
    if with_spectra:
        rrs = pixels["Rrs"]
        out["Rrs"] = (("pair", "wavelength"), rrs.isel(pixel=now).values, rrs.attrs)
        out["Rrs_future"] = (("pair", "wavelength"), rrs.isel(pixel=future).values, rrs.attrs)
        out = out.assign_coords(wavelength=pixels["wavelength"])
    return out
