"""The Lake Erie pixel table: every valid water pixel of every granule, on the 122-band model grid.

Why a table and not a stack of swaths: the learning steps need spectra, not images, and swaths of
different days share no grid. One row per pixel (``pixel`` dimension) with its time, position, granule
and ``Rrs(pixel, wavelength)`` is what pretraining, matchups and the 8-day pairs all read.

Resampling from the 172 native OCI Rrs bands to the ``paper122`` grid (2.5 nm, 415.0-717.5 nm), per
model band at wavelength w (:func:`resampling_plan`):

1. if two adjacent native bands bracket w and lie at most :data:`MAX_BRACKET_NM` (3.0 nm) apart:
   linear interpolation in wavelength between them (a native band exactly at w gets weight 1);
2. otherwise, if the nearest native band lies within ``bands.GAP_TOLERANCE_NM`` (1.25 nm): its value
   (this happens only at the edge of the OCI gap: 612.5 nm takes the 612.73 nm band);
3. otherwise NaN. That leaves exactly the nine gap bands 590.0-610.0 nm of ``bands.gap_mask`` as NaN
   (checked at import); they are missing, never invented.

A native band that is NaN in one pixel makes the model bands that use it NaN in that pixel only.

Memory stays bounded: granules are read one at a time, or one per dask task a batch at a time
(``scheduler=``; only the bbox window of each), and their water pixels are appended in input order
to a netCDF file on an unlimited ``pixel`` dimension; the full swaths of a season are never in memory
together. The file is the cache (``spectm.data.cache``): written under a temporary
name, fsync'd and renamed; its name holds a key of the inputs' names, sizes and mtimes and the settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path

import netCDF4
import numpy as np
import xarray as xr

from spectm.bands import GAP_TOLERANCE_NM, gap_mask, oci_rrs_centers, wavelength_grid
from spectm.atomic import atomic_write
from spectm.data.cache import cache_key, cache_path, open_or_discard, remove_stale_temporaries
from spectm.data.errors import DataFormatError
from spectm.data.pace import L3_RRS_EXCLUDE, SkippedFile, check_bbox, open_l2_aop

#: Largest spacing (nm) of two native bands that may be interpolated between. OCI's native spacing is
#: 2.43-2.56 nm below 590 nm and ~1.25 nm from 640 nm; the 588.1 -> 612.7 nm gap (24.6 nm) is excluded.
MAX_BRACKET_NM = 3.0

#: Version of the table layout and the resampling rule; part of the cache key.
PIXEL_TABLE_VERSION = "1"

_RESAMPLING_TEXT = (
    "linear interpolation in wavelength between the two adjacent native OCI Rrs bands that bracket the "
    f"model band when they are at most {MAX_BRACKET_NM:g} nm apart; else the nearest native band if within "
    f"{GAP_TOLERANCE_NM:g} nm; else NaN (the nine OCI gap bands 590.0-610.0 nm)"
)

_CHUNK_PIXELS = 4096


def resampling_plan(native=None, target=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per target band: (lower native index, upper native index, lower weight, upper weight).

    ``out = rrs[:, lo] * w_lo + rrs[:, hi] * w_hi``; a target band with no source has NaN weights.
    Defaults: native = the 172 OCI Rrs band centres, target = the ``paper122`` grid.
    """
    native = oci_rrs_centers() if native is None else np.asarray(native, dtype=np.float64)
    target = wavelength_grid("paper122").values if target is None else np.asarray(target, dtype=np.float64)
    if np.any(np.diff(native) <= 0):
        raise ValueError("native wavelengths must be strictly increasing")
    upper = np.clip(np.searchsorted(native, target, side="left"), 1, native.size - 1)
    lower = upper - 1
    a, b = native[lower], native[upper]
    bracketed = (a <= target) & (target <= b) & (b - a <= MAX_BRACKET_NM)
    w_hi = np.where(bracketed, (target - a) / np.where(b > a, b - a, 1.0), np.nan)
    w_lo = 1.0 - w_hi
    nearest = np.abs(target[:, None] - native[None, :]).argmin(axis=1)
    near_enough = ~bracketed & (np.abs(native[nearest] - target) <= GAP_TOLERANCE_NM)
    lower = np.where(near_enough, nearest, lower)
    upper = np.where(near_enough, nearest, upper)
    w_lo = np.where(near_enough, 1.0, w_lo)
    w_hi = np.where(near_enough, 0.0, w_hi)
    return lower, upper, w_lo, w_hi


def resample_rrs(rrs_native: np.ndarray, native=None, target=None) -> np.ndarray:
    """Rrs (..., native bands) -> (..., target bands) by :func:`resampling_plan`; float32 out."""
    lower, upper, w_lo, w_hi = resampling_plan(native, target)
    rrs = np.asarray(rrs_native, dtype=np.float32)
    out = rrs[..., lower] * w_lo.astype(np.float32) + rrs[..., upper] * w_hi.astype(np.float32)
    return out.astype(np.float32, copy=False)


def _check_plan_matches_gap_mask() -> None:
    target = wavelength_grid("paper122")
    missing = np.isnan(resampling_plan()[2])
    if not np.array_equal(missing, gap_mask(target).values):
        raise AssertionError("pixel resampling leaves NaN bands that differ from bands.gap_mask")


_check_plan_matches_gap_mask()


# --------------------------------------------------------------------------------------------------
# streaming writer


def _create_table(path: Path, wavelengths: np.ndarray) -> netCDF4.Dataset:
    nc = netCDF4.Dataset(path, "w", format="NETCDF4")
    nc.createDimension("pixel", None)
    nc.createDimension("wavelength", wavelengths.size)
    grid = wavelength_grid("paper122")
    var = nc.createVariable("wavelength", "f8", ("wavelength",))
    var.setncatts({k: v for k, v in grid.attrs.items()})
    var[:] = wavelengths
    var = nc.createVariable("gap", "i1", ("wavelength",))
    var.setncatts({"long_name": "1 where no native OCI band observes this model band (carried as NaN)"})
    var[:] = gap_mask(wavelengths).values.astype(np.int8)
    chunk = (_CHUNK_PIXELS,)
    specs = {
        "Rrs": ("f4", ("pixel", "wavelength"), (_CHUNK_PIXELS, wavelengths.size), {
            "long_name": "Remote sensing reflectance on the model grid", "units": "sr^-1",
            "standard_name": "surface_ratio_of_upwelling_radiance_emerging_from_sea_water_to_downwelling_radiative_flux_in_air",
            "resampling": _RESAMPLING_TEXT, "coordinates": "time latitude longitude"}),
        "time": ("f8", ("pixel",), chunk, {"standard_name": "time", "long_name": "scan line time (UTC)",
                                           "units": "microseconds since 1970-01-01", "calendar": "proleptic_gregorian"}),
        "latitude": ("f4", ("pixel",), chunk, {"standard_name": "latitude", "units": "degrees_north", "long_name": "Latitude"}),
        "longitude": ("f4", ("pixel",), chunk, {"standard_name": "longitude", "units": "degrees_east", "long_name": "Longitude"}),
        "granule_index": ("i4", ("pixel",), chunk, {"long_name": "position of the source granule on the granule dimension"}),
        "line": ("i4", ("pixel",), chunk, {"long_name": "scan line index in the source granule"}),
        "column": ("i4", ("pixel",), chunk, {"long_name": "pixel index in the source scan line"}),
    }  # fmt: skip
    for name, (dtype, dims, chunks, attrs) in specs.items():
        fill = np.float32(np.nan) if dtype == "f4" and name == "Rrs" else None
        var = nc.createVariable(name, dtype, dims, chunksizes=chunks, zlib=name == "Rrs", complevel=1, shuffle=True,
                                fill_value=fill if fill is not None else False)  # fmt: skip
        var.setncatts(attrs)
    return nc


def _append(nc: netCDF4.Dataset, start: int, values: dict[str, np.ndarray]) -> int:
    n = values["latitude"].size
    for name, array in values.items():
        nc.variables[name][start : start + n] = array
    return start + n


def _finish(nc: netCDF4.Dataset, granules: list[dict], attrs: dict) -> None:
    nc.createDimension("granule", len(granules))
    var = nc.createVariable("granule_name", str, ("granule",))
    var.long_name = "source granule file name"
    for i, g in enumerate(granules):
        var[i] = g["name"]
    for name, key, dtype, long_name in (
        ("granule_pixels", "pixels", "i4", "valid water pixels taken from the granule"),
        ("granule_swath_pixels", "swath_pixels", "i4", "pixels read from the granule's bbox window"),
    ):
        var = nc.createVariable(name, dtype, ("granule",))
        var.long_name = long_name
        var[:] = np.array([g[key] for g in granules], dtype=np.int32)
    nc.setncatts(attrs)


# --------------------------------------------------------------------------------------------------
# the table


#: netCDF-C/HDF5 are not thread-safe and netCDF4-python releases the GIL: one granule read at a time
#: per process (the resampling after it runs in parallel under the threaded scheduler).
_READ_LOCK = threading.Lock()

_LOCAL_SCHEDULERS = ("threads", "processes", "synchronous", "sync", "single-threaded")


def _granule_rows(path, bbox, exclude) -> tuple[dict[str, np.ndarray], int]:
    """The valid water pixels inside ``bbox`` of one granule, resampled; and the window size read.

    ``line``/``column`` index the source granule, also for a streamed subset (``spectm.data.stream``),
    whose ``subset_line_offset``/``subset_pixel_offset`` attributes are added back.
    """
    with _READ_LOCK:
        ds = open_l2_aop(path, bbox=bbox, exclude=exclude)
    line_offset = int(ds.attrs.get("subset_line_offset", 0))
    pixel_offset = int(ds.attrs.get("subset_pixel_offset", 0))
    lat, lon = ds["latitude"].values, ds["longitude"].values
    keep = ds["valid"].values.copy()
    if bbox is not None:
        west, south, east, north = bbox
        with np.errstate(invalid="ignore"):
            keep &= (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    iy, ix = np.nonzero(keep)
    rrs = resample_rrs(ds["Rrs"].values[iy, ix, :], ds["wavelength"].values)
    times = ds["time"].values[iy].astype("datetime64[us]").astype(np.int64).astype(np.float64)
    rows = {
        "Rrs": rrs,
        "time": times,
        "latitude": lat[iy, ix].astype(np.float32),
        "longitude": lon[iy, ix].astype(np.float32),
        "line": (ds["y"].values[iy] + line_offset).astype(np.int32),
        "column": (ds["x"].values[ix] + pixel_offset).astype(np.int32),
    }
    return rows, int(keep.size)


def _read_granule(path, bbox, exclude) -> tuple[tuple[dict, int] | None, str | None]:
    """One task: (rows, window size) of one granule, or the reason it is skipped; never raises for bad files."""
    try:
        return _granule_rows(path, bbox, exclude), None
    except (DataFormatError, OSError, RuntimeError, KeyError, IndexError, ValueError) as error:
        return None, f"{type(error).__name__}: {error}"


def _serial_results(paths, bbox, exclude):
    for path in paths:
        yield path, _read_granule(path, bbox, exclude)


def _dask_results(paths, bbox, exclude, scheduler, num_workers, batch_size):
    """Granule results in input order, computed ``batch_size`` granules at a time (one task per granule),
    so at most one batch of results is in memory while the table is written."""
    import dask

    task = dask.delayed(_read_granule, pure=True)
    with _kept_pool(scheduler, num_workers) as engine:
        options = {"num_workers": num_workers} if num_workers and isinstance(engine, str) else {}
        for start in range(0, len(paths), batch_size):
            batch = paths[start : start + batch_size]
            yield from zip(batch, dask.compute(*[task(p, bbox, exclude) for p in batch], scheduler=engine, **options))


@contextlib.contextmanager
def _kept_pool(scheduler, num_workers):
    """For "processes", one process pool for the whole build (dask would start, and import spectm in, a
    new pool for every batch); any other scheduler as it is."""
    if scheduler != "processes":
        yield scheduler
        return
    from concurrent.futures import ProcessPoolExecutor

    from dask.multiprocessing import get_context

    with ProcessPoolExecutor(num_workers or os.cpu_count() or 1, mp_context=get_context()) as pool:
        yield pool


def _check_engine(scheduler, num_workers, batch_size) -> None:
    for name, value in (("num_workers", num_workers), ("batch_size", batch_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    if scheduler in (None, "serial") or (isinstance(scheduler, str) and scheduler in _LOCAL_SCHEDULERS):
        return
    if "Client" in type(scheduler).__name__ and callable(getattr(scheduler, "get", None)):
        return  # a dask.distributed Client (dask.compute dispatches to its ``get``)
    raise ValueError(
        f"scheduler {scheduler!r} unknown: expected None/'serial', one of {', '.join(_LOCAL_SCHEDULERS)}, "
        "or a dask.distributed Client"
    )


def _granule_results(paths, bbox, exclude, engine: dict):
    scheduler = engine.get("scheduler")
    if scheduler in (None, "serial"):
        return _serial_results(paths, bbox, exclude)
    workers = engine.get("num_workers")
    batch = engine.get("batch_size") or 2 * (workers or os.cpu_count() or 1)
    return _dask_results(paths, bbox, exclude, scheduler, workers, batch)


def _settings(bbox, exclude) -> dict:
    return {
        "bbox": None if bbox is None else [float(v) for v in bbox],
        "exclude": sorted(exclude.replace(",", " ").split() if isinstance(exclude, str) else exclude),
        "grid": "paper122",
        "version": PIXEL_TABLE_VERSION,
        "max_bracket_nm": MAX_BRACKET_NM,
        "gap_tolerance_nm": GAP_TOLERANCE_NM,
    }


def _write_table(path: Path, granule_paths, bbox, exclude, key: str, progress: bool, engine: dict) -> list[SkippedFile]:
    wavelengths = wavelength_grid("paper122").values
    skipped: list[SkippedFile] = []
    granules: list[dict] = []
    iterator = _granule_results(granule_paths, bbox, exclude, engine)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, total=len(granule_paths), desc="pixel table", unit="granule")
    nc = _create_table(path, wavelengths)
    try:
        start = 0
        for file, (result, reason) in iterator:
            if result is None:
                skipped.append(SkippedFile(os.fspath(file), reason))
                continue
            rows, swath = result
            rows["granule_index"] = np.full(rows["latitude"].size, len(granules), np.int32)
            start = _append(nc, start, rows)
            granules.append({"name": Path(file).name, "pixels": rows["latitude"].size, "swath_pixels": swath})
        attrs = {
            "title": "Lake Erie PACE OCI water-pixel table on the 122-band model grid",
            "Conventions": "CF-1.8",
            "source": "PACE OCI L2 AOP granules (spectm.data.pace.open_l2_aop)",
            "history": "spectm.data.pixels.build_pixel_table",
            "resampling": _RESAMPLING_TEXT,
            "model_grid": "paper122",
            "bbox": json.dumps(None if bbox is None else [float(v) for v in bbox]),
            "excluded_flags": ",".join(_settings(bbox, exclude)["exclude"]),
            "cache_key": key,
            "granules_read": len(granules),
            "skipped_files": json.dumps([[s.path, s.reason] for s in skipped]),
        }
        _finish(nc, granules, attrs)
    finally:
        nc.close()
    return skipped


def skipped_files(table: xr.Dataset) -> list[SkippedFile]:
    """The files a pixel table could not read, with reasons (kept in its ``skipped_files`` attribute)."""
    return [SkippedFile(p, r) for p, r in json.loads(table.attrs.get("skipped_files", "[]"))]


def _warn_skipped(skipped: list[SkippedFile], total: int) -> None:
    if skipped:
        listing = "; ".join(f"{s.path} ({s.reason})" for s in skipped)
        warnings.warn(f"pixel table: skipped {len(skipped)} of {total} granules: {listing}", stacklevel=3)


def _open_table(path: Path, load: bool) -> xr.Dataset:
    ds = xr.load_dataset(path) if load else xr.open_dataset(path)
    names = ds["granule_name"].values.astype(str).astype(object)  # object: one shared string per granule
    granule = names[ds["granule_index"].values] if names.size else np.array([], dtype=object)
    ds = ds.assign_coords(granule=("pixel", granule, {"long_name": "source granule file name"}))
    ds = ds.set_coords(["time", "latitude", "longitude", "granule_index", "line", "column", "granule_name"])
    return ds


def build_pixel_table(granule_paths, bbox, cache_dir=None, progress: bool = True, exclude=L3_RRS_EXCLUDE,
                      scheduler=None, num_workers: int | None = None, batch_size: int | None = None) -> xr.Dataset:  # fmt: skip
    """Every valid water pixel of every granule inside ``bbox`` as ``Rrs(pixel, wavelength)``.

    ``bbox`` = (west, south, east, north) degrees (None: whole granules). Coordinates on ``pixel``:
    ``time`` (scan line, UTC), ``latitude``, ``longitude``, ``granule`` (file name), ``granule_index``,
    ``line``, ``column``; on ``granule``: ``granule_name``, ``granule_pixels``. ``wavelength`` is the
    ``paper122`` grid; the nine gap bands are NaN (``gap`` = 1). Validity follows ``open_l2_aop``
    (``exclude`` flags, default NASA's L3 Rrs set).

    With ``cache_dir`` the table is the file ``pixels-<key>.nc`` there (reused when the key matches) and is
    returned lazily backed by it; without, it is built in a temporary folder and returned in memory.
    Unreadable files are skipped, listed in ``attrs["skipped_files"]`` (see :func:`skipped_files`)
    and warned about; every other granule is kept.

    ``scheduler`` None (or "serial") reads the granules one after another in this process; a dask
    scheduler ("threads", "processes", "synchronous") or a ``dask.distributed`` Client (whose workers
    must see the same paths) reads them in parallel, one granule per task, ``batch_size`` granules
    (default twice the workers) at a time, appended in input order: the file is the same, byte for
    byte, whatever the scheduler, so the scheduler is not part of the cache key.
    """
    _check_engine(scheduler, num_workers, batch_size)
    if bbox is not None:  # refused here, not once per granule in the skipped list
        check_bbox(bbox)
    engine = {"scheduler": scheduler, "num_workers": num_workers, "batch_size": batch_size}
    paths = [Path(p) for p in granule_paths]
    key = cache_key(paths, _settings(bbox, exclude))
    if cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="spectm-pixels-") as folder:
            path = Path(folder) / f"pixels-{key}.nc"
            skipped = _write_table(path, paths, bbox, exclude, key, progress, engine)
            table = _open_table(path, load=True)
    else:
        path = cache_path(cache_dir, "pixels", key)
        remove_stale_temporaries(cache_dir)
        table = open_or_discard(path, lambda p: _open_table(p, load=False))
        if table is not None:
            skipped = skipped_files(table)
        else:
            with atomic_write(path) as tmp:
                skipped = _write_table(tmp, paths, bbox, exclude, key, progress, engine)
            table = _open_table(path, load=False)
    table.attrs["cache_file"] = os.fspath(path) if cache_dir is not None else ""
    _warn_skipped(skipped, len(paths))
    return table

