"""What stands between the water and the file: overpass geometry, clouds, glint, residuals and noise.

Why: real granules are not clean pictures of the water. The twin reproduces the main ways they fail,
each set honestly in ``l2_flags`` where l2gen would set a flag, and left unflagged where l2gen would
not notice (thin-cloud/adjacency haze and atmospheric-correction residuals). None of it depends on
wavelength windows of interest: every error is spectrally smooth or per-band random.

- Overpass: one a day, 17:00-18:15 UTC, ascending track heading ~11 deg west of north. The basin lies
  at a random cross-track distance from nadir and OCI looks 20 deg aft (its glint-avoiding tilt); on some days it sits at the swath edge, and the
  cut-out loses the columns beyond it (a swath-edge gap). View zenith > 60 deg sets HISATZEN.
- Clouds: a spatially correlated Gaussian field (~15 km scale) thresholded at the day's cloud fraction
  from the weather (CLDICE). Pixels within ~2.5 km of cloud set STRAYLIGHT; a haze that decays over
  ~3 km beyond that adds an unflagged, spectrally smooth positive bias.
- Glint: Cox-Munk facet statistics from sun and view geometry and wind speed; the residual after
  l2gen's correction (10 % of the glint, spectrally flat) stays in Rrs; HIGLINT above 0.005 (glint
  reflectance), MODGLINT above 0.0005 (twin thresholds).
- Atmospheric-correction error, spectrally CORRELATED (what dominates a real OCI granule's Rrs_unc of
  1e-4..7e-4 sr^-1): an aerosol-model misfit, a smooth field x (lambda/865)^-1.3 (largest in the
  blue; SD ~3e-4 sr^-1 at 443 nm), whose amplitude grows with the water's NIR reflectance (turbid
  water breaks the black-pixel assumption) and which may be negative, so blue Rrs occasionally goes
  below zero as in real l2gen output; plus adjacency within ~5 km of the shore (a bright-land,
  red-edge-shaped positive bias decaying over 2 km).
- Sensor noise per band: WHITE and small, ~2e-5 sr^-1 in the visible (under 5e-5 in 620-700 nm),
  rising in the UV; a real OCI L2 granule's band-to-band noise is ~1e-5 sr^-1.
- ``Rrs_unc`` per pixel as the product writes it: the white noise and the expected size of the
  correlated correction error together (root sum of squares).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from spectm.data.pace import flag_bits
from spectm.twin.config import KM_PER_DEG_LAT, KM_PER_DEG_LON, WESTERN_BASIN_BBOX
from spectm.twin.writers.pace import solar_zenith

HEADING_DEG = -11.0  # ascending PACE track at ~42 N, degrees from north (twin approximation)
ORBIT_ALTITUDE_KM = 676.5
SWATH_HALF_WIDTH_KM = 1150.0
GROUND_SPEED_KM_S = 6.8
EDGE_DAY_PROBABILITY = 0.15
TILT_DEG = 20.0


@dataclass
class Overpass:
    """One day's cut-out swath: pixel positions, scan times and geometry."""

    start: pd.Timestamp
    latitude: np.ndarray  # (lines, pixels)
    longitude: np.ndarray
    scan_time: pd.DatetimeIndex  # per line
    view_zenith: np.ndarray  # (lines, pixels) degrees
    view_azimuth: np.ndarray  # (lines, pixels) radians clockwise from north, pixel -> sensor
    cross_track_km: np.ndarray  # (pixels,) distance from nadir
    edge_gap: bool


def plan_overpass(day, pixel_km: float, rng: np.random.Generator, bbox=WESTERN_BASIN_BBOX) -> Overpass:
    """The cut-out of one day's swath over ``bbox`` (lines along track, pixels across)."""
    west, south, east, north = bbox
    lon0, lat0 = (west + east) / 2, (south + north) / 2
    heading = np.deg2rad(HEADING_DEG)
    along = np.array([np.sin(heading), np.cos(heading)])  # (east, north) km per km
    across = np.array([np.cos(heading), -np.sin(heading)])
    corners = np.array([[(x - lon0) * KM_PER_DEG_LON, (y - lat0) * KM_PER_DEG_LAT] for x in (west, east) for y in (south, north)])
    a_range, c_range = corners @ along, corners @ across
    lines = np.arange(np.floor(a_range.min() / pixel_km) - 1, np.ceil(a_range.max() / pixel_km) + 2) * pixel_km
    pixels = np.arange(np.floor(c_range.min() / pixel_km) - 1, np.ceil(c_range.max() / pixel_km) + 2) * pixel_km

    edge_gap = rng.random() < EDGE_DAY_PROBABILITY
    side = rng.choice([-1.0, 1.0])
    if edge_gap:  # the swath edge falls inside the cut-out, keeping 30-85 % of its width
        keep = rng.uniform(0.3, 0.85)
        cut = pixels[0] + keep * (pixels[-1] - pixels[0]) if side > 0 else pixels[-1] - keep * (pixels[-1] - pixels[0])
        centre_offset = side * SWATH_HALF_WIDTH_KM - cut  # the swath edge lies at column offset ``cut``
    else:
        centre_offset = rng.uniform(-800.0, 800.0)
    cross = centre_offset + pixels  # distance of each column from nadir, km (east positive)
    inside = np.abs(cross) <= SWATH_HALF_WIDTH_KM
    pixels, cross = pixels[inside], cross[inside]

    east_km = lines[:, None] * along[0] + pixels[None, :] * across[0]
    north_km = lines[:, None] * along[1] + pixels[None, :] * across[1]
    latitude = lat0 + north_km / KM_PER_DEG_LAT
    longitude = lon0 + east_km / KM_PER_DEG_LON
    start = pd.Timestamp(day).normalize() + pd.Timedelta(hours=17) + pd.Timedelta(seconds=float(rng.uniform(0, 75 * 60)))
    scan_time = start + pd.to_timedelta((lines - lines[0]) / GROUND_SPEED_KM_S, unit="s")
    # view direction (pixel -> sensor): cross-track angle from the ground distance to nadir (enlarged
    # ~12 % for Earth curvature) and the 20 deg along-track tilt OCI uses to avoid glint (sensor south)
    cross_angle = np.minimum(np.rad2deg(np.arctan(np.abs(cross) / ORBIT_ALTITUDE_KM)) * 1.12, 85.0)
    toward_sensor = -np.sign(cross + 1e-9)[None, :, None] * across + 0 * lines[:, None, None]
    horizontal = np.tan(np.deg2rad(cross_angle))[None, :, None] * toward_sensor - np.tan(np.deg2rad(TILT_DEG)) * along
    view_zenith = np.rad2deg(np.arctan(np.hypot(horizontal[..., 0], horizontal[..., 1])))
    view_azimuth = np.arctan2(horizontal[..., 0], horizontal[..., 1])
    return Overpass(start, latitude, longitude, pd.DatetimeIndex(scan_time), view_zenith, view_azimuth, cross, edge_gap)


def cloud_field(shape, cloud_fraction: float, pixel_km: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(cloud mask, distance to cloud in km) for one overpass; clouds cover ``cloud_fraction`` of it."""
    sigma = 15.0 / pixel_km
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    field = (field - field.mean()) / max(field.std(), 1e-12)
    threshold = np.quantile(field, 1.0 - np.clip(cloud_fraction, 0.0, 1.0))
    cloud = field > threshold if cloud_fraction > 0.005 else np.zeros(shape, bool)
    distance = ndimage.distance_transform_edt(~cloud) * pixel_km if cloud.any() else np.full(shape, np.inf)
    return cloud, distance


def glint_reflectance(overpass: Overpass, wind_speed: float) -> np.ndarray:
    """Cox-Munk sun-glint reflectance (dimensionless) per pixel."""
    times = overpass.scan_time.to_numpy()[:, None]
    sun_zenith = np.deg2rad(solar_zenith(times, overpass.latitude, overpass.longitude))
    # sun azimuth near local noon: south, east of south before noon (hour angle from longitude/time)
    hours = (times - times.astype("datetime64[D]")) / np.timedelta64(1, "h")
    hour_angle = np.deg2rad(15.0 * (hours + overpass.longitude / 15.0 - 12.0))
    sun_azimuth = np.pi + np.arctan2(np.sin(hour_angle), np.cos(hour_angle) * np.sin(np.deg2rad(41.7)) - np.tan(np.deg2rad(15.0)) * np.cos(np.deg2rad(41.7)))
    view_zenith = np.deg2rad(overpass.view_zenith)
    view_azimuth = overpass.view_azimuth

    def unit(zen, azi):
        return np.stack([np.sin(zen) * np.sin(azi), np.sin(zen) * np.cos(azi), np.cos(zen)])

    sun, view = unit(sun_zenith, sun_azimuth), unit(view_zenith, view_azimuth)
    half = sun + view
    half /= np.linalg.norm(half, axis=0, keepdims=True)
    cos_beta = np.clip(half[2], 1e-3, 1.0)
    tan2 = (1.0 - cos_beta**2) / cos_beta**2
    sigma2 = 0.003 + 0.00512 * max(wind_speed, 0.0)
    probability = np.exp(-tan2 / sigma2) / (np.pi * sigma2 * cos_beta**4)
    fresnel = 0.02
    return np.pi * fresnel * probability / (4.0 * np.cos(view_zenith) * np.cos(sun_zenith))


#: Aerosol over the western basin in summer: median AOT(865) and its daily log-SD, Angstrom range
#: (continental/urban aerosol, AERONET-like magnitudes; twin values).
AOT_865_MEDIAN, AOT_865_LOG_SD, ANGSTROM_RANGE = 0.06, 0.45, (0.9, 1.7)


def smooth_noise(shape, sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """White noise smoothed by a Gaussian of ``sigma_px`` pixels, with unit variance in expectation.

    Divided by the filter's own gain, not by the sample's standard deviation: a swath much smaller than
    the smoothing scale is then one near-constant draw of the large-scale field, as it should be (dividing
    by its tiny sample spread blew such swaths up to absurd values).
    """
    return ndimage.gaussian_filter(rng.standard_normal(shape), sigma_px, mode="wrap") / _smoothing_gain(sigma_px)


@functools.lru_cache(maxsize=16)
def _smoothing_gain(sigma_px: float) -> float:
    """Standard deviation of unit white noise after the 2-D Gaussian filter: the kernel's L2 norm."""
    half = int(np.ceil(4 * sigma_px))
    impulse = np.zeros((2 * half + 1, 2 * half + 1))
    impulse[half, half] = 1.0
    return float(np.sqrt(np.sum(ndimage.gaussian_filter(impulse, sigma_px, mode="constant") ** 2)))


@dataclass
class Aerosol:
    """The day's aerosol retrieval fields (lines, pixels): AOT at 865 nm and the 443-865 Angstrom exponent."""

    aot_865: np.ndarray
    angstrom: np.ndarray


def aerosol_fields(shape, pixel_km: float, rng: np.random.Generator) -> Aerosol:
    """A day's aerosol: a log-normal basin value with smooth ~40 km structure (+-20 %), and an Angstrom
    exponent drawn per day with small spatial variation."""
    base = AOT_865_MEDIAN * np.exp(AOT_865_LOG_SD * rng.standard_normal())
    structure = smooth_noise(shape, 40.0 / pixel_km, rng)
    aot = base * np.exp(0.2 * structure)
    angstrom = rng.uniform(*ANGSTROM_RANGE) + 0.1 * structure
    return Aerosol(aot.astype(np.float64), angstrom.astype(np.float64))


#: White sensor noise (sr^-1) in the visible, and the size of the aerosol-misfit error at 865 nm.
WHITE_NOISE_SD, AEROSOL_MISFIT_865 = 2e-5, 4e-5
AEROSOL_MISFIT_EXPONENT = 1.3
ADJACENCY_KM, ADJACENCY_AMPLITUDE = 2.0, 4e-4


def noise_sd(rrs: np.ndarray, wavelengths: np.ndarray) -> np.ndarray:
    """Per-band white noise SD (sr^-1): ~2e-5 in the visible, rising in the UV (band-to-band noise)."""
    floor = WHITE_NOISE_SD * (1.0 + 2.0 * np.exp(-(wavelengths - 346.0) / 30.0))
    return 0.0005 * np.abs(np.nan_to_num(rrs)) + floor


def correction_error_scale(rrs_nir: np.ndarray, wavelengths: np.ndarray) -> np.ndarray:
    """Expected size (sr^-1) of the aerosol-model misfit per pixel and band: larger in the blue and
    over turbid water (it doubles at a 709 nm Rrs of 4e-3 sr^-1: bright NIR breaks the black-pixel assumption)."""
    turbid = 1.0 + np.clip(np.nan_to_num(rrs_nir), 0.0, None) / 4e-3
    return AEROSOL_MISFIT_865 * turbid[..., None] * (wavelengths / 865.0) ** -AEROSOL_MISFIT_EXPONENT


def adjacency_shape(wavelengths: np.ndarray) -> np.ndarray:
    """Spectral shape of light scattered from bright vegetated land: low in the visible, a red edge."""
    return 0.25 + 0.75 / (1.0 + np.exp(-(wavelengths - 705.0) / 10.0))


def observe(rrs_water: np.ndarray, overpass: Overpass, water: np.ndarray, cloud_fraction: float, wind_speed: float,
            wavelengths: np.ndarray, pixel_km: float, rng: np.random.Generator,
            aerosol: Aerosol | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Turn water-leaving Rrs (lines, pixels, bands) into what a granule holds: (Rrs, Rrs_unc, l2_flags).

    With ``aerosol``, the aerosol-model misfit grows with the day's aerosol load (relative to the median).
    """
    shape = overpass.latitude.shape
    cloud, cloud_km = cloud_field(shape, cloud_fraction, pixel_km, rng)
    glint = glint_reflectance(overpass, wind_speed)
    flags = np.zeros(shape, np.int64)
    flags |= np.where(~water, flag_bits("LAND"), 0)
    flags |= np.where(cloud, flag_bits("CLDICE"), 0)
    flags |= np.where(~cloud & (cloud_km <= max(2.5, pixel_km)), flag_bits("STRAYLIGHT"), 0)
    flags |= np.where(glint > 0.005, flag_bits("HIGLINT"), np.where(glint > 0.0005, flag_bits("MODGLINT"), 0))
    flags |= np.where(overpass.view_zenith > 60.0, flag_bits("HISATZEN"), 0)

    nir = rrs_water[..., int(np.argmin(np.abs(wavelengths - 709.0)))]
    scale = correction_error_scale(nir, wavelengths)
    if aerosol is not None:
        scale = scale * (0.5 + 0.5 * aerosol.aot_865 / AOT_865_MEDIAN)[..., None]
    misfit = smooth_noise(shape, 30.0 / pixel_km, rng)
    land_km = ndimage.distance_transform_edt(water) * pixel_km
    adjacency = ADJACENCY_AMPLITUDE * np.exp(-np.maximum(land_km - pixel_km / 2, 0.0) / ADJACENCY_KM)
    haze = np.where(cloud, 0.0, 1.5e-3 * np.exp(-np.maximum(cloud_km - 2.5, 0.0) / 3.0))
    bias = (misfit[..., None] * scale + adjacency[..., None] * adjacency_shape(wavelengths)
            + haze[..., None] * (wavelengths / 550.0) ** -1.5 + (0.1 * glint / np.pi)[..., None])  # fmt: skip
    sd = noise_sd(rrs_water, wavelengths)
    rrs = rrs_water + bias + sd * rng.standard_normal(rrs_water.shape)
    unc = np.sqrt(sd**2 + scale**2)
    rrs = np.where(water[..., None], rrs, np.nan)
    return rrs, np.where(water[..., None], unc, np.nan), flags
