"""gridMET daily meteorology: one reader for the Climatology Lab's yearly files
(the twin's writer is :mod:`spectm.twin.writers.gridmet`).

One file per variable and year, ``<short>_<year>.nc`` (Abatzoglou 2013; Climatology Lab, *gridMET*;
``book/sources.md``): dims ``day``, ``lat``
(descending), ``lon`` and ``crs``; the data variable carries a CF-like name shared by several files
(``tmmx`` and ``tmmn`` both hold ``air_temperature``), so the reader names variables by the file's short
name. Values are packed uint16 (``_Unsigned``, fill 32767); open lake water and non-US land are fill,
because gridMET is a CONUS land product. A gridMET day runs from about 07:00 UTC of its date to
07:00 UTC of the next (midnight Mountain Standard Time).

The reader trusts no label it can check: values are converted from the file's ``units`` to gridMET's
(or refused when the units are unknown or the values contradict them), and a skipped, empty or
duplicated day, a day one variable lacks, a grid outside CONUS and a damaged chunk are errors.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from spectm.data.errors import DataFormatError, refuse_special_file

FILL = 32767
DAY_EPOCH = np.datetime64("1900-01-01", "D")
#: 1/24 degree, the gridMET cell size.
CELL_DEG = 1.0 / 24.0


@dataclass(frozen=True)
class GridmetVariable:
    """One gridMET variable: file prefix, name inside the file, units, packing and CF metadata."""

    short: str
    name: str
    description: str
    units: str
    scale_factor: float
    add_offset: float
    packing_confirmed: bool
    standard_name: str | None = None
    cell_methods: str | None = None


#: The 16 daily variables. Packing is confirmed for tmmx only (a real file); tmmn and pr follow one
#: public reader; the rest are project choices that cover gridMET's range at the stated precision.
VARIABLES: dict[str, GridmetVariable] = {v.short: v for v in (
    GridmetVariable("pr", "precipitation_amount", "Daily Accumulated Precipitation", "mm", 0.1, 0.0, False,
                    "lwe_thickness_of_precipitation_amount", "time: sum"),
    GridmetVariable("rmax", "relative_humidity", "Daily Maximum Relative Humidity", "%", 0.1, 0.0, False,
                    "relative_humidity", "time: maximum"),
    GridmetVariable("rmin", "relative_humidity", "Daily Minimum Relative Humidity", "%", 0.1, 0.0, False,
                    "relative_humidity", "time: minimum"),
    GridmetVariable("sph", "specific_humidity", "Daily Mean Specific Humidity", "kg/kg", 1e-05, 0.0, False,
                    "specific_humidity", "time: mean"),
    GridmetVariable("srad", "surface_downwelling_shortwave_flux_in_air", "Daily Mean Downward Shortwave Radiation At Surface",
                    "W m-2", 0.1, 0.0, False, "surface_downwelling_shortwave_flux_in_air", "time: mean"),
    GridmetVariable("th", "wind_from_direction", "Daily Mean Wind Direction", "degree", 1.0, 0.0, False,
                    "wind_from_direction", "time: mean"),
    GridmetVariable("tmmn", "air_temperature", "Daily Minimum Temperature", "K", 0.1, 210.0, False,
                    "air_temperature", "time: minimum"),
    GridmetVariable("tmmx", "air_temperature", "Daily Maximum Temperature", "K", 0.1, 220.0, True,
                    "air_temperature", "time: maximum"),
    GridmetVariable("vs", "wind_speed", "Daily Mean Wind Speed", "m/s", 0.1, 0.0, False, "wind_speed", "time: mean"),
    GridmetVariable("bi", "burning_index_g", "Daily Mean Burning Index", "1", 0.1, 0.0, False),
    GridmetVariable("fm100", "dead_fuel_moisture_100hr", "100-hour Dead Fuel Moisture", "%", 0.1, 0.0, False),
    GridmetVariable("fm1000", "dead_fuel_moisture_1000hr", "1000-hour Dead Fuel Moisture", "%", 0.1, 0.0, False),
    GridmetVariable("erc", "energy_release_component-g", "Daily Mean Energy Release Component", "1", 0.1, 0.0, False),
    GridmetVariable("etr", "potential_evapotranspiration", "Daily Alfalfa Reference Evapotranspiration", "mm", 0.1, 0.0, False),
    GridmetVariable("pet", "potential_evapotranspiration", "Daily Grass Reference Evapotranspiration", "mm", 0.1, 0.0, False),
    GridmetVariable("vpd", "mean_vapor_pressure_deficit", "Daily Mean Vapor Pressure Deficit", "kPa", 0.01, 0.0, False),
)}  # fmt: skip

_FILE_NAME = re.compile(r"^(?P<short>[a-z0-9]+)_(?P<year>\d{4})\.nc$")


def gridmet_filename(variable: str, year: int) -> str:
    """The name of a yearly file, e.g. ``tmmx_2024.nc``."""
    _variable(variable)
    return f"{variable}_{int(year)}.nc"


def _variable(short: str) -> GridmetVariable:
    if short not in VARIABLES:
        raise ValueError(f"unknown gridMET variable {short!r}: expected one of {', '.join(VARIABLES)}")
    return VARIABLES[short]


def day_numbers(days) -> np.ndarray:
    """Dates -> gridMET ``day`` values (days since 1900-01-01, e.g. 2024-01-01 -> 45290)."""
    dates = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(days))).normalize()
    return ((dates.to_numpy().astype("datetime64[D]") - DAY_EPOCH) / np.timedelta64(1, "D")).astype(np.float64)


def _collect(paths) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files.extend(sorted(p for p in entry.glob("*_*.nc") if _FILE_NAME.match(p.name)))
        else:
            files.append(entry)
    return files


def _data_variable(ds: xr.Dataset, path) -> str:
    candidates = [name for name, var in ds.data_vars.items() if {"lat", "lon"} <= set(var.dims)]
    if len(candidates) != 1:
        raise DataFormatError(path, "data variable", "exactly one variable on (day, lat, lon)",
                              found=", ".join(candidates) or "none")  # fmt: skip
    return candidates[0]


def _short_name(path: Path, ds: xr.Dataset, name: str) -> str:
    match = _FILE_NAME.match(path.name)
    if match and match["short"] in VARIABLES:
        return match["short"]
    long_name = str(ds[name].attrs.get("long_name", ""))
    if long_name in VARIABLES:
        return long_name
    raise DataFormatError(path, "file name", "<short>_<year>.nc with a gridMET short name, or long_name = short name",
                          found=path.name)  # fmt: skip


def _check_variable_name(path, name: str, short: str) -> None:
    """Another gridMET variable's name inside the file means it is that variable's file, misnamed: without
    units to tell, a temperature file saved as ``pr_2024.nc`` would read as 290 mm of rain a day."""
    expected = VARIABLES[short].name
    if name != expected and name in {spec.name for spec in VARIABLES.values()}:
        raise DataFormatError(path, "data variable", f"{expected!r} (the file name says {short})", found=repr(name))


# --------------------------------------------------------------------------------------------------
# units and plausibility

_CELSIUS = (1.0, 273.15)
_FAHRENHEIT = (5.0 / 9.0, 273.15 - 32.0 * 5.0 / 9.0)

#: For each gridMET unit: the spellings a file may carry -> (scale, offset) to reach it
#: (``value * scale + offset``). Spellings are compared lower-case without spaces, ``_``, ``^`` or ``**``.
UNIT_CONVERSIONS: dict[str, dict[str, tuple[float, float]]] = {
    "K": {"k": (1.0, 0.0), "kelvin": (1.0, 0.0), "degk": (1.0, 0.0), "degreesk": (1.0, 0.0),
          "degc": _CELSIUS, "c": _CELSIUS, "celsius": _CELSIUS, "degreesc": _CELSIUS, "degreescelsius": _CELSIUS,
          "degf": _FAHRENHEIT, "f": _FAHRENHEIT, "fahrenheit": _FAHRENHEIT, "degreesf": _FAHRENHEIT},
    "mm": {"mm": (1.0, 0.0), "millimeters": (1.0, 0.0), "millimetres": (1.0, 0.0), "kgm-2": (1.0, 0.0),
           "kg/m2": (1.0, 0.0), "cm": (10.0, 0.0), "m": (1000.0, 0.0), "in": (25.4, 0.0), "inch": (25.4, 0.0),
           "inches": (25.4, 0.0)},
    "%": {"%": (1.0, 0.0), "percent": (1.0, 0.0), "1": (100.0, 0.0), "fraction": (100.0, 0.0)},
    "kg/kg": {"kg/kg": (1.0, 0.0), "kgkg-1": (1.0, 0.0), "1": (1.0, 0.0), "g/kg": (1e-3, 0.0), "gkg-1": (1e-3, 0.0)},
    "W m-2": {"wm-2": (1.0, 0.0), "w/m2": (1.0, 0.0), "wattsm-2": (1.0, 0.0), "w/m-2": (1.0, 0.0)},
    "degree": {"degree": (1.0, 0.0), "degrees": (1.0, 0.0), "deg": (1.0, 0.0),
               "degreesclockwisefromnorth": (1.0, 0.0), "degreesfromnorth": (1.0, 0.0)},
    "m/s": {"m/s": (1.0, 0.0), "ms-1": (1.0, 0.0), "m/sec": (1.0, 0.0), "km/h": (1.0 / 3.6, 0.0),
            "kmh-1": (1.0 / 3.6, 0.0), "knots": (0.514444, 0.0), "kt": (0.514444, 0.0), "mph": (0.44704, 0.0)},
    "1": {"1": (1.0, 0.0), "": (1.0, 0.0), "unitless": (1.0, 0.0), "dimensionless": (1.0, 0.0), "none": (1.0, 0.0)},
    "kPa": {"kpa": (1.0, 0.0), "pa": (1e-3, 0.0), "hpa": (0.1, 0.0), "mb": (0.1, 0.0), "mbar": (0.1, 0.0)},
}  # fmt: skip

#: Bounds on daily values in gridMET units (generous bounds around the minima and maxima of the Google Earth
#: Engine catalogue entry IDAHO_EPSCOR/GRIDMET): a value outside means the file's units or packing are not what it says.
#: They catch mislabelled units, not bad physics (simulated humidity may overshoot 100 % a little).
PLAUSIBLE_RANGE: dict[str, tuple[float, float]] = {
    "pr": (0.0, 1000.0), "rmax": (0.0, 150.0), "rmin": (0.0, 150.0), "sph": (0.0, 0.05), "srad": (0.0, 600.0),
    "th": (0.0, 360.0), "tmmn": (180.0, 340.0), "tmmx": (180.0, 340.0), "vs": (0.0, 80.0), "bi": (0.0, 500.0),
    "fm100": (0.0, 100.0), "fm1000": (0.0, 100.0), "erc": (0.0, 300.0), "etr": (0.0, 60.0), "pet": (0.0, 40.0),
    "vpd": (0.0, 20.0),
}  # fmt: skip


def _unit_key(units: str) -> str:
    text = units.strip().lower().replace("\u00b0", "deg")
    for token in (" ", "_", "^", "**"):
        text = text.replace(token, "")
    return text


def _to_gridmet_units(array: xr.DataArray, file_units, spec: GridmetVariable, path) -> xr.DataArray:
    """Convert values from the file's units to gridMET's; no ``units`` attribute means gridMET's own."""
    if file_units is None:
        return array
    table = UNIT_CONVERSIONS[spec.units]
    key = _unit_key(str(file_units))
    if key not in table:
        raise DataFormatError(path, f"{spec.short} ({spec.name}) units", f"{spec.units} or a convertible spelling "
                              f"({', '.join(sorted(k for k in table if k))})", found=repr(str(file_units)))  # fmt: skip
    scale, offset = table[key]
    return array if (scale, offset) == (1.0, 0.0) else array * scale + offset


def _check_plausible(array: xr.DataArray, spec: GridmetVariable, path) -> None:
    """Every value within :data:`PLAUSIBLE_RANGE`; names the first offending date and value."""
    low, high = PLAUSIBLE_RANGE[spec.short]
    values = array.values
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(values) & ((values < low) | (values > high))
    if bad.any():
        day, row, col = np.argwhere(bad)[0]
        date = str(array["time"].values[day])[:10]
        raise DataFormatError(path, f"{spec.short} ({spec.name})", f"values within {low:g}..{high:g} {spec.units} "
                              "(check the units attribute and scale_factor/add_offset)",
                              found=f"{values[day, row, col]:.6g} on {date}")  # fmt: skip


def _check_days(array: xr.DataArray, spec: GridmetVariable, path) -> None:
    """A yearly file holds consecutive days with data: a skipped or all-fill day is an error naming the date."""
    days = array["time"].values.astype("datetime64[D]")
    steps = np.diff(days)
    if (steps != np.timedelta64(1, "D")).any():
        gap = int(np.flatnonzero(steps != np.timedelta64(1, "D"))[0])
        found = f"{days[gap + 1]} after {days[gap]}"
        expected = f"consecutive days (missing {days[gap] + 1})" if steps[gap] > np.timedelta64(1, "D") else "increasing days"
        raise DataFormatError(path, f"{spec.short} day", expected, found=found)
    has_data = np.isfinite(array.values).reshape(days.size, -1).any(axis=1)
    if has_data.any() and not has_data.all():
        empty = days[~has_data][0]
        raise DataFormatError(path, f"{spec.short} ({spec.name})", "data on every day of the file",
                              found=f"only fill on {empty} ({int((~has_data).sum())} such days)")  # fmt: skip


def _read_array(ds: xr.Dataset, path, bbox) -> tuple[xr.DataArray, str, str | None]:
    """The data variable (day, lat, lon) cropped to ``bbox`` and loaded; its short name and file units."""
    name = _data_variable(ds, path)
    if "day" not in ds[name].dims:
        raise DataFormatError(path, f"{name} dims", "a 'day' dimension", found=str(ds[name].dims))
    short = _short_name(path, ds, name)
    _check_variable_name(path, name, short)
    _check_grid(ds, path)
    array = ds[name].transpose("day", "lat", "lon")
    if bbox is not None:
        west, south, east, north = bbox
        lat, lon = ds["lat"].values, ds["lon"].values
        array = array.isel(lat=np.flatnonzero((lat >= south) & (lat <= north)),
                           lon=np.flatnonzero((lon >= west) & (lon <= east)))  # fmt: skip
    file_units = ds[name].attrs.get("units")
    return array.load().rename({"day": "time"}).rename(short), short, file_units


#: gridMET covers CONUS (25.07-49.40 N, 124.77-67.06 W); coordinates outside this box are not gridMET's.
CONUS_BOX = {"lat": (20.0, 55.0), "lon": (-130.0, -60.0)}


def _check_grid(ds: xr.Dataset, path) -> None:
    """``lat``/``lon`` finite, inside CONUS and evenly spaced (a corrupted or foreign grid is refused)."""
    for axis, (low, high) in CONUS_BOX.items():
        if axis not in ds.variables:
            raise DataFormatError(path, axis, f"a {axis} coordinate", found="missing")
        values = np.asarray(ds[axis].values, dtype=np.float64).reshape(-1)
        if not (np.isfinite(values).all() and (values >= low).all() and (values <= high).all()):
            raise DataFormatError(path, axis, f"finite degrees within {low:g}..{high:g} (CONUS)",
                                  found=f"{np.nanmin(values):g}..{np.nanmax(values):g}" if np.isfinite(values).any() else "no finite value")  # fmt: skip
        steps = np.diff(values)
        if steps.size and ((steps == 0).any() or (np.abs(steps - steps.mean()) > 0.01 * abs(steps.mean())).any()):
            raise DataFormatError(path, axis, "evenly spaced cell centres (one step, about 1/24 degree)",
                                  found=f"steps {steps.min():.6g}..{steps.max():.6g}")  # fmt: skip


def open_gridmet_file(path, bbox=None) -> xr.DataArray:
    """One yearly file as DataArray(time, lat, lon) named by the short name, cropped to ``bbox``.

    Values come back in gridMET's units (:data:`VARIABLES`): a file in other units (degC, inches, ...)
    is converted (:data:`UNIT_CONVERSIONS`), unknown units are an error, and a file without a units
    attribute is taken to be in gridMET's units. Values outside :data:`PLAUSIBLE_RANGE` (a mislabelled
    file), a skipped day or a day with no data at all raise :class:`DataFormatError`.
    """
    path = Path(path)
    refuse_special_file(path, "a gridMET yearly netCDF file")
    try:
        ds = xr.open_dataset(path, engine="netcdf4")
    except FileNotFoundError:
        raise
    except (OSError, ValueError, OverflowError, RuntimeError, AttributeError) as error:  # HDF5 damage, day values that are not dates
        raise DataFormatError(path, "file", "a readable gridMET netCDF file", found=str(error)) from error
    with ds:
        try:
            array, short, file_units = _read_array(ds, path, bbox)
        except (RuntimeError, OSError, OverflowError, AttributeError) as error:  # a chunk, attribute or day that does not decode
            raise DataFormatError(path, "file", "readable data (every compressed chunk decodes)",
                                  found=f"{type(error).__name__}: {error}") from error  # fmt: skip
    spec = VARIABLES[short]
    array = _to_gridmet_units(array, file_units, spec, path)
    _check_days(array, spec, path)
    _check_plausible(array, spec, path)
    array = array.drop_vars([c for c in array.coords if c not in ("time", "lat", "lon")])
    array.attrs = {
        "units": spec.units, "long_name": spec.description, "gridmet_variable": spec.name, "source_file": os.fspath(path),
        **({"units_in_file": str(file_units)} if file_units is not None and str(file_units) != spec.units else {}),
        **({"standard_name": spec.standard_name} if spec.standard_name else {}),
        **({"cell_methods": spec.cell_methods} if spec.cell_methods else {}),
    }  # fmt: skip
    array["time"].attrs = {"standard_name": "time", "long_name": "gridMET day (about 07:00 UTC of this date to 07:00 UTC of the next)"}
    array["lat"].attrs = {"units": "degrees_north", "standard_name": "latitude"}
    array["lon"].attrs = {"units": "degrees_east", "standard_name": "longitude"}
    return array


def _check_same_days(merged: dict[str, xr.DataArray]) -> None:
    """No day twice for one variable, and every variable on the same days.

    Otherwise the Dataset would align them silently: a day one variable lacks becomes NaN in it.
    """
    for name, array in merged.items():
        days = array["time"].values.astype("datetime64[D]")
        if (np.diff(days) <= np.timedelta64(0, "D")).any():
            twice = days[1:][np.diff(days) <= np.timedelta64(0, "D")][0]
            raise DataFormatError(_files(array), f"{name} day", "each day once (one file per variable and year)",
                                  found=f"{twice} twice")  # fmt: skip
    every = np.unique(np.concatenate([a["time"].values.astype("datetime64[D]") for a in merged.values()]))
    for name, array in merged.items():
        missing = np.setdiff1d(every, array["time"].values.astype("datetime64[D]"))
        if missing.size:
            raise DataFormatError(_files(array), f"{name} day", f"the days the other variables have ({every[0]} - {every[-1]})",
                                  found=f"{missing.size} missing, first {missing[0]}")  # fmt: skip


def _files(array: xr.DataArray) -> str:
    return str(array.attrs.get("source_file", "<gridMET files>"))


def open_gridmet(paths, variables=None, bbox=None) -> xr.Dataset:
    """Yearly gridMET files (paths, or directories holding ``<short>_<year>.nc``) as Dataset(time, lat, lon).

    Variables are named by short name (``tmmx``, ``pr``, ...); ``variables`` keeps only those; ``bbox`` is
    (west, south, east, north) degrees. Years of one variable are concatenated along ``time``. ``lat``
    stays descending, as in the files. All files must share one grid (the pre-2019 grid is offset by
    about 0.004 degrees from the current one): a mismatch raises :class:`DataFormatError`.
    """
    wanted = None if variables is None else [variables] if isinstance(variables, str) else list(variables)
    by_variable: dict[str, list[xr.DataArray]] = {}
    first = None
    for path in _collect(paths):
        match = _FILE_NAME.match(path.name)
        if wanted is not None and match and match["short"] not in wanted:
            continue
        array = open_gridmet_file(path, bbox)
        if first is None:
            first = array
        elif not (np.array_equal(array["lat"], first["lat"]) and np.array_equal(array["lon"], first["lon"])):
            raise DataFormatError(path, "lat/lon", f"the grid of {first.attrs['source_file']} (files are combined cell by cell)",
                                  found=f"{array.sizes['lat']}x{array.sizes['lon']} cells from {float(array['lat'][0]):.4f} N")  # fmt: skip
        if wanted is None or array.name in wanted:
            by_variable.setdefault(str(array.name), []).append(array)
    if not by_variable and not wanted:
        where = paths if isinstance(paths, (str, os.PathLike)) else ", ".join(map(str, paths)) or "the empty list given"
        raise FileNotFoundError(f"no gridMET yearly files (<short>_<year>.nc) in {where}")
    missing = [v for v in (wanted or []) if v not in by_variable]
    if missing:
        raise FileNotFoundError(f"no gridMET files for {', '.join(missing)} in {paths!r}")
    merged = {name: xr.concat(sorted(arrays, key=lambda a: a["time"].values[0]), "time") if len(arrays) > 1 else arrays[0]
              for name, arrays in by_variable.items()}  # fmt: skip
    _check_same_days(merged)
    ds = xr.Dataset(merged)
    ds.attrs = {"title": "gridMET daily surface meteorology", "references": "Abatzoglou (2013), doi:10.1002/joc.3413"}
    return ds
