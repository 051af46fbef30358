"""PACE OCI Level-2 AOP granules (Rrs): read real and simulated ones alike (the twin's writer is
:mod:`spectm.twin.writers.pace`).

Two on-disk layouts exist (NASA OB.DAAC release notes for V3.2, nasa/oceandata-notebooks; l2gen's
``l2_generic.c`` in NASA OCSSW): layout A (processing versions 3.0/3.1) stores
``Rrs(number_of_lines, pixels_per_line, wavelength_3d)`` with integer nominal wavelengths in
``sensor_band_parameters``; layout B (3.2) gives ``geophysical_data`` its own float ``wavelength``
dimension, which shares its name with a different 286-band dimension in ``sensor_band_parameters``.
The reader therefore never merges groups: it reads each variable it needs from its own group, detects
the layout from Rrs's dimensions (never from the file name), and puts both layouts on the same float
band-centre coordinate so granules of either version line up.

Quality: ``valid`` applies NASA's own L3 exclusion set for OCI Rrs (:data:`L3_RRS_EXCLUDE`,
0x0629D73B), read from the ``l2_flag_names`` of a real V3.1 L3m RRS file.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from spectm.bands import oci_rrs_centers, oci_rrs_nominal
from spectm.data.errors import DataFormatError, refuse_special_file

# --------------------------------------------------------------------------------------------------
# l2_flags

#: The 32 ``l2_flags`` meanings of V3.1 files, in bit order (bit 0 first).
FLAG_NAMES: tuple[str, ...] = (
    "ATMFAIL", "LAND", "PRODWARN", "HIGLINT", "HILT", "HISATZEN", "COASTZ", "SPARE",
    "STRAYLIGHT", "CLDICE", "COCCOLITH", "TURBIDW", "HISOLZEN", "SPARE", "LOWLW", "CHLFAIL",
    "NAVWARN", "ABSAER", "SPARE", "MAXAERITER", "MODGLINT", "CHLWARN", "ATMWARN", "OPSHAL",
    "SEAICE", "NAVFAIL", "FILTER", "SPARE", "BOWTIEDEL", "HIPOL", "PRODFAIL", "SPARE",
)  # fmt: skip

#: NASA's L3 exclusion set for OCI Rrs (``l2_flag_names`` of a real V3.1 L3m RRS file): a pixel
#: carrying any of these flags is not binned. As a mask: 0x0629D73B.
L3_RRS_EXCLUDE: tuple[str, ...] = (
    "ATMFAIL", "LAND", "HILT", "HISATZEN", "STRAYLIGHT", "CLDICE", "COCCOLITH", "LOWLW",
    "CHLWARN", "CHLFAIL", "NAVWARN", "MAXAERITER", "HISOLZEN", "NAVFAIL", "FILTER", "HIGLINT",
)  # fmt: skip

#: l2gen's ``mask_names``: pixels carrying these flags are fill in every geophysical variable.
L2GEN_MASK_NAMES: tuple[str, ...] = ("ATMFAIL", "LAND", "CLDICE", "HILT")


def _as_int32(value: int) -> int:
    """Unsigned 32-bit pattern -> the signed value an int32 ``l2_flags`` array holds (bit 31 < 0)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= (1 << 31) else value


def flag_bits(names) -> int:
    """The int32 mask of ``names`` (a comma/space separated string or an iterable of flag names).

    Returned as the signed value of an int32, so ``(l2_flags & flag_bits(...)) != 0`` is right even
    for bit 31. A name used by several bits (``SPARE``) selects all of them.
    """
    if isinstance(names, str):
        names = names.replace(",", " ").split()
    mask = 0
    for name in names:
        bits = [bit for bit, flag in enumerate(FLAG_NAMES) if flag == name.upper()]
        if not bits:
            raise ValueError(f"unknown l2_flags name {name!r}: expected one of {', '.join(sorted(set(FLAG_NAMES)))}")
        for bit in bits:
            mask |= 1 << bit
    return _as_int32(mask)


def flag_masks() -> np.ndarray:
    """The ``flag_masks`` attribute of real files: int32 2^0 ... 2^30, -2^31."""
    return np.array([_as_int32(1 << bit) for bit in range(32)], dtype=np.int32)


def any_flag(flags, names) -> np.ndarray | xr.DataArray:
    """True where a pixel carries any of ``names``: ``(flags & mask) != 0`` on int32 flags."""
    mask = np.int32(flag_bits(names))
    if isinstance(flags, xr.DataArray):
        return (flags.astype(np.int32) & mask) != 0
    return (np.asarray(flags).astype(np.int32) & mask) != 0


def flag_names(value: int) -> list[str]:
    """The flag names set in one ``l2_flags`` value, in bit order."""
    value = int(value) & 0xFFFFFFFF
    return [name for bit, name in enumerate(FLAG_NAMES) if value >> bit & 1]


def decode_flags(flags) -> xr.DataArray:
    """Every bit of ``flags`` as booleans along a new trailing ``flag`` dimension (32 entries).

    The ``flag`` coordinate holds the names and ``bit`` the bit numbers; select by bit, since the
    name ``SPARE`` occurs four times.
    """
    data = flags if isinstance(flags, xr.DataArray) else xr.DataArray(np.asarray(flags))
    bits = xr.DataArray(flag_masks(), dims="flag", coords={"flag": list(FLAG_NAMES), "bit": ("flag", np.arange(32))})
    decoded = (data.astype(np.int32) & bits) != 0
    decoded.attrs = {"long_name": "Level-2 processing flags, one boolean per bit"}
    return decoded.transpose(*data.dims, "flag")


# --------------------------------------------------------------------------------------------------
# file names and layouts

LAYOUT_VERSIONS = {"3.0": "A", "3.1": "A", "3.2": "B"}

#: Seconds between OCI scan lines (a 5-minute granule holds about 1710 lines).
LINE_PERIOD_S = 300.0 / 1710.0

RRS_PACKING = {"scale_factor": 2e-06, "add_offset": 0.05, "_FillValue": -32767, "valid_min": -30000, "valid_max": 25000}
RRS_UNC_PACKING = {"scale_factor": 5e-08, "add_offset": 0.0015, "_FillValue": -32767, "valid_min": -30000, "valid_max": 30000}
RRS_STANDARD_NAME = "surface_ratio_of_upwelling_radiance_emerging_from_sea_water_to_downwelling_radiative_flux_in_air"
NAV_FILL = -999.0
INT_FILL = -32767


def _utc(time) -> pd.Timestamp:
    stamp = pd.Timestamp(time)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def l2_aop_filename(start_time, version: str = "3.1", nrt: bool = False) -> str:
    """The OB.DAAC file name of an L2 AOP granule, e.g. ``PACE_OCI.20240715T181233.L2.OC_AOP.V3_1.nc``.

    The stamp is ``time_coverage_start`` to the second (UTC); NRT granules add ``.NRT`` before ``.nc``.
    """
    version = _version(version)
    stamp = _utc(start_time).strftime("%Y%m%dT%H%M%S")
    return f"PACE_OCI.{stamp}.L2.OC_AOP.V{version.replace('.', '_')}{'.NRT' if nrt else ''}.nc"


def _version(layout: str) -> str:
    aliases = {"A": "3.1", "B": "3.2"}
    version = aliases.get(str(layout).upper(), str(layout))
    if version not in LAYOUT_VERSIONS:
        raise ValueError(f"unknown PACE L2 layout {layout!r}: expected one of 3.0, 3.1, 3.2 (or A, B)")
    return version


# --------------------------------------------------------------------------------------------------
# reader


def _open(path) -> netCDF4.Dataset:
    refuse_special_file(path, "a PACE OCI L2 netCDF file")
    try:
        return netCDF4.Dataset(os.fspath(path), "r")
    except FileNotFoundError:
        raise
    except OSError as error:
        raise DataFormatError(path, "file", "a readable netCDF-4/HDF5 PACE OCI L2 file", found=str(error)) from error


def _get(nc, path, name: str):
    """Group or variable at ``name`` (slash path), or a DataFormatError naming it."""
    node = nc
    for part in name.split("/"):
        children = {**getattr(node, "groups", {}), **getattr(node, "variables", {})}
        if part not in children:
            raise DataFormatError(path, name, f"{part!r} in the PACE OCI L2 AOP structure", found="missing")
        node = children[part]
    return node


def _field(var) -> str:
    """``group/name`` of a variable, as the errors name it."""
    return f"{var.group().path.strip('/')}/{var.name}".lstrip("/")


def _read_raw(var, index=slice(None), path=None) -> np.ndarray:
    """``var[index]`` unscaled; a chunk HDF5 cannot decode (corrupted download) -> DataFormatError."""
    var.set_auto_maskandscale(False)
    try:
        return np.asarray(var[index])
    except (RuntimeError, OSError, ValueError) as error:
        raise DataFormatError(path, _field(var), "readable data (every compressed chunk decodes)",
                              found=f"{type(error).__name__}: {error}") from error  # fmt: skip


def _unpack(var, index=slice(None), path=None) -> np.ndarray:
    """Read ``var[index]`` as float32 with fill -> NaN and scale/offset applied (netCDF4's semantics: without
    ``_FillValue`` the type's default fill is fill, or -32767 in packed Rrs would read as -0.0155 sr^-1)."""
    raw = _read_raw(var, index, path)
    attrs = var.ncattrs()
    data = raw.astype(np.float32)
    if "scale_factor" in attrs:
        data = data * np.float32(var.getncattr("scale_factor"))
    if "add_offset" in attrs:
        data = data + np.float32(var.getncattr("add_offset"))
    fills = [var.getncattr(key) for key in ("_FillValue", "missing_value") if key in attrs]
    if not fills and raw.dtype.itemsize > 1:  # no fill attribute: netCDF's default fill marks unwritten values
        fills = [netCDF4.default_fillvals.get(raw.dtype.str[1:])]
    for fill in fills:
        if fill is not None:
            data[raw == fill] = np.nan
    return data


def _check_wavelengths(nc, path, rrs_var) -> tuple[str, np.ndarray]:
    """Layout ("A" or "B") and the float band centres of Rrs's last axis; error if the grid is not OCI's."""
    nominal, centers = oci_rrs_nominal(), oci_rrs_centers()
    band_dim = rrs_var.dimensions[-1]
    size = rrs_var.shape[-1]
    if band_dim == "wavelength":
        field = "geophysical_data/wavelength"
        values = _unpack(_get(nc, path, field), path=path).astype(np.float64) if "wavelength" in rrs_var.group().variables else None
        layout = "B"
        if values is None:
            raise DataFormatError(path, field, "a float wavelength coordinate for layout B (3.2)", found="missing")
        ok = values.size == centers.size and np.allclose(values, centers, atol=0.01)
    else:
        field = "sensor_band_parameters/wavelength_3d"
        layout = "A"
        values = _unpack(_get(nc, path, field), path=path).astype(np.float64)
        ok = values.size == nominal.size and size == nominal.size and np.array_equal(values, nominal)
    if not ok or size != centers.size:
        shown = f"{values.size} values ({values[0]:g}-{values[-1]:g} nm)" if values.size else "0 values"
        raise DataFormatError(path, field, f"the {centers.size} OCI Rrs bands 346-719 nm", found=shown)
    return layout, centers.copy()


#: Scan-line times outside this span are fill or garbage (PACE launched in February 2024).
SCAN_TIME_SPAN = (np.datetime64("2020-01-01", "ns"), np.datetime64("2100-01-01", "ns"))


def _times_from_seconds(seconds: np.ndarray) -> np.ndarray:
    """Seconds since 1970 -> datetime64[ns]; non-finite or absurd values (fill) -> NaT."""
    seconds = np.asarray(seconds, dtype=np.float64)
    ok = np.isfinite(seconds) & (np.abs(seconds) < 1e10)
    micro = np.round(np.where(ok, seconds, 0.0) * 1e6).astype("timedelta64[us]")
    times = (np.datetime64("1970-01-01", "us") + micro).astype("datetime64[ns]")
    return np.where(ok, times, np.datetime64("NaT", "ns"))


def _times_from_year_day_msec(year, day, msec) -> np.ndarray:
    """l2gen's year / day-of-year / millisecond-of-day columns -> datetime64[ns]; out-of-range -> NaT."""
    year, day, msec = (np.asarray(v, dtype=np.int64) for v in (year, day, msec))
    ok = (year >= 1970) & (year < 2200) & (day >= 1) & (day <= 366) & (msec >= 0) & (msec <= 86_400_000)
    year, day, msec = (np.where(ok, v, d) for v, d in ((year, 1970), (day, 1), (msec, 0)))
    start = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    times = (start + msec.astype("timedelta64[ms]")).astype("datetime64[ns]")
    return np.where(ok, times, np.datetime64("NaT", "ns"))


def _plausible_times(times: np.ndarray) -> np.ndarray:
    return ~np.isnat(times) & (times >= SCAN_TIME_SPAN[0]) & (times < SCAN_TIME_SPAN[1])


def _scan_line_times(nc, path, lines: int) -> np.ndarray:
    """One UTC time per scan line from ``time``, else from ``year``/``day``/``msec``.

    A file with no usable time on any line is an error: every pixel of it would carry NaT, and a
    matchup would silently pair it with nothing (or, after an integer cast, with 1677). Lines whose
    time alone is fill stay NaT and their pixels are not ``valid``.
    """
    group = nc.groups.get("scan_line_attributes")
    times = np.full(lines, np.datetime64("NaT", "ns"))
    if group is not None and "time" in group.variables:
        times = _times_from_seconds(_read_raw(group.variables["time"], path=path))
    if not _plausible_times(times).any() and group is not None and {"year", "day", "msec"} <= set(group.variables):
        times = _times_from_year_day_msec(*(_read_raw(group.variables[k], path=path) for k in ("year", "day", "msec")))
    ok = _plausible_times(times)
    if times.shape != (lines,) or not ok.any():
        names = set(group.variables) if group is not None else set()
        found = "only fill" if "time" in names or {"year", "day", "msec"} <= names else "missing"
        found = f"{times.size} values" if times.shape != (lines,) else found
        raise DataFormatError(path, "scan_line_attributes/time", f"one time per scan line ({lines}), seconds since "
                              "1970-01-01 (or year/day/msec) within 2020-2100", found=found)  # fmt: skip
    return np.where(ok, times, np.datetime64("NaT", "ns"))


def _check_navigation(path, lat: np.ndarray, lon: np.ndarray) -> None:
    """Latitudes within +-90, longitudes within +-180, and at least one navigated pixel."""
    for field, values, limit in (("navigation_data/latitude", lat, 90.0), ("navigation_data/longitude", lon, 180.0)):
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise DataFormatError(path, field, "navigated pixels (not every value fill)", found="only fill")
        worst = float(finite[np.argmax(np.abs(finite))])
        if abs(worst) > limit:
            raise DataFormatError(path, field, f"degrees within -{limit:g}..{limit:g}", found=f"{worst:g}")


#: Spellings of sr^-1 accepted on Rrs.
RRS_UNITS = frozenset({"sr^-1", "sr-1", "1/sr", "sr**-1", "sr^{-1}", "sr^(-1)", "per sr", "per steradian"})
#: The unpacked ``valid_max`` of Rrs: 0.1 sr^-1 in real files; outside this span the packing is not Rrs's.
RRS_VALID_MAX_SPAN = (0.05, 0.25)
#: The median of finite Rrs over a granule window: water sits near 0.001-0.03 sr^-1 (turbid or scum
#: pixels a little higher); a larger or clearly negative median means the values are not Rrs in sr^-1.
RRS_MEDIAN_SPAN = (-0.005, 0.06)


def _check_rrs_metadata(path, var) -> None:
    """Rrs's units, names and packed valid range must be those of remote sensing reflectance in sr^-1."""
    field = "geophysical_data/Rrs"
    attrs = {k: var.getncattr(k) for k in var.ncattrs()}
    units = str(attrs.get("units", "")).strip()
    if units.replace(" ", "") not in {u.replace(" ", "") for u in RRS_UNITS}:
        raise DataFormatError(path, f"{field} units", "sr^-1 (remote sensing reflectance)", found=repr(units) if units else "missing")
    standard_name = str(attrs.get("standard_name", RRS_STANDARD_NAME))
    if standard_name != RRS_STANDARD_NAME:
        raise DataFormatError(path, f"{field} standard_name", RRS_STANDARD_NAME, found=repr(standard_name))
    long_name = str(attrs.get("long_name", "remote sensing reflectance"))
    if "remote sensing reflectance" not in long_name.lower():
        raise DataFormatError(path, f"{field} long_name", "'Remote sensing reflectance'", found=repr(long_name))
    if np.issubdtype(var.dtype, np.integer) and "scale_factor" not in attrs:  # whole numbers cannot be Rrs
        raise DataFormatError(path, f"{field} scale_factor", "a scale_factor for integer-packed Rrs (real files: 2e-06)",
                              found=f"missing on {var.dtype}")  # fmt: skip
    if "valid_max" in attrs:
        top = float(attrs["valid_max"]) * float(attrs.get("scale_factor", 1.0)) + float(attrs.get("add_offset", 0.0))
        low, high = RRS_VALID_MAX_SPAN
        if not low <= top <= high:
            raise DataFormatError(path, f"{field} scale_factor/add_offset", f"packing whose valid_max unpacks to "
                                  f"{low:g}-{high:g} sr^-1 (real files: 0.1)", found=f"{top:g}")  # fmt: skip


def _check_rrs_values(path, rrs: np.ndarray) -> None:
    """The median of the read Rrs must look like water Rrs in sr^-1 (catches rescaled or rho files)."""
    flat = rrs.reshape(-1)
    if flat.size > 2_000_000:
        flat = flat[np.linspace(0, flat.size - 1, 2_000_000).astype(np.int64)]
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return
    median = float(np.median(flat))
    low, high = RRS_MEDIAN_SPAN
    if not low <= median <= high:
        raise DataFormatError(path, "geophysical_data/Rrs", f"water Rrs in sr^-1 (median {low:g}..{high:g})",
                              found=f"median {median:.4g}")  # fmt: skip


def check_bbox(bbox) -> tuple[float, float, float, float]:
    """``bbox`` as four floats, or ValueError: an inverted box selects no pixel and would read as an empty lake."""
    values = tuple(float(v) for v in bbox) if bbox is not None and len(bbox) == 4 else ()
    if len(values) != 4 or not all(np.isfinite(values)) or values[0] > values[2] or values[1] > values[3]:
        raise ValueError(
            f"bbox must be finite (west, south, east, north) with west <= east and south <= north, got {bbox!r}"
        )
    return values  # type: ignore[return-value]


def _bbox_window(lat: np.ndarray, lon: np.ndarray, bbox) -> tuple[slice, slice]:
    if bbox is None:
        return slice(None), slice(None)
    inside = _inside(lat, lon, bbox)
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _inside(lat, lon, bbox) -> np.ndarray:
    west, south, east, north = bbox
    with np.errstate(invalid="ignore"):
        return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def open_l2_aop(path, bbox=None, exclude=L3_RRS_EXCLUDE) -> xr.Dataset:
    """Read an L2 AOP granule of either layout into ``Rrs(y, x, wavelength)`` with lat/lon/time coords.

    ``bbox`` = (west, south, east, north) degrees crops to the smallest line/pixel window holding every
    pixel inside it (only that window is read). ``exclude`` is the flag set that makes a pixel not
    ``valid``; the default is NASA's L3 set for OCI Rrs. ``valid`` is also False where navigation or
    every Rrs band is fill, and where the scan line has no time. Raises :class:`DataFormatError`
    (naming file, field and expectation) for non-netCDF files, missing groups or variables, an
    unexpected wavelength grid, Rrs whose units, names, packing or typical values are not those of
    remote sensing reflectance in sr^-1, navigation out of range or all fill, no scan-line times, and
    compressed chunks that do not decode.
    """
    if bbox is not None:
        bbox = check_bbox(bbox)
    try:
        return _read_granule(path, bbox, exclude)
    except (RuntimeError, OSError, AttributeError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        # HDF5 metadata (an attribute, a B-tree) that does not decode: the file is damaged
        raise DataFormatError(path, "file", "a readable netCDF-4/HDF5 PACE OCI L2 file",
                              found=f"{type(error).__name__}: {error}") from error  # fmt: skip


def _check_grid_shapes(path, rrs_var, lat: np.ndarray, lon: np.ndarray, flags_var) -> None:
    """Navigation and flags must cover the same (lines, pixels) as Rrs, or pixels would be mislocated."""
    for name, array in (("navigation_data/latitude", lat), ("navigation_data/longitude", lon), ("geophysical_data/l2_flags", flags_var)):
        if array.shape != rrs_var.shape[:2]:
            raise DataFormatError(path, name, f"shape {rrs_var.shape[:2]} like Rrs", found=str(array.shape))


def _read_window(path, rrs_var, flags_var, rows: slice, cols: slice, shape: tuple[int, int],
                 n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """(Rrs, l2_flags) of the bbox window only: a granule is large and most of it lies outside the lake."""
    if not np.prod(shape):
        return np.empty(shape + (n_bands,), np.float32), np.empty(shape, np.int32)
    rrs = _unpack(rrs_var, (rows, cols, slice(None)), path=path)
    flags = _read_raw(flags_var, (rows, cols), path).astype(np.int32)
    _check_rrs_values(path, rrs)
    return rrs, flags


def _read_granule(path, bbox, exclude) -> xr.Dataset:
    """:func:`open_l2_aop` without the last-resort translation of HDF5 errors."""
    with _open(path) as nc:
        rrs_var = _get(nc, path, "geophysical_data/Rrs")
        flags_var = _get(nc, path, "geophysical_data/l2_flags")
        lat_var = _get(nc, path, "navigation_data/latitude")
        lon_var = _get(nc, path, "navigation_data/longitude")
        if rrs_var.ndim != 3:
            raise DataFormatError(path, "geophysical_data/Rrs", "3 dims (lines, pixels, wavelength)", found=str(rrs_var.dimensions))
        layout, wavelengths = _check_wavelengths(nc, path, rrs_var)
        _check_rrs_metadata(path, rrs_var)
        lat, lon = _unpack(lat_var, path=path), _unpack(lon_var, path=path)
        _check_grid_shapes(path, rrs_var, lat, lon, flags_var)
        _check_navigation(path, lat, lon)
        times = _scan_line_times(nc, path, rrs_var.shape[0])
        rows, cols = _bbox_window(lat, lon, bbox)
        lat, lon, times = lat[rows, cols], lon[rows, cols], times[rows]
        rrs, flags = _read_window(path, rrs_var, flags_var, rows, cols, lat.shape, wavelengths.size)
        line_index = np.arange(rrs_var.shape[0])[rows]
        pixel_index = np.arange(rrs_var.shape[1])[cols]
        rrs_attrs = {k: rrs_var.getncattr(k) for k in ("long_name", "units", "standard_name") if k in rrs_var.ncattrs()}
        root_attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}

    exclude_mask = flag_bits(exclude)
    valid = ((flags & np.int32(exclude_mask)) == 0) & np.isfinite(lat) & np.isfinite(lon) & np.isfinite(rrs).any(axis=-1)
    valid &= ~np.isnat(times)[:, None]
    coords = {
        "wavelength": ("wavelength", wavelengths, {"units": "nm", "long_name": "band centre wavelength", "standard_name": "radiation_wavelength"}),
        "nominal_wavelength": ("wavelength", oci_rrs_nominal(), {"units": "nm", "long_name": "nominal OCI band wavelength"}),
        "y": ("y", line_index, {"long_name": "scan line index in the granule"}),
        "x": ("x", pixel_index, {"long_name": "pixel index in the scan line"}),
        "latitude": (("y", "x"), lat, {"units": "degrees_north", "standard_name": "latitude", "long_name": "Latitude"}),
        "longitude": (("y", "x"), lon, {"units": "degrees_east", "standard_name": "longitude", "long_name": "Longitude"}),
        "time": ("y", times, {"long_name": "scan line time (UTC)", "standard_name": "time"}),
    }
    data_vars = {
        "Rrs": (("y", "x", "wavelength"), rrs, {**{"long_name": "Remote sensing reflectance", "units": "sr^-1"}, **rrs_attrs}),
        "l2_flags": (("y", "x"), flags, {"long_name": "Level-2 Processing Flags", "flag_masks": flag_masks(),
                                         "flag_meanings": " ".join(FLAG_NAMES)}),
        "valid": (("y", "x"), valid, {
            "long_name": "pixel usable for Rrs (no excluded flag, navigation and Rrs present)",
            "excluded_flags": ",".join(exclude if not isinstance(exclude, str) else exclude.split(",")),
            "excluded_mask": f"0x{exclude_mask & 0xFFFFFFFF:08X}",
        }),
    }  # fmt: skip
    attrs = {
        **{k: v for k, v in root_attrs.items() if isinstance(v, (str, int, float, np.number))},
        "source_file": os.fspath(path),
        "layout": layout,
        "granule_start": root_attrs.get("time_coverage_start", str(times[0]) if times.size else ""),
    }
    if bbox is not None:
        attrs["bbox"] = list(map(float, bbox))
    return xr.Dataset(data_vars, coords, attrs)


def water_pixels(ds: xr.Dataset, bbox=None) -> xr.Dataset:
    """The ``valid`` pixels of a granule inside ``bbox`` (west, south, east, north) along a 1-D ``pixel`` dim.

    ``y``/``x`` stay as coordinates so each pixel can be traced back to its line and column.
    """
    keep = ds["valid"].values.copy()
    if bbox is not None:
        keep &= _inside(ds["latitude"].values, ds["longitude"].values, bbox)
    iy, ix = np.nonzero(keep)
    picked = ds.isel(y=xr.DataArray(iy, dims="pixel"), x=xr.DataArray(ix, dims="pixel"))
    return picked.assign_attrs(bbox=list(map(float, bbox)) if bbox is not None else ds.attrs.get("bbox", []))


@dataclass(frozen=True)
class SkippedFile:
    """A file a multi-file read could not use, and why."""

    path: str
    reason: str


def open_l2_aop_many(paths, bbox=None, exclude=L3_RRS_EXCLUDE) -> tuple[list[xr.Dataset], list[SkippedFile]]:
    """Read several granules; unreadable ones are skipped, listed and warned about, the rest kept.

    Returns ``(datasets, skipped)`` in input order. Granules have different shapes, so they are not
    combined here; ``xr.concat([water_pixels(d, bbox) for d in datasets], "pixel")`` pools their pixels.
    """
    datasets, skipped = [], []
    for path in paths:
        try:
            datasets.append(open_l2_aop(path, bbox=bbox, exclude=exclude))
        except (DataFormatError, FileNotFoundError) as error:
            skipped.append(SkippedFile(os.fspath(path), str(error)))
    if skipped:
        listing = "; ".join(f"{s.path} ({s.reason})" for s in skipped)
        warnings.warn(f"skipped {len(skipped)} of {len(skipped) + len(datasets)} PACE granules: {listing}", stacklevel=2)
    return datasets, skipped
