"""GLERL western Lake Erie weekly samples: read every official CSV layout (the twin's
writer of the weekly datashare is :mod:`spectm.twin.writers.glerl`).

Three layouts are public (Boegehold et al. 2023, ESSD; NOAA GLERL, *Lake Erie Microcystin Sampling Data*;
``book/sources.md``): the GLERL weekly datashare (2024-), the NCEI-style
2012-2019 files (Latin-1, units in the headers) and the 2020-2022 snake_case files. The layout is
detected from the header. All three become one table with one row per sample:

- ``time`` is UTC. Files give Eastern local clock times; they are converted once, DST-aware, with
  zoneinfo "America/New_York" (EDT = UTC-4 in the sampling season, EST = UTC-5 otherwise).
- Non-detects stay censored: ``<0.1`` gives value 0.1 and ``mc_censored`` True; ``bdl`` (no limit in the
  file) gives the microcystin limit 0.1 ug/L (the limit the NCEI files state) and NaN for pigments,
  censored either way. A censored value is never passed off as a measurement.
- Station-level fields (time, position, station depth) are written only on the surface row of a visit;
  other rows of the same visit inherit them, and core stations without a recorded position get the
  nominal one (``position_filled`` / ``time_filled`` say so).
- Spreadsheet damage is screened, never passed on silently: UTF-16 and CR-only files are read; station
  ids are normalised (``we2`` -> ``WE2``) and unknown sites dropped with a warning; exact duplicate rows
  are dropped and conflicting ones kept, both reported (warning and ``attrs``); a lost position sign
  is an error.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import xarray as xr

from spectm.data.errors import DataFormatError, refuse_special_file

EASTERN = ZoneInfo("America/New_York")

#: Detection limit (ug/L) used for ``bdl`` cells that carry no limit of their own.
BDL_LIMITS = {"particulate_microcystin": 0.1, "dissolved_microcystin": 0.1}

#: Cells that mean "no value" (not sampled, no data, not applicable, placeholder).
MISSING_TOKENS = frozenset({"", "ns", "nd", "n/a", "na", ".", "nan"})

#: Analytes of the output table: value column -> censoring column.
ANALYTES = {
    "particulate_microcystin": "mc_censored",
    "dissolved_microcystin": "dissolved_mc_censored",
    "chlorophyll_a": "chla_censored",
    "phycocyanin": "pc_censored",
}

UNITS = {
    "particulate_microcystin": "ug L-1",
    "dissolved_microcystin": "ug L-1",
    "chlorophyll_a": "ug L-1",
    "phycocyanin": "ug L-1",
    "latitude": "degrees_north",
    "longitude": "degrees_east",
    "sample_depth_m": "m",
    "station_depth_m": "m",
}

# (station, nominal lat, nominal lon, HAB-F fill-in lat, lon, water depth S2 (m), 2024 median depth (m),
#  bottom sampled, years present) - glerl.md section 2.
_STATION_ROWS = [
    ("WE2", 41.7621, -83.3306, 41.762, -83.330, 6.0, 5.53, True, "2012-2022, 2024-2025"),
    ("WE4", 41.8262, -83.1955, 41.827, -83.193, 9.0, 8.67, False, "2012-2022, 2024-2025"),
    ("WE6", 41.7058, -83.3856, 41.705, -83.385, 2.75, 3.13, False, "2012-2022, 2024-2025"),
    ("WE8", 41.8340, -83.3591, 41.834, -83.364, 5.0, 5.22, True, "2012-2022, 2024-2025"),
    ("WE9", 41.7178, -83.4237, 41.718, -83.424, 3.0, 2.74, False, "2016-2022, 2024-2025"),
    ("WE12", 41.7027, -83.2542, 41.703, -83.254, 7.0, 6.88, True, "2014-2022, 2024-2025"),
    ("WE13", 41.7427, -83.1363, 41.741, -83.136, 9.5, 9.23, True, "2014-2022, 2024-2025"),
    ("WE16", 41.6591, -83.1454, 41.660, -83.143, 6.5, 6.20, False, "2018-2022, 2024-2025"),
    ("WE14", 41.7185, -83.0162, np.nan, np.nan, np.nan, np.nan, False, "2015"),
    ("WE15", 41.6176, -83.0125, np.nan, np.nan, np.nan, np.nan, False, "2015-2017"),
]

#: The eight stations sampled weekly.
CORE_STATIONS = ("WE2", "WE4", "WE6", "WE8", "WE9", "WE12", "WE13", "WE16")

#: Nominal positions (lat, lon), the median 2024 surface positions.
STATION_POSITIONS: dict[str, tuple[float, float]] = {row[0]: (row[1], row[2]) for row in _STATION_ROWS}


def station_table() -> pd.DataFrame:
    """The GLERL stations with nominal position, water depth and sampling history (a fresh copy)."""
    columns = ["station", "latitude", "longitude", "habf_fill_latitude", "habf_fill_longitude",
               "water_depth_m", "water_depth_2024_median_m", "bottom_sampled", "years"]  # fmt: skip
    return pd.DataFrame(_STATION_ROWS, columns=columns).set_index("station")


# --------------------------------------------------------------------------------------------------
# layouts

DATASHARE_COLUMNS = (
    "Date", "Site", "Station_Depth_m", "Sample_Depth_m", "Sample_Depth_category", "Arrival_Time",
    "Departure_Time", "Lat_deg", "Long_deg", "Wind_speed_ms-1", "Sky", "Secchi_Depth_m", "Temp_C",
    "SpCond_uScm-1", "BeamAtten_m-1", "Transmiss_pct", "DO_mgL-1", "PAR_uEcm-2s-1", "Turbidity_NTU",
    "Particulate_Microcystin_ugL-1", "Dissolved_Microcystin_ugL-1", "Extracted_PC_ugL-1",
    "Extracted_CHLa_ugL-1", "Total_cyanobacteria_genes_copiesmL-1", "mycE_genes_copiesmL-1",
)  # fmt: skip

# canonical field -> header name, per layout. Fields marked optional below may be absent.
_LAYOUTS = {
    "weekly_datashare": {
        "date": "Date", "station": "Site", "station_depth_m": "Station_Depth_m",
        "sample_depth_m": "Sample_Depth_m", "depth_category": "Sample_Depth_category",
        "clock": "Arrival_Time", "latitude": "Lat_deg", "longitude": "Long_deg",
        "particulate_microcystin": "Particulate_Microcystin_ugL-1",
        "dissolved_microcystin": "Dissolved_Microcystin_ugL-1",
        "phycocyanin": "Extracted_PC_ugL-1", "chlorophyll_a": "Extracted_CHLa_ugL-1",
    },
    "ncei_2012_2019": {
        "date": "Date", "station": "Site", "station_depth_m": "Station Depth (m)",
        "sample_depth_m": "Sample Depth (m)", "depth_category": "Sample Depth (category)",
        "clock": "Local Time (Eastern Time Zone)", "latitude": "Latitude (decimal deg)",
        "longitude": "Longitude (decimal deg)",
        "particulate_microcystin": "Particulate Microcystin (\u00b5g/L)",
        "dissolved_microcystin": "Dissolved Microcystin (\u00b5g/L)",
        "phycocyanin": "Extracted Phycocyanin (\u00b5g/L)",
        "chlorophyll_a": "Extracted Chlorophyll a (\u00b5g/L)",
    },
    "ncei_2020_2022": {
        "date": "date", "station": "station_name", "station_depth_m": "station_depth_m",
        "sample_depth_m": "sample_depth_m", "depth_category": "sample_depth_category", "clock": "time",
        "latitude": "lat", "longitude": "lon", "particulate_microcystin": "particulate_microcystin",
        "dissolved_microcystin": "dissolved_microcystin", "phycocyanin": "extracted_phycocyanin",
        "chlorophyll_a": "extracted_chla",
    },
}  # fmt: skip
_OPTIONAL = {"station_depth_m", "sample_depth_m", "dissolved_microcystin", "phycocyanin"}

_CATEGORIES = {"surface": "Surface", "s": "Surface", "bottom": "Bottom", "b": "Bottom", "scum": "Scum",
               "mid-column": "Mid-column", "mid": "Mid-column", "m": "Mid-column"}  # fmt: skip


def detect_layout(header: list[str], file=None) -> str:
    """Which official layout a header row belongs to (``weekly_datashare``, ``ncei_2012_2019``, ``ncei_2020_2022``)."""
    names = {name.strip() for name in header}
    if "Particulate_Microcystin_ugL-1" in names or "Arrival_Time" in names:
        return "weekly_datashare"
    if "Local Time (Eastern Time Zone)" in names or any(n.startswith("Particulate Microcystin (") for n in names):
        return "ncei_2012_2019"
    if "particulate_microcystin" in names or "station_name" in names or "sample_id" in names:
        return "ncei_2020_2022"
    raise DataFormatError(file, "header", "a GLERL weekly-datashare, NCEI 2012-2019 or 2020-2022 header",
                          found=", ".join(list(header)[:5]) + ("..." if len(header) > 5 else ""))  # fmt: skip


def _decode(raw: bytes) -> str:
    """UTF-16 (BOM, or NUL-interleaved without one), UTF-8 (BOM tolerated), else Latin-1 as in the NCEI
    2012-2019 files. Line ends become ``\\n`` whatever they were (CRLF, LF or old-Mac CR only)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    elif len(raw) >= 4 and raw[1:4:2] == b"\0\0" and raw[0:4:2].count(0) == 0:
        text = raw.decode("utf-16-le")
    elif len(raw) >= 4 and raw[0:4:2] == b"\0\0" and raw[1:4:2].count(0) == 0:
        text = raw.decode("utf-16-be")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------------------------------
# stations

#: Site ids that are not in the station table but occur in the real files (glerl.md section 2):
#: one-off bloom sites (``WE 2012.1``, ``2024.3``), transect samples (``T1-4-S``), the compiled file's
#: ``Transect`` and the two spreadsheet-mangled 2014 labels (``1-Aug``).
_OTHER_SITE_PATTERNS = (r"(WE ?)?\d{4}\.\d+", r"T\d+-\d+-[SB]", r"TRANSECT", r"\d+-AUG")


def normalise_station(name: str) -> str:
    """``we2`` / ``WE 2`` -> ``WE2``; other known id forms upper-cased the way the files write them."""
    text = " ".join(str(name).split())
    upper = text.upper()
    core = re.fullmatch(r"WE ?(\d+)", upper)
    if core and f"WE{core[1]}" in STATION_POSITIONS:
        return f"WE{core[1]}"
    if upper == "TRANSECT":
        return "Transect"
    if re.fullmatch(r"\d+-AUG", upper):
        return upper[:-3] + "Aug"
    return upper if any(re.fullmatch(p, upper) for p in _OTHER_SITE_PATTERNS) else text


def is_known_station(name: str) -> bool:
    """A station of the table or a site id of a documented form (one-off, transect)."""
    upper = str(name).upper()
    return name in STATION_POSITIONS or any(re.fullmatch(p, upper) for p in _OTHER_SITE_PATTERNS)


# --------------------------------------------------------------------------------------------------
# cell parsing


def _row_numbers(mask: np.ndarray) -> list[int]:
    return (np.flatnonzero(mask) + 2).tolist()  # 1-based file line, after the header


def _parse_measure(cells: pd.Series, file, field: str, bdl_limit: float, allow_censored: bool = True):
    """Numbers, censored non-detects and missing tokens of one column -> (values, censored)."""
    text = cells.fillna("").astype(str).str.strip()
    lower = text.str.lower()
    missing = lower.isin(MISSING_TOKENS).to_numpy()
    bdl = (lower == "bdl").to_numpy()
    less = text.str.match(r"^<\s*[0-9.]").to_numpy()
    number_text = text.str.replace(r"^<\s*", "", regex=True).str.replace(r"\s*(\u00b1|\+/-).*$", "", regex=True)
    values = pd.to_numeric(number_text.where(~(missing | bdl), None), errors="coerce").to_numpy(np.float64)
    bad = ~(missing | bdl) & ~np.isfinite(values)
    censored = less | bdl
    if not allow_censored:
        bad |= censored
    if bad.any():
        row = _row_numbers(bad)[0]
        expected = "a number, '<limit', 'bdl' or an empty/ns/nd cell" if allow_censored else "a number or an empty cell"
        raise DataFormatError(file, field, expected, found=f"{text.to_numpy()[bad][0]!r} on line {row}")
    negative = np.isfinite(values) & (values < 0)
    if negative.any() and allow_censored:
        raise DataFormatError(file, field, "a non-negative concentration",
                              found=f"{values[negative][0]:g} on line {_row_numbers(negative)[0]}")  # fmt: skip
    values = np.where(bdl, bdl_limit, values)
    return values, censored


def _parse_dates(cells: pd.Series, file, field: str) -> pd.Series:
    text = cells.fillna("").astype(str).str.strip()
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for fmt in ("%m/%d/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%m/%d/%y"):
        todo = parsed.isna()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataFormatError(file, field, "a date M/D/YYYY or YYYY-MM-DD",
                              found=f"{text.to_numpy()[bad][0]!r} on line {_row_numbers(bad)[0]}")  # fmt: skip
    return parsed.dt.normalize()


def _parse_clock(cells: pd.Series, file, field: str) -> pd.Series:
    """``H:MM`` or ``H:MM:SS`` -> time of day as timedelta (NaT where empty)."""
    text = cells.fillna("").astype(str).str.strip()
    parts = text.str.extract(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$").astype(float)
    empty = text.str.lower().isin(MISSING_TOKENS).to_numpy()
    hours, minutes, seconds = parts[0].to_numpy(), parts[1].to_numpy(), np.nan_to_num(parts[2].to_numpy())
    bad = ~empty & ~((hours < 24) & (minutes < 60) & (seconds < 60))
    if bad.any():
        raise DataFormatError(file, field, "a clock time H:MM (24-hour)",
                              found=f"{text.to_numpy()[bad][0]!r} on line {_row_numbers(bad)[0]}")  # fmt: skip
    total = np.where(empty, np.nan, hours * 3600 + minutes * 60 + seconds)
    return pd.Series(pd.to_timedelta(total, unit="s"), index=text.index)


def local_to_utc(local_clock) -> pd.DatetimeIndex:
    """Naive US Eastern clock times -> naive UTC (DST-aware; ambiguous fall-back hour read as EST)."""
    local = pd.DatetimeIndex(local_clock)
    aware = local.tz_localize(EASTERN, ambiguous=np.zeros(len(local), dtype=bool), nonexistent="shift_forward")
    return aware.tz_convert("UTC").tz_localize(None)


def utc_to_local(utc) -> pd.DatetimeIndex:
    """Naive UTC times -> naive US Eastern clock times."""
    return pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(EASTERN).tz_localize(None)


# --------------------------------------------------------------------------------------------------
# reader


def _table(text: str, path) -> pd.DataFrame:
    """All cells as strings; a row longer than the header is an error (it would shift every column)."""
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise DataFormatError(path, "header", "a header row", found="an empty file")
    header = [name.strip() for name in rows[0]]
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:  # which of the two columns holds the data cannot be told
        raise DataFormatError(path, "header", "each column name once", found=f"{twice[0]!r} {header.count(twice[0])} times")
    if len(rows) == 1:  # a stub or a cut download: an empty table would read as a season without samples
        raise DataFormatError(path, "rows", "at least one sample row after the header", found="none")
    width = len(header)
    lengths = np.array([len(row) for row in rows[1:]], dtype=int)
    if (lengths > width).any():
        line = int(np.flatnonzero(lengths > width)[0]) + 2
        raise DataFormatError(path, "row", f"at most {width} fields like the header", found=f"{lengths.max()} on line {line}")
    body = [row + [""] * (width - len(row)) for row in rows[1:]]
    return pd.DataFrame(body, columns=header, dtype=str)


def read_glerl_csv(path, fill_station_fields: bool = True, keep_unknown_stations: bool = False) -> pd.DataFrame:
    """Read one GLERL sample CSV of any official layout into the common sample table.

    Columns: ``station``, ``date`` (local sampling date), ``local_time`` (Eastern clock), ``time`` (UTC),
    ``depth_category`` (Surface/Bottom/Scum/Mid-column), ``sample_depth_m``, ``station_depth_m``,
    ``latitude``, ``longitude``, each analyte of :data:`ANALYTES` (ug/L) with its censoring column,
    ``time_filled``, ``position_filled`` and ``source_format``; index ``sample``.

    Station ids are normalised (``we2`` -> ``WE2``); rows of a site that is neither in the station table
    nor of a documented id form are dropped with a warning unless ``keep_unknown_stations``. Exact
    duplicate rows are dropped with a warning; rows of the same sample (station, date, depth) with
    different values are kept, both, with a warning: replicate or typo cannot be told apart here.
    ``attrs`` record all three (``unknown_stations``, ``duplicates_dropped``, ``conflicting_lines``).
    A longitude east of Greenwich or a southern latitude (a lost sign) is an error naming the line.
    """
    path = Path(path)
    refuse_special_file(path, "a GLERL sample CSV")
    raw = path.read_bytes()
    text = _decode(raw)
    table = _table(text, path)
    layout = detect_layout(list(table.columns), path)
    names = dict(_LAYOUTS[layout])
    if layout == "ncei_2020_2022" and "station_name" not in table.columns and "sample_id" in table.columns:
        names["station"] = "sample_id"
    for field, column in names.items():
        if column not in table.columns and field not in _OPTIONAL:
            raise DataFormatError(path, column, f"a {column!r} column in the {layout} layout", found="missing")

    def cells(field):
        column = names[field]
        return table[column] if column in table.columns else pd.Series("", index=table.index)

    out = pd.DataFrame(index=pd.RangeIndex(len(table), name="sample"))
    out["station"] = cells("station").str.strip().to_numpy()
    out["date"] = _parse_dates(cells("date"), path, names["date"]).to_numpy()
    clock = _parse_clock(cells("clock"), path, names["clock"])
    out["local_time"] = (out["date"] + clock.to_numpy()).to_numpy()
    category = cells("depth_category").str.strip()
    mapped = category.str.lower().map(_CATEGORIES)
    unknown = mapped.isna().to_numpy() & (category != "").to_numpy()
    if unknown.any():
        raise DataFormatError(path, names["depth_category"], "Surface/Bottom/Scum/Mid-column or S/B",
                              found=f"{category.to_numpy()[unknown][0]!r} on line {_row_numbers(unknown)[0]}")  # fmt: skip
    out["depth_category"] = mapped.to_numpy()
    for field in ("sample_depth_m", "station_depth_m", "latitude", "longitude"):
        out[field], _ = _parse_measure(cells(field), path, names[field], np.nan, allow_censored=False)
    for field, flag in ANALYTES.items():
        out[field], out[flag] = _parse_measure(cells(field), path, names[field], BDL_LIMITS.get(field, np.nan))
    _check_positions(out, path, names)
    out, notes = _screen_rows(out, path, keep_unknown_stations)
    out["time_filled"] = False
    out["position_filled"] = False
    if fill_station_fields:
        out = _fill_station_fields(out)
    out["time"] = local_to_utc(out["local_time"])
    out["source_format"] = layout
    out = out[_OUTPUT_COLUMNS]
    out.attrs = {"source_file": os.fspath(path), "layout": layout, "time_zone": "UTC", "units": dict(UNITS), **notes}
    return out


def _check_positions(out: pd.DataFrame, path, names: dict) -> None:
    """Lake Erie is north and west: a positive longitude or negative latitude is a lost sign, not data
    (so is a negative depth).

    No such row is known in the real files (glerl.md lists wrong positions, all with the right signs),
    so the reader refuses the file instead of guessing which sign was meant.
    """
    for field, bad, expected in (
        ("sample_depth_m", out["sample_depth_m"] < 0, "a depth below the surface: 0 m or more"),
        ("station_depth_m", out["station_depth_m"] < 0, "a water depth: 0 m or more"),
        ("longitude", ~(out["longitude"] < 0) & out["longitude"].notna(), "a west longitude: negative degrees (about -83 for Lake Erie)"),
        ("latitude", ~((out["latitude"] > 0) & (out["latitude"] <= 90)) & out["latitude"].notna(), "a north latitude: 0..90 degrees (about 41.7)"),
        ("longitude", out["longitude"] < -180, "a longitude within -180..0 degrees"),
    ):  # fmt: skip
        if bad.any():
            line = _row_numbers(bad.to_numpy())[0]
            raise DataFormatError(path, names[field], expected, found=f"{out[field][bad].iloc[0]:g} on line {line}")


_SAMPLE_KEY = ["station", "date", "depth_category", "sample_depth_m"]


def _screen_rows(out: pd.DataFrame, path, keep_unknown_stations: bool) -> tuple[pd.DataFrame, dict]:
    """Normalise station ids, drop unknown sites and exact duplicates, report conflicting duplicates."""
    out["station"] = [normalise_station(name) for name in out["station"]]
    known = np.array([is_known_station(name) for name in out["station"]], dtype=bool)
    unknown = sorted(set(out["station"][~known]))
    lines = pd.Series(_row_numbers(np.ones(len(out), bool)), index=out.index)
    if unknown:
        action = "kept (keep_unknown_stations=True)" if keep_unknown_stations else "dropped"
        warnings.warn(f"{path}: {int((~known).sum())} rows of unknown stations {unknown} {action} "
                      "(not in the GLERL station table nor a one-off/transect id)", stacklevel=3)  # fmt: skip
        if not keep_unknown_stations:
            out, lines = out[known], lines[known]
    exact = out.duplicated(keep="first").to_numpy()
    if exact.any():
        warnings.warn(f"{path}: dropped {int(exact.sum())} duplicated rows (lines "
                      f"{', '.join(map(str, lines[exact][:10]))}): same station, time and values as an earlier row", stacklevel=3)  # fmt: skip
        out, lines = out[~exact], lines[~exact]
    clash = out.duplicated(_SAMPLE_KEY, keep=False).to_numpy()
    if clash.any():
        warnings.warn(f"{path}: {int(clash.sum())} rows (lines {', '.join(map(str, lines[clash][:10]))}) give "
                      "different values for the same station, date and sample depth; all kept", stacklevel=3)  # fmt: skip
    notes = {"unknown_stations": unknown, "duplicates_dropped": int(exact.sum()), "conflicting_lines": lines[clash].tolist()}
    return out.reset_index(drop=True).rename_axis("sample"), notes


_OUTPUT_COLUMNS = [
    "station", "date", "local_time", "time", "depth_category", "sample_depth_m", "station_depth_m",
    "latitude", "longitude", *[c for pair in ANALYTES.items() for c in pair], "time_filled", "position_filled",
    "source_format",
]  # fmt: skip


def _fill_station_fields(out: pd.DataFrame) -> pd.DataFrame:
    """Give every row of a visit (date, station) the surface row's time, position and station depth."""
    fields = ["local_time", "latitude", "longitude", "station_depth_m"]
    surface = out[out["depth_category"] == "Surface"].drop_duplicates(["date", "station"])[["date", "station", *fields]]
    visit = out[["date", "station"]].merge(surface, on=["date", "station"], how="left").set_index(out.index)
    no_position = out["latitude"].isna() | out["longitude"].isna()
    no_time = out["local_time"].isna()
    for field in fields:
        out[field] = out[field].fillna(visit[field]) if field != "local_time" else out[field].where(~no_time, visit[field])
    nominal = out["station"].map(lambda s: STATION_POSITIONS.get(s, (np.nan, np.nan)))
    still = out["latitude"].isna() | out["longitude"].isna()
    out.loc[still, "latitude"] = [p[0] for p in nominal[still]]
    out.loc[still, "longitude"] = [p[1] for p in nominal[still]]
    out["time_filled"] = no_time & out["local_time"].notna()
    out["position_filled"] = no_position & out["latitude"].notna()
    return out


def read_glerl_many(paths, keep_unknown_stations: bool = False) -> pd.DataFrame:
    """Read several GLERL files (any layouts) into one table, in the order given."""
    frames = [read_glerl_csv(p, keep_unknown_stations=keep_unknown_stations) for p in paths]
    if not frames:
        raise FileNotFoundError("no GLERL sample files given (expected the season's CSV files)")
    combined = pd.concat(frames, ignore_index=True)
    combined.index.name = "sample"
    combined.attrs = {
        "source_files": [f.attrs["source_file"] for f in frames], "time_zone": "UTC", "units": dict(UNITS),
        "unknown_stations": sorted({s for f in frames for s in f.attrs["unknown_stations"]}),
        "duplicates_dropped": sum(f.attrs["duplicates_dropped"] for f in frames),
        "conflicting_lines": {f.attrs["source_file"]: f.attrs["conflicting_lines"] for f in frames if f.attrs["conflicting_lines"]},
    }  # fmt: skip
    return combined


def samples_to_dataset(table: pd.DataFrame) -> xr.Dataset:
    """The sample table as an xarray Dataset on a ``sample`` dimension, with CF attributes."""
    ds = xr.Dataset.from_dataframe(table.reset_index(drop=True).rename_axis("sample"))
    long_names = {
        "particulate_microcystin": "particulate microcystin concentration (censored values at detection limit)",
        "dissolved_microcystin": "dissolved microcystin concentration (censored values at detection limit)",
        "chlorophyll_a": "extracted chlorophyll a concentration",
        "phycocyanin": "extracted phycocyanin concentration",
        "time": "sample time (UTC)",
        "local_time": "sample time, US Eastern local clock",
    }
    for name, units in UNITS.items():
        ds[name].attrs["units"] = units
    for name, long_name in long_names.items():
        ds[name].attrs["long_name"] = long_name
    ds["latitude"].attrs["standard_name"] = "latitude"
    ds["longitude"].attrs["standard_name"] = "longitude"
    ds["time"].attrs["standard_name"] = "time"
    for flag in ANALYTES.values():
        ds[flag].attrs["long_name"] = "True where the value is a non-detect (value = detection limit or NaN)"
    ds.attrs = {k: v for k, v in table.attrs.items() if isinstance(v, str)}
    return ds


def datashare_filename(year: int) -> str:
    """GLERL's name for a season's weekly datashare, e.g. ``2024_WLE_Weekly_Datashare_CSV.csv``."""
    return f"{int(year)}_WLE_Weekly_Datashare_CSV.csv"

