"""Write samples as a NOAA GLERL western-Lake-Erie weekly-datashare CSV (the 2024/2025 layout).

The columns, tokens and time conventions are the reader's (:mod:`spectm.data.glerl`), so a written
file reads back unchanged.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from spectm.data.errors import DataFormatError
from spectm.data.glerl import ANALYTES, DATASHARE_COLUMNS, utc_to_local

def _fmt(value) -> str:
    """Shortest exact decimal for floats (``1.0`` -> ``1``), empty for missing."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (float, np.floating)):
        return np.format_float_positional(float(value), trim="-")
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def _local_clock_and_date(t: pd.DataFrame) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """(Eastern clock to the minute, sampling date) of every row; the file holds local times only."""
    for column in ("station", "depth_category", "latitude", "longitude", "particulate_microcystin"):
        if column not in t.columns:
            raise DataFormatError(None, column, f"a {column!r} column in the sample table", found="missing")
    if "time" in t.columns:
        local = utc_to_local(t["time"]).round("min")
    elif "local_time" in t.columns:
        local = pd.DatetimeIndex(t["local_time"]).round("min")
    else:
        raise DataFormatError(None, "time", "a 'time' (UTC) or 'local_time' column", found="missing")
    date = pd.DatetimeIndex(t["date"]) if "date" in t.columns else local.normalize()
    if date.isna().any():
        raise DataFormatError(None, "date", "a date (or a time) on every row", found="missing")
    return local, date


def _station_rows(t: pd.DataFrame, date: pd.DatetimeIndex, category: pd.Series) -> pd.Series:
    """The row of each visit that carries its station fields: the surface row, else the visit's first."""
    key = pd.Series(date.strftime("%Y-%m-%d"), index=t.index) + "|" + t["station"].astype(str)
    has_surface = key.isin(key[category == "Surface"])
    first_of_visit = ~key.duplicated()
    is_surface = category == "Surface"
    first_surface = is_surface & ~key.where(is_surface).duplicated()
    return first_surface | (~has_surface & first_of_visit)


def _clock(stamps, i) -> str:
    """An ``H:MM`` clock as the datashare writes it (empty where unknown)."""
    return "" if stamps is None or pd.isna(stamps[i]) else f"{stamps[i].hour}:{stamps[i].minute:02d}"


def _analyte(t: pd.DataFrame, field: str, i: int) -> str:
    """One analyte cell: ``bdl`` where censored, the value otherwise; a negative concentration is refused."""
    flag = ANALYTES[field]
    if field not in t.columns:
        return ""
    if flag in t.columns and bool(t.at[i, flag]):
        return "bdl"
    value = t.at[i, field]
    if pd.notna(value) and value < 0:
        raise DataFormatError(None, field, "a non-negative concentration", found=f"{value:g} in row {i}")
    return _fmt(value)


def _sample_depth(t: pd.DataFrame, i: int, category: str) -> float:
    """The row's sample depth, or the usual one for its category (bottom: 1 m above the station depth)."""
    sample_depth = t.at[i, "sample_depth_m"] if "sample_depth_m" in t.columns else np.nan
    if pd.isna(sample_depth):
        sample_depth = {"Surface": 1.0, "Scum": 0.0}.get(category, np.nan)
        if category == "Bottom" and "station_depth_m" in t.columns and pd.notna(t.at[i, "station_depth_m"]):
            sample_depth = float(t.at[i, "station_depth_m"]) - 1.0
    return sample_depth


def write_weekly_datashare(path, table: pd.DataFrame, category_style: str = "word") -> Path:
    """Write samples as a GLERL weekly-datashare CSV (25 columns, CRLF, ``bdl`` non-detects).

    ``table`` uses the reader's columns: ``station``, ``time`` (UTC; or ``local_time``, Eastern clock),
    ``depth_category``, ``latitude``, ``longitude``, analytes with their censoring columns, and optionally
    ``date``, ``sample_depth_m``, ``station_depth_m``, ``departure_time`` (UTC) and any real datashare
    column by its header name (e.g. ``Secchi_Depth_m``, ``Sky``). Station-level fields go on the surface
    row of each visit (or the first row where a visit has no surface row), as in the real files; clock
    times are written to the minute. ``category_style``: "word" (2024: Surface/Bottom/Scum) or "letter"
    (2025: S/B).
    """
    if category_style not in ("word", "letter"):
        raise ValueError(f"category_style {category_style!r}: expected 'word' or 'letter'")
    t = table.reset_index(drop=True)
    local, date = _local_clock_and_date(t)
    category = t["depth_category"].astype(str)
    station_row = _station_rows(t, date, category)
    departure = utc_to_local(t["departure_time"]).round("min") if "departure_time" in t.columns else None

    # positions and times the reader inferred (from the visit or the station table) were not in the file
    filled_position = t["position_filled"].to_numpy(bool) if "position_filled" in t.columns else np.zeros(len(t), bool)
    filled_time = t["time_filled"].to_numpy(bool) if "time_filled" in t.columns else np.zeros(len(t), bool)
    letters = {"Surface": "S", "Bottom": "B", "Scum": "Scum", "Mid-column": "M"}
    lines = []
    for i in range(len(t)):
        cat = category[i]
        on_station = bool(station_row[i])
        sample_depth = _sample_depth(t, i, cat)
        row = {name: _fmt(t.at[i, name]) if name in t.columns else "" for name in DATASHARE_COLUMNS}
        row.update({
            "Date": f"{date[i].month}/{date[i].day}/{date[i].year}",
            "Site": str(t.at[i, "station"]),
            "Station_Depth_m": _fmt(t.at[i, "station_depth_m"]) if on_station and "station_depth_m" in t.columns else "",
            "Sample_Depth_m": _fmt(sample_depth),
            "Sample_Depth_category": letters.get(cat, cat) if category_style == "letter" else cat,
            "Arrival_Time": _clock(local, i) if on_station and not filled_time[i] else "",
            "Departure_Time": _clock(departure, i) if on_station else "",
            "Lat_deg": _fmt(t.at[i, "latitude"]) if on_station and not filled_position[i] else "",
            "Long_deg": _fmt(t.at[i, "longitude"]) if on_station and not filled_position[i] else "",
            "Particulate_Microcystin_ugL-1": _analyte(t, "particulate_microcystin", i),
            "Dissolved_Microcystin_ugL-1": _analyte(t, "dissolved_microcystin", i),
            "Extracted_PC_ugL-1": _analyte(t, "phycocyanin", i),
            "Extracted_CHLa_ugL-1": _analyte(t, "chlorophyll_a", i),
        })  # fmt: skip
        if not on_station:
            for name in ("Wind_speed_ms-1", "Sky", "Secchi_Depth_m"):
                row[name] = ""
        lines.append([row[name] for name in DATASHARE_COLUMNS])
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(DATASHARE_COLUMNS)
        writer.writerows(lines)
    return path
