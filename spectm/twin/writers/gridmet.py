"""Write gridMET yearly netCDF files (one variable per file, packed uint16, lat descending).

The variables, packing and day numbering are the reader's (:mod:`spectm.data.gridmet`); the global
attributes follow the current gridMET files (Abatzoglou 2013, doi:10.1002/joc.3413).
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from spectm.data.gridmet import CELL_DEG, FILL, _variable, day_numbers, gridmet_filename
from spectm.twin.writers.labels import SIMULATED_BY

def _sorted_and_packed(spec, variable: str, values: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                       mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lat descending, lon ascending, uint16 values) as gridMET stores them, ``mask`` cells as fill.

    A value the packing cannot hold is refused rather than wrapped into a wrong number.
    """
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (lat.size, lon.size):
            raise ValueError(f"mask has shape {mask.shape}: expected (lat, lon) = {(lat.size, lon.size)}")
        values = np.where(mask[None], np.nan, values)
    lat_order, lon_order = np.argsort(-lat, kind="stable"), np.argsort(lon, kind="stable")
    lat, lon = lat[lat_order], lon[lon_order]
    values = values[:, lat_order][:, :, lon_order]
    packed = np.round((values - spec.add_offset) / spec.scale_factor)
    out_of_range = np.isfinite(packed) & ((packed < 0) | (packed >= FILL))
    if out_of_range.any():
        raise ValueError(f"{variable}: {int(out_of_range.sum())} values outside the packable range "
                         f"{spec.add_offset}..{spec.add_offset + (FILL - 1) * spec.scale_factor} {spec.units}")  # fmt: skip
    packed = np.where(np.isfinite(packed), packed, FILL).astype(np.uint16)
    return lat, lon, packed


def _global_attributes(lat: np.ndarray, lon: np.ndarray, step: float, n_days: int) -> dict:
    """The global attributes a gridMET yearly file carries (bounds, citation, slice notes)."""
    ring = [(lon[0], lat[0]), (lon[-1], lat[0]), (lon[-1], lat[-1]), (lon[0], lat[-1]), (lon[0], lat[0])]
    return {
        "geospatial_bounds_crs": "EPSG:4326",
        "Conventions": "CF-1.6",
        "geospatial_bounds": "POLYGON((" + ", ".join(f"{x:.10f} {y:.10f}" for x, y in ring) + "))",
        "geospatial_lat_min": float(lat.min()), "geospatial_lat_max": float(lat.max()),
        "geospatial_lon_min": float(lon.min()), "geospatial_lon_max": float(lon.max()),
        "geospatial_lon_resolution": step, "geospatial_lat_resolution": step,
        "geospatial_lat_units": "decimal_degrees north", "geospatial_lon_units": "decimal_degrees east",
        "coordinate_system": "EPSG:4326",
        "author": f"{SIMULATED_BY}: values in the gridMET layout, not gridMET data",
        "date": pd.Timestamp.now(tz="UTC").strftime("%d %B %Y"),
        "note1": "The projection information for this file is: GCS WGS 1984.",
        "note2": "Citation: Abatzoglou, J.T., 2013, Development of gridded surface meteorological data for ecological "
                 "applications and modeling, International Journal of Climatology, DOI: 10.1002/joc.3413",
        "last_permanent_slice": str(n_days),
        "last_early_slice": str(n_days),
        "last_provisional_slice": str(n_days),
        "note3": "Data in slices after last_permanent_slice (1-based) are considered provisional and subject to change "
                 "with subsequent updates",
        "note4": "Data in slices after last_provisional_slice (1-based) are considered early and subject to change "
                 "with subsequent updates",
        "note5": "Days correspond approximately to calendar days ending at midnight, Mountain Standard Time "
                 "(7 UTC the next calendar day)",
    }  # fmt: skip


def _write_axes(nc, lon: np.ndarray, lat: np.ndarray, day_values: np.ndarray, step: float) -> None:
    """Dimensions, the lon / lat / day axes and the ``crs`` variable of a gridMET file."""
    nc.createDimension("lon", lon.size)
    nc.createDimension("lat", lat.size)
    nc.createDimension("day", day_values.size)
    nc.createDimension("crs", 1)
    for name, values_1d, units, axis in (("lon", lon, "degrees_east", "X"), ("lat", lat, "degrees_north", "Y")):
        var = nc.createVariable(name, "f8", (name,), fill_value=np.nan)
        var.setncatts({"units": units, "description": "longitude" if name == "lon" else "latitude",
                       "long_name": "longitude" if name == "lon" else "latitude",
                       "standard_name": "longitude" if name == "lon" else "latitude", "axis": axis})  # fmt: skip
        var[:] = values_1d
    var = nc.createVariable("day", "f8", ("day",))
    var.setncatts({"description": "days since 1900-01-01", "units": "days since 1900-01-01", "long_name": "time",
                   "standard_name": "time", "calendar": "gregorian"})  # fmt: skip
    var[:] = day_values
    var = nc.createVariable("crs", "u2", ("crs",))
    var.setncatts({
        "grid_mapping_name": "latitude_longitude", "longitude_of_prime_meridian": 0.0,
        "semi_major_axis": 6378137.0, "long_name": "WGS 84", "inverse_flattening": 298.257223563,
        "GeoTransform": f"{lon[0]:.13f} {step:.15f} 0 {lat[0]:.15f} {-step:.15f}",
        "spatial_ref": 'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
                       'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]',
    })  # fmt: skip
    var[:] = np.array([3], dtype=np.uint16)


def _write_packed(nc, spec, packed: np.ndarray) -> None:
    """The variable itself: uint16 packed with scale and offset, chunked and compressed like gridMET's."""
    n_days, n_lat, n_lon = packed.shape
    var = nc.createVariable(spec.name, "u2", ("day", "lat", "lon"), fill_value=np.uint16(FILL), zlib=True, complevel=4,
                            chunksizes=(min(61, n_days), min(98, n_lat), min(231, n_lon)))  # fmt: skip
    var.set_auto_maskandscale(False)
    var.setncatts({
        "_Unsigned": "true", "description": spec.description, "units": spec.units, "long_name": spec.short,
        "standard_name": spec.short, "dimensions": "lon lat time", "grid_mapping": "crs",
        "coordinate_system": "WGS84,EPSG:4326", "scale_factor": np.float64(spec.scale_factor),
        "add_offset": np.float64(spec.add_offset), "missing_value": np.int16(FILL), "coordinates": "day",
    })  # fmt: skip
    var[:] = packed


def write_gridmet_year(path, variable: str, data, lat, lon, days, mask=None, attrs: dict | None = None) -> Path:
    """Write one gridMET yearly file for ``variable`` (short name, e.g. "tmmx") in the current layout.

    ``data`` is (day, lat, lon) in the variable's units, NaN = no data; ``lat``/``lon`` are cell centres
    (any order; the file stores lat descending, lon ascending, as gridMET does); ``days`` are the dates.
    ``mask`` (lat, lon), True = no data on every day (open lake water, non-US land), is applied as fill.
    If ``path`` is a directory the file is named ``<variable>_<year>.nc`` inside it. Returns the path.
    """
    spec = _variable(variable)
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    values = np.asarray(data, dtype=np.float64)
    day_values = day_numbers(days)
    if values.shape != (day_values.size, lat.size, lon.size):
        raise ValueError(f"data has shape {values.shape}: expected (day, lat, lon) = {(day_values.size, lat.size, lon.size)}")
    lat, lon, packed = _sorted_and_packed(spec, variable, values, lat, lon, mask)

    path = Path(path)
    if path.is_dir():
        years = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(days))).year
        path = path / gridmet_filename(variable, int(years[0]))
    step = float(lon[1] - lon[0]) if lon.size > 1 else CELL_DEG
    global_attrs = _global_attributes(lat, lon, step, day_values.size)
    global_attrs.update(attrs or {})
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        _write_axes(nc, lon, lat, day_values, step)
        _write_packed(nc, spec, packed)
        nc.setncatts(global_attrs)
    return path
