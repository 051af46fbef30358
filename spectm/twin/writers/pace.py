"""Write PACE OCI L2 AOP granules with the groups, dims, packing and attributes of real l2gen output.

The layouts, packings and flags are the reader's (:mod:`spectm.data.pace`), so what is written is what
is read. Format: NASA OB.DAAC L2 AOP product (l2gen), processing versions 3.0/3.1 (layout A) and 3.2
(layout B); see the OB.DAAC file-structure notes (nasa/oceandata-notebooks, ``oci_file_structure``)
and l2gen's ``l2_generic.c`` in NASA OCSSW.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from spectm.bands import oci_rrs_centers, oci_rrs_nominal, oci_sensor_nominal
from spectm.data.pace import (
    FLAG_NAMES, INT_FILL, L2GEN_MASK_NAMES, LAYOUT_VERSIONS, LINE_PERIOD_S, NAV_FILL, RRS_PACKING, RRS_STANDARD_NAME,
    RRS_UNC_PACKING, _version, any_flag, flag_masks, l2_aop_filename,
)  # fmt: skip
from spectm.twin.writers.labels import SIMULATED_BY, simulated_institution, simulated_title

def _chunks(shape: tuple[int, ...]) -> list[int]:
    """l2gen's default chunks, clipped to the dimension lengths (nc_init_compress.c)."""
    default = {1: (32,), 2: (256, 2048), 3: (32, 256, 40)}[len(shape)]
    return [max(1, min(c, n)) for c, n in zip(default, shape)]


def _variable(group, name, dtype, dims, fill=None, **attrs):
    shape = tuple(len(group.dimensions[d]) if d in group.dimensions else len(_find_dim(group, d)) for d in dims)
    var = group.createVariable(
        name, dtype, dims, fill_value=fill if fill is not None else False,
        zlib=True, complevel=4, shuffle=True, chunksizes=_chunks(shape),
    )  # fmt: skip
    var.set_auto_maskandscale(False)
    for key, value in attrs.items():
        var.setncattr(key, value)
    return var


def _find_dim(group, name):
    while group is not None:
        if name in group.dimensions:
            return group.dimensions[name]
        group = group.parent
    raise KeyError(name)


#: Scan lines packed and written at a time (2 of l2gen's 32-line chunks): a full 1710-line swath of 172
#: bands is 1.5 GB as float32, and its float64 temporaries would be several times that.
_BLOCK_LINES = 64


def _line_blocks(lines: int) -> list[slice]:
    return [slice(start, min(start + _BLOCK_LINES, lines)) for start in range(0, lines, _BLOCK_LINES)]


def _pack(values: np.ndarray, packing: dict) -> np.ndarray:
    scaled = np.round((values - packing["add_offset"]) / packing["scale_factor"])
    packed = np.clip(np.nan_to_num(scaled, nan=packing["_FillValue"]), -32766, 32767)
    return np.where(np.isfinite(values), packed, packing["_FillValue"]).astype(np.int16)


def _scan_times(scan_time, lines: int) -> pd.DatetimeIndex:
    times = pd.DatetimeIndex(np.atleast_1d(pd.to_datetime(scan_time)))
    if times.tz is not None:
        times = times.tz_convert("UTC").tz_localize(None)
    if times.size == 1 and lines != 1:
        times = times[0] + pd.to_timedelta(np.arange(lines) * LINE_PERIOD_S, unit="s")
    if times.size != lines:
        raise ValueError(f"scan_time has {times.size} values: expected 1 (granule start) or one per line ({lines})")
    return times


def _iso_ms(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _earth_sun_correction(stamp: pd.Timestamp) -> float:
    """(mean / actual Earth-Sun distance)^2 for the day of year (first-order orbit)."""
    return 1.0 + 0.033 * math.cos(2.0 * math.pi * (stamp.day_of_year - 3) / 365.25)


def _root_attributes(file_name, version, times, lat, lon) -> dict:  # long: a flat table, one line per attribute of the real granule
    """The 47 root attributes of a real V3.1 AOP granule, with values for this granule.

    Title, institution and DOI say the granule is simulated (:mod:`spectm.twin.writers.labels`): the
    twin must not claim NASA made it or point to NASA's data DOI.
    """
    finite_lat, finite_lon = lat[np.isfinite(lat)], lon[np.isfinite(lon)]
    mid = lat.shape[1] // 2
    corners = [(0, 0), (0, -1), (-1, -1), (-1, 0)]
    ring = ", ".join(f"{lon[i, j]:.5f} {lat[i, j]:.5f}" for i, j in corners + corners[:1])
    real_doi = f"10.5067/PACE/OCI/L2/OC_AOP/{version}"
    f32 = np.float32
    return {
        "title": simulated_title("OCI Level-2 Data AOP"),
        "product_name": file_name,
        "processing_version": version,
        "history": "spectm.twin.writers.pace.write_l2_aop: simulated granule in the l2gen L2 AOP layout",
        "instrument": "OCI",
        "platform": "PACE",
        "Conventions": "CF-1.8, ACDD-1.3",
        "license": "https://www.earthdata.nasa.gov/engage/open-data-services-and-software/data-and-information-policy",
        "naming_authority": "gov.nasa.gsfc.sci.oceandata",
        "id": f"{version}/L2/{file_name}",
        "date_created": _iso_ms(pd.Timestamp.now(tz="UTC").tz_localize(None)),
        "standard_name_vocabulary": "CF Standard Name Table v79",
        "institution": simulated_institution(
            "NASA Goddard Space Flight Center, Ocean Ecology Laboratory, Ocean Biology Processing Group"),
        "creator_name": "NASA/GSFC/OBPG",
        "creator_email": "data@oceancolor.gsfc.nasa.gov",
        "creator_url": "https://oceandata.sci.gsfc.nasa.gov",
        "project": "Ocean Biology Processing Group (NASA/GSFC/OBPG)",
        "publisher_name": "NASA/GSFC/OBPG",
        "publisher_url": "https://oceandata.sci.gsfc.nasa.gov",
        "publisher_email": "data@oceancolor.gsfc.nasa.gov",
        "geospatial_bounds_crs": "EPSG:4326",
        "identifier_product_doi_authority": "https://dx.doi.org",
        "identifier_product_doi": f"none: {SIMULATED_BY} (the real product's DOI is {real_doi})",
        "processing_level": "L2",
        "cdm_data_type": "swath",
        "spatialResolution": "1000 m",
        "time_coverage_start": _iso_ms(times[0]),
        "time_coverage_end": _iso_ms(times[-1]),
        "start_center_longitude": f32(lon[0, mid]),
        "start_center_latitude": f32(lat[0, mid]),
        "end_center_longitude": f32(lon[-1, mid]),
        "end_center_latitude": f32(lat[-1, mid]),
        "northernmost_latitude": f32(finite_lat.max()),
        "southernmost_latitude": f32(finite_lat.min()),
        "easternmost_longitude": f32(finite_lon.max()),
        "westernmost_longitude": f32(finite_lon.min()),
        "geospatial_lat_max": f32(finite_lat.max()),
        "geospatial_lat_min": f32(finite_lat.min()),
        "geospatial_lon_max": f32(finite_lon.max()),
        "geospatial_lon_min": f32(finite_lon.min()),
        "geospatial_lat_units": "degrees_north",
        "geospatial_lon_units": "degrees_east",
        "startDirection": "Ascending",
        "endDirection": "Ascending",
        "day_night_flag": "Day",
        "earth_sun_distance_correction": np.float64(_earth_sun_correction(times[0])),
        "geospatial_bounds": f"POLYGON (({ring}))",
    }


def _write_sensor_band_parameters(group, layout: str) -> None:
    sensor = oci_sensor_nominal().astype(np.int32)
    wl_attrs = {"long_name": "wavelengths", "units": "nm", "valid_min": np.int32(0), "valid_max": np.int32(20000)}
    if layout == "A":
        band_dim = "number_of_bands"
    else:
        group.createDimension("wavelength", sensor.size)
        band_dim = "wavelength"
    _variable(group, "wavelength", "i4", (band_dim,), fill=np.int32(INT_FILL), **wl_attrs)[:] = sensor
    _variable(group, "wavelength_3d", "i4", ("wavelength_3d",), fill=np.int32(INT_FILL), **wl_attrs)[:] = oci_rrs_nominal()
    _write_band_constants(group, sensor.astype(np.float64))
    if layout == "B":
        # fwave: float centres where the band-pass table gives them (the 172 Rrs bands), nominal elsewhere.
        fwave = sensor.astype(np.float32)
        fwave[_band_index()] = oci_rrs_centers().astype(np.float32)
        var = _variable(group, "fwave", "f4", ("wavelength",), fill=np.float32(INT_FILL), long_name="wavelengths", units="nm")
        var[:] = fwave


def solar_irradiance_f0(wavelength_nm) -> np.ndarray:
    """Mean extraterrestrial solar irradiance F0 (W m^-2 um^-1) at 1 AU: a 5778 K black body scaled to
    the total solar irradiance 1361 W m^-2 (Kopp & Lean 2011). An approximation (within ~10 % of
    Thuillier et al. 2003 in the visible, without Fraunhofer lines); real l2gen reads a measured table."""
    wl_m = np.asarray(wavelength_nm, dtype=np.float64) * 1e-9
    h, c, k, t_sun = 6.62607015e-34, 2.99792458e8, 1.380649e-23, 5778.0
    radiance = 2 * h * c**2 / wl_m**5 / np.expm1(h * c / (wl_m * k * t_sun))  # W m^-2 sr^-1 m^-1
    sigma = 5.670374419e-8
    return radiance * np.pi * 1361.0 / (sigma * t_sun**4) * 1e-6  # W m^-2 um^-1


def rayleigh_optical_thickness(wavelength_nm) -> np.ndarray:
    """Rayleigh optical thickness of the standard atmosphere (1013.25 hPa): Hansen & Travis (1974)
    Rev. Geophys. 16:527, eq. 2.29: 0.008569 l^-4 (1 + 0.0113 l^-2 + 0.00013 l^-4), l in um."""
    um = np.asarray(wavelength_nm, dtype=np.float64) / 1000.0
    return 0.008569 * um**-4 * (1 + 0.0113 * um**-2 + 0.00013 * um**-4)


def _write_band_constants(group, wavelength_nm: np.ndarray) -> None:
    """Per-band constants l2gen writes: vicarious gains (none: 1 and 0), F0, water IOPs, Rayleigh.

    aw and bbw come from the twin's optics tables (pure water, 300-800 nm; fill beyond); k_oz from
    the MODTRAN-3 ozone spectrum of Gege (2012) (300-1000 nm; fill beyond, where ozone does not absorb
    measurably). k_no2 is fill: no NO2 cross-section table is available to the project offline, and a
    number without a source would be worse than the product's own fill value.
    """
    for name, (values, long_name, units) in _band_constants(tuple(wavelength_nm.tolist())).items():
        attrs = {"long_name": long_name, **({"units": units} if units else {})}
        var = _variable(group, name, "f4", ("number_of_reflective_bands",), fill=np.float32(INT_FILL), **attrs)
        var[:] = values


@functools.lru_cache(maxsize=4)
def _band_constants(wavelengths: tuple[float, ...]) -> dict:
    """The per-band constants of :func:`_write_band_constants` (computed once per band list)."""
    from spectm.physics.optics import pure_water_absorption, pure_water_backscattering

    wavelength_nm = np.asarray(wavelengths, dtype=np.float64)
    inside = (wavelength_nm >= 300.0) & (wavelength_nm <= 800.0)
    aw = np.full(wavelength_nm.shape, np.float64(INT_FILL))
    aw[inside] = pure_water_absorption(wavelength_nm[inside])
    fill = np.float64(INT_FILL)
    columns = {
        "vcal_gain": (np.ones_like(wavelength_nm), "Vicarious Calibration Gain", None),
        "vcal_offset": (np.zeros_like(wavelength_nm), "Vicarious Calibration Offset", "mW cm^-2 um^-1 sr^-1"),
        "F0": (solar_irradiance_f0(wavelength_nm), "Mean Solar Flux", "W m^-2 um^-1"),
        "aw": (aw, "Band-pass averaged absorption coefficient for seawater", "m^-1"),
        "bbw": (pure_water_backscattering(wavelength_nm), "Band-pass averaged backscattering coefficient for seawater", "m^-1"),
        "k_oz": (ozone_absorption(wavelength_nm), "Ozone Absorption cross-sections", "cm^-1"),
        "k_no2": (np.full_like(wavelength_nm, fill), "NO2 Absorption cross-sections", "cm^2 molecule^-1"),
        "Tau_r": (rayleigh_optical_thickness(wavelength_nm), "Rayleigh Optical Thickness", None),
    }  # fmt: skip
    return {name: (values.astype(np.float32), long_name, units) for name, (values, long_name, units) in columns.items()}


def ozone_absorption(wavelength_nm) -> np.ndarray:
    """Ozone absorption k_oz (cm^-1) at band centres: Gege's (2012) 5 nm table, linear between its
    points (a 5 nm band average, the width of OCI's hyperspectral bands); fill outside 300-1000 nm."""
    from spectm.physics.tables import ozone_absorption_table

    table = ozone_absorption_table()
    wavelength_nm = np.asarray(wavelength_nm, dtype=np.float64)
    x = table["wavelength_nm"]
    inside = (wavelength_nm >= x[0]) & (wavelength_nm <= x[-1])
    return np.where(inside, np.interp(wavelength_nm, x, table["k_oz_per_cm"]), np.float64(INT_FILL))


AOT_PACKING = {"scale_factor": 1e-04, "add_offset": 0.0, "_FillValue": -32767, "valid_min": 0, "valid_max": 30000}
ANGSTROM_PACKING = {"scale_factor": 1e-04, "add_offset": 2.5, "_FillValue": -32767, "valid_min": -30000, "valid_max": 5000}
NFLH_PACKING = {"scale_factor": 8.5e-05, "add_offset": 2.25, "_FillValue": -32767, "valid_min": -26471, "valid_max": 32353}
#: Bands (nm) of the twin's nflh: the 678 nm peak over a 665-717 nm baseline (OCI Rrs stops at 719 nm,
#: so MODIS's 748 nm baseline band is not in the product; a twin choice).
NFLH_BANDS = (665.0, 678.0, 717.0)


def apparent_visible_wavelength(rrs: np.ndarray, wavelength_nm: np.ndarray) -> np.ndarray:
    """AVW (nm), Vandermeulen et al. (2020) RSE 247:111900: the Rrs-weighted harmonic mean wavelength
    over 400-700 nm, sum(Rrs) / sum(Rrs / l). NaN where a band is missing or the result leaves 400-700."""
    visible = (wavelength_nm >= 400.0) & (wavelength_nm <= 700.0)
    r = rrs[..., visible]
    with np.errstate(invalid="ignore", divide="ignore"):
        avw = r.sum(axis=-1) / (r / wavelength_nm[visible]).sum(axis=-1)
    return np.where((avw >= 400.0) & (avw <= 700.0), avw, np.nan)


def normalized_flh(rrs: np.ndarray, wavelength_nm: np.ndarray) -> np.ndarray:
    """Normalised fluorescence line height (W m^-2 um^-1 sr^-1): nLw = Rrs F0 at :data:`NFLH_BANDS`,
    the middle band's height above the straight line between the outer two."""
    index = [int(np.argmin(np.abs(wavelength_nm - band))) for band in NFLH_BANDS]
    centres = wavelength_nm[index]
    nlw = rrs[..., index] * solar_irradiance_f0(centres)
    fraction = (centres[1] - centres[0]) / (centres[2] - centres[0])
    return nlw[..., 1] - (nlw[..., 0] + fraction * (nlw[..., 2] - nlw[..., 0]))


def _masked_float64(values: np.ndarray, block: slice, masked: np.ndarray) -> np.ndarray:
    """A float64 copy of ``values[block]`` (lines), NaN where l2gen masks the pixel."""
    copy = np.array(values[block], dtype=np.float64)
    copy[masked[block]] = np.nan
    return copy


def _blockwise_avw(rrs: np.ndarray, masked: np.ndarray, wavelength: np.ndarray) -> np.ndarray:
    """:func:`apparent_visible_wavelength` in float64, a block of lines at a time (bounded memory)."""
    avw = np.empty(masked.shape, np.float64)
    for block in _line_blocks(masked.shape[0]):
        avw[block] = apparent_visible_wavelength(_masked_float64(rrs, block, masked), wavelength)
    return avw


def _write_derived_products(geo, rrs: np.ndarray, masked: np.ndarray, aot_865, angstrom) -> None:
    """aot_865 and angstrom (when given), avw and nflh, with the product's packing; fill where masked."""
    dims = ("number_of_lines", "pixels_per_line")
    wavelength = oci_rrs_centers()
    packed = {"aot_865": (aot_865, AOT_PACKING, "Aerosol optical thickness at 865 nm", None),
              "angstrom": (angstrom, ANGSTROM_PACKING, "Aerosol Angstrom exponent, 443 to 865 nm", None),
              "nflh": (normalized_flh(rrs, wavelength), NFLH_PACKING, "Normalized Fluorescence Line Height", "W m^-2 um^-1 sr^-1")}  # fmt: skip
    for name, (values, packing, long_name, units) in packed.items():
        if values is None:
            continue
        values = np.where(masked, np.nan, np.asarray(values, dtype=np.float64))
        var = _variable(geo, name, "i2", dims, fill=np.int16(packing["_FillValue"]), long_name=long_name,
                        scale_factor=np.float32(packing["scale_factor"]), add_offset=np.float32(packing["add_offset"]),
                        valid_min=np.int16(packing["valid_min"]), valid_max=np.int16(packing["valid_max"]),
                        coordinates="longitude latitude", **({"units": units} if units else {}))  # fmt: skip
        var[:] = _pack(values, packing)
    avw = np.where(masked, np.nan, _blockwise_avw(rrs, masked, wavelength))
    var = _variable(geo, "avw", "f4", dims, fill=np.float32(INT_FILL), long_name="Apparent Visible Wavelength",
                    units="nm", valid_min=np.float32(400.0), valid_max=np.float32(700.0), coordinates="longitude latitude")  # fmt: skip
    var[:] = np.where(np.isfinite(avw), avw, INT_FILL).astype(np.float32)


def _band_index() -> np.ndarray:
    """0-based position of each of the 172 Rrs bands in the 286-band sensor list."""
    return np.searchsorted(oci_sensor_nominal(), oci_rrs_nominal()).astype(np.int32)


def _write_scan_lines(group, times: pd.DatetimeIndex, lat, lon) -> None:
    seconds = (times - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
    midnight = times.normalize()
    columns = {
        "year": ("i4", times.year.to_numpy(np.int32), {"long_name": "Scan year", "units": "years"}),
        "day": ("i4", times.day_of_year.to_numpy(np.int32), {"long_name": "Scan day of year", "units": "days"}),
        "msec": ("i4", np.asarray((times - midnight) / pd.Timedelta(milliseconds=1), dtype=np.int32),
                 {"long_name": "Scan time, milliseconds of day", "units": "milliseconds"}),
        "time": ("f8", np.asarray(seconds, dtype=np.float64), {"long_name": "scan line time", "units": "seconds since 1970-01-01"}),
        "detnum": ("i1", np.zeros(times.size, np.int8), {"long_name": "Detector Number (zero-based)"}),
        "mside": ("i1", (np.arange(times.size) % 2).astype(np.int8), {"long_name": "Mirror Side (zero-based)"}),
    }  # fmt: skip
    mid = lat.shape[1] // 2
    for prefix, column in (("s", 0), ("c", mid), ("e", -1)):
        columns[f"{prefix}lon"] = ("f4", lon[:, column].astype(np.float32), {"long_name": f"Scan {prefix}-pixel longitude", "units": "degrees_east"})
        columns[f"{prefix}lat"] = ("f4", lat[:, column].astype(np.float32), {"long_name": f"Scan {prefix}-pixel latitude", "units": "degrees_north"})
    zenith = solar_zenith(times.to_numpy()[:, None], lat[:, mid : mid + 1], lon[:, mid : mid + 1])[:, 0]
    columns["csol_z"] = ("f4", zenith.astype(np.float32), {"long_name": "Center solar zenith angle", "units": "degree"})
    for name, (dtype, values, attrs) in columns.items():
        # time and the int8 columns carry a _FillValue as the product's do (values: l2gen's -32767 / -127)
        fill = {"i4": np.int32(INT_FILL), "f4": np.float32(NAV_FILL), "f8": np.float64(INT_FILL), "i1": np.int8(-127)}.get(dtype)
        if dtype == "f4":
            values = np.where(np.isfinite(values), values, np.float32(NAV_FILL)).astype(np.float32)
        _variable(group, name, dtype, ("number_of_lines",), fill=fill, **attrs)[:] = values


def solar_zenith(times, lat, lon) -> np.ndarray:
    """Approximate solar zenith angle (deg) from UTC times and positions (NOAA low-precision formulas)."""
    t = pd.to_datetime(np.asarray(times).ravel()).to_numpy().reshape(np.shape(times))
    day = (t - t.astype("datetime64[Y]")).astype("timedelta64[s]").astype(np.float64) / 86400.0
    gamma = 2.0 * np.pi * day / 365.0
    decl = (0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma) - 0.006758 * np.cos(2 * gamma)
            + 0.000907 * np.sin(2 * gamma) - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma))
    eqtime = 229.18 * (0.000075 + 0.001868 * np.cos(gamma) - 0.032077 * np.sin(gamma)
                       - 0.014615 * np.cos(2 * gamma) - 0.040849 * np.sin(2 * gamma))  # fmt: skip
    minutes = (day % 1.0) * 1440.0
    hour_angle = np.deg2rad((minutes + eqtime + 4.0 * np.asarray(lon)) / 4.0 - 180.0)
    phi = np.deg2rad(lat)
    cos_z = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    return np.rad2deg(np.arccos(np.clip(cos_z, -1.0, 1.0)))


def _checked_arrays(rrs, latitude, longitude, l2_flags, scan_time, rrs_unc, aot_865, angstrom,
                    n_bands: int) -> tuple:
    """(rrs, lat, lon, flags as int32, line times, l2gen-masked pixels, rrs_unc) of one grid.

    Rrs and its uncertainty keep their dtype and values (the writers mask and pack them a block of lines
    at a time, :func:`_masked_float64`); a mismatched shape is refused by name.
    """
    rrs = np.asarray(rrs)
    rrs = rrs if rrs.dtype.kind == "f" else rrs.astype(np.float64)
    lat = np.asarray(latitude, dtype=np.float64)
    lon = np.asarray(longitude, dtype=np.float64)
    flags = np.asarray(l2_flags).astype(np.int64).astype(np.uint32).view(np.int32)
    if rrs.ndim != 3 or rrs.shape[2] != n_bands:
        raise ValueError(f"rrs has shape {rrs.shape}: expected (lines, pixels, {n_bands})")
    lines, pixels = rrs.shape[:2]
    for name, array in (("latitude", lat), ("longitude", lon), ("l2_flags", flags)):
        if array.shape != (lines, pixels):
            raise ValueError(f"{name} has shape {array.shape}: expected ({lines}, {pixels}) like rrs")
    times = _scan_times(scan_time, lines)
    masked = any_flag(flags, L2GEN_MASK_NAMES)
    if rrs_unc is not None:
        rrs_unc = np.asarray(rrs_unc)
        if rrs_unc.shape != rrs.shape:
            raise ValueError(f"rrs_unc has shape {rrs_unc.shape}: expected {rrs.shape} like rrs")
    for name, values in (("aot_865", aot_865), ("angstrom", angstrom)):
        if values is not None and np.shape(values) != (lines, pixels):
            raise ValueError(f"{name} has shape {np.shape(values)}: expected ({lines}, {pixels}) like rrs")
    return rrs, lat, lon, flags, times, masked, rrs_unc


def _create_dimensions(nc, lines: int, pixels: int, n_bands: int) -> None:
    """The root dimensions of an l2gen granule, the sensor's 286 bands included."""
    for name, size in (
        ("number_of_lines", lines), ("pixels_per_line", pixels), ("bands_per_pixel", 286),
        ("number_of_bands", 286), ("number_of_reflective_bands", 286), ("wavelength_3d", n_bands),
        ("number_of_reflectance_location_values", 3), ("number_of_cloud_phases", 2),
    ):  # fmt: skip
        nc.createDimension(name, size)


def _write_band_axis(geo, n_bands: int) -> str:
    """Layout B's own ``wavelength`` dimension with its centres and band indices; returns its name."""
    geo.createDimension("wavelength", n_bands)
    fill32 = np.float32(INT_FILL)
    _variable(geo, "wavelength", "f4", ("wavelength",), fill=fill32, long_name="wavelengths", units="nm")[:] = (
        oci_rrs_centers().astype(np.float32)
    )
    _variable(geo, "band_index", "i4", ("wavelength",), fill=np.int32(INT_FILL),
              long_name="band index in the sensor band list (0-based)")[:] = _band_index()  # fmt: skip
    return "wavelength"


def _write_rrs(geo, band_dim: str, rrs: np.ndarray, rrs_unc, masked: np.ndarray) -> None:
    """Rrs (and its uncertainty, when given) packed as int16 with l2gen's scale and offset, fill where
    l2gen masks the pixel; a block of lines at a time."""
    dims3 = ("number_of_lines", "pixels_per_line", band_dim)
    for name, values, packing, long_name in (
        ("Rrs", rrs, RRS_PACKING, "Remote sensing reflectance"),
        ("Rrs_unc", rrs_unc, RRS_UNC_PACKING, "Uncertainty in remote sensing reflectance"),
    ):
        if values is None:
            continue
        extra = {"standard_name": RRS_STANDARD_NAME} if name == "Rrs" else {}
        var = _variable(
            geo, name, "i2", dims3, fill=np.int16(packing["_FillValue"]),
            long_name=long_name, units="sr^-1", **extra,
            scale_factor=np.float32(packing["scale_factor"]), add_offset=np.float32(packing["add_offset"]),
            valid_min=np.int16(packing["valid_min"]), valid_max=np.int16(packing["valid_max"]),
            coordinates="longitude latitude",
        )  # fmt: skip
        for block in _line_blocks(values.shape[0]):
            var[block] = _pack(_masked_float64(values, block, masked), packing)


def _write_flags(geo, flags: np.ndarray) -> None:
    """The l2_flags bits with their masks and meanings."""
    var = _variable(
        geo, "l2_flags", "i4", ("number_of_lines", "pixels_per_line"), fill=None,
        long_name="Level-2 Processing Flags", valid_min=np.int32(-(2**31)), valid_max=np.int32(2**31 - 1),
        flag_masks=flag_masks(), flag_meanings=" ".join(FLAG_NAMES), coordinates="longitude latitude",
    )  # fmt: skip
    var[:] = flags


def _write_navigation(nav, lat: np.ndarray, lon: np.ndarray, tilt: float) -> None:
    """Longitude, latitude (NaN as fill), the sensor tilt per line and the granule's corner ring."""
    lines = lat.shape[0]
    for name, values, limit, units in (("longitude", lon, 180.0, "degrees_east"), ("latitude", lat, 90.0, "degrees_north")):
        var = _variable(
            nav, name, "f4", ("number_of_lines", "pixels_per_line"), fill=np.float32(NAV_FILL),
            long_name=name.capitalize(), standard_name=name, units=units,
            valid_min=np.float32(-limit), valid_max=np.float32(limit),
        )  # fmt: skip
        var[:] = np.where(np.isfinite(values), values, NAV_FILL).astype(np.float32)
    var = _variable(nav, "tilt", "f4", ("number_of_lines",), fill=np.float32(NAV_FILL), long_name="Sensor tilt angle",
                    units="degree", valid_min=np.float32(-25.0), valid_max=np.float32(25.0))  # fmt: skip
    var[:] = np.full(lines, tilt, dtype=np.float32)
    corners = [(0, 0), (0, -1), (-1, -1), (-1, 0)]
    nav.setncatts({
        "gringpointlongitude": np.array([lon[c] for c in corners], dtype=np.float32),
        "gringpointlatitude": np.array([lat[c] for c in corners], dtype=np.float32),
        "gringpointsequence": np.array([1, 2, 3, 4], dtype=np.int32),
    })  # fmt: skip


def _write_processing_control(control, flags: np.ndarray, rrs_unc, aot_865, angstrom) -> None:
    """What l2gen records of its run: software, masks, products and the share of pixels per flag."""
    control.setncatts({
        "software_name": "l2gen",
        "software_version": "spectm-twin",
        "input_sources": "simulated",
        "calibration_data": "",
        "mask_names": ",".join(L2GEN_MASK_NAMES),
    })  # fmt: skip
    products = " ".join(["Rrs"] + ["Rrs_unc"] * (rrs_unc is not None) + ["aot_865"] * (aot_865 is not None)
                        + ["angstrom"] * (angstrom is not None) + ["avw", "nflh"])  # fmt: skip
    control.createGroup("input_parameters").setncatts(
        {"l2prod": products, "suite": "AOP", "wavelength_3d": "346:588,613:719", "maskland": "1", "maskhilt": "1",
         "maskcloud": "1", "maskglint": "0", "deflate": "4"}
    )  # fmt: skip
    unsigned = flags.view(np.uint32)
    percentages = {}
    for bit, name in enumerate(FLAG_NAMES):
        share = 100.0 * float(((unsigned >> bit) & 1).mean()) if unsigned.size else 0.0
        percentages[name] = max(percentages.get(name, 0.0), share)
    control.createGroup("flag_percentages").setncatts({k: np.float32(v) for k, v in percentages.items()})


def write_l2_aop(
    path,
    rrs,
    latitude,
    longitude,
    l2_flags,
    scan_time,
    layout: str = "3.1",
    attrs: dict | None = None,
    rrs_unc=None,
    tilt: float = 0.0,
    aot_865=None,
    angstrom=None,
) -> Path:
    """Write one L2 AOP granule with the groups, dims, packing and attributes of real l2gen output.

    ``rrs`` is (lines, pixels, 172) in sr^-1 on the OCI Rrs bands, NaN where there is no retrieval;
    ``latitude``/``longitude`` are (lines, pixels) degrees (NaN -> fill -999); ``l2_flags`` is
    (lines, pixels) integer bits (see :data:`FLAG_NAMES`); ``scan_time`` is one UTC time per line or the
    granule start (lines then follow every :data:`LINE_PERIOD_S` s). ``layout`` is the processing
    version: "3.0"/"3.1" write layout A, "3.2" layout B. Pixels flagged ATMFAIL, LAND, CLDICE or HILT are
    written as fill, as l2gen does. ``attrs`` overrides or adds root attributes. ``aot_865`` and
    ``angstrom`` (lines, pixels) are the aerosol retrieval, written when given; ``avw`` and ``nflh``
    are always derived from ``rrs`` (:func:`apparent_visible_wavelength`, :func:`normalized_flh`).
    Returns the path.
    """
    version = _version(layout)
    kind = LAYOUT_VERSIONS[version]
    n_bands = oci_rrs_nominal().size
    rrs, lat, lon, flags, times, masked, rrs_unc = _checked_arrays(
        rrs, latitude, longitude, l2_flags, scan_time, rrs_unc, aot_865, angstrom, n_bands)
    lines, pixels = rrs.shape[:2]

    path = Path(path)
    if path.is_dir():
        path = path / l2_aop_filename(times[0], version)
    root_attrs = _root_attributes(path.name, version, times, lat, lon)
    root_attrs.update(attrs or {})

    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        _create_dimensions(nc, lines, pixels, n_bands)
        nc.setncatts(root_attrs)

        _write_sensor_band_parameters(nc.createGroup("sensor_band_parameters"), kind)
        _write_scan_lines(nc.createGroup("scan_line_attributes"), times, lat, lon)

        geo = nc.createGroup("geophysical_data")
        band_dim = _write_band_axis(geo, n_bands) if kind == "B" else "wavelength_3d"
        _write_rrs(geo, band_dim, rrs, rrs_unc, masked)
        _write_derived_products(geo, rrs, masked, aot_865, angstrom)
        _write_flags(geo, flags)

        nav = nc.createGroup("navigation_data")
        _write_navigation(nav, lat, lon, tilt)

        control = nc.createGroup("processing_control")
        _write_processing_control(control, flags, rrs_unc, aot_865, angstrom)
    return path


