"""Twin granules at full-swath size: the twin's Lake Erie scene placed inside a whole OCI swath.

Why: the twin writes a cut-out (the western basin and a margin) so that a season stays small, but a real
L2 AOP granule holds the whole swath, about 1710 scan lines x 1272 pixels (OB.DAAC's file-structure
notes, l2gen's ``l2_generic.c``). What streaming a window costs (the chunks, the HDF5 chunk index, the edges of
every line) depends on that shape, so the real path is measured on twin granules that have it.

Geometry (a twin approximation, the frame of :func:`spectm.twin.atmosphere.plan_overpass`): an ascending
track heading :data:`~spectm.twin.atmosphere.HEADING_DEG`, one line every
:data:`~spectm.data.pace.LINE_PERIOD_S` at :data:`~spectm.twin.atmosphere.GROUND_SPEED_KM_S` (1.19 km),
pixels evenly spaced in scan angle out to :data:`~spectm.twin.atmosphere.SWATH_HALF_WIDTH_KM` on each
side of nadir (1.1 km apart at nadir, 4.3 km at the edges), placed on the twin's flat frame around the
basin centre. The twin does not record where nadir was on the day, so the basin centre lies ``nadir_km``
east of nadir (default :data:`DEFAULT_NADIR_KM`). Each swath pixel inside the scene takes the packed
values of the nearest scene pixel (the quick twin's 3.6 km pixels look blocky at 1 km); every other
pixel is written as l2gen writes a pixel without a retrieval: fill in every geophysical variable, and
the LAND flag (one of l2gen's mask flags). Chunking and packing are the writer's, i.e. the product's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd

from spectm.atomic import atomic_write
from spectm.data.pace import LINE_PERIOD_S, _version, flag_bits, l2_aop_filename
from spectm.twin.atmosphere import GROUND_SPEED_KM_S, HEADING_DEG, ORBIT_ALTITUDE_KM, SWATH_HALF_WIDTH_KM
from spectm.twin.config import KM_PER_DEG_LAT, KM_PER_DEG_LON, WESTERN_BASIN_BBOX
from spectm.twin.writers.pace import write_l2_aop

#: (scan lines, pixels per line) of a real OCI L2 granule (five minutes of the swath).
FULL_SWATH = (1710, 1272)
#: Cross-track distance (km, east positive) of the basin centre from nadir.
DEFAULT_NADIR_KM = 300.0
_PACKED = ("Rrs", "Rrs_unc", "aot_865", "angstrom")


@dataclass(frozen=True)
class Scene:
    """One twin granule's arrays, unpacked (NaN where fill), with its line times and attributes."""

    arrays: dict[str, np.ndarray]  # Rrs, Rrs_unc (lines, pixels, bands) float32; aot_865, angstrom, l2_flags
    latitude: np.ndarray
    longitude: np.ndarray
    times: pd.DatetimeIndex
    tilt: float
    version: str
    date_created: str


def _unpacked(var) -> np.ndarray:
    """Packed int16 -> float32 physical values (computed in float64), fill -> NaN."""
    var.set_auto_maskandscale(False)
    raw = np.asarray(var[:])
    values = raw * np.float64(var.getncattr("scale_factor")) + np.float64(var.getncattr("add_offset"))
    return np.where(raw == var.getncattr("_FillValue"), np.nan, values).astype(np.float32)


def read_scene(path) -> Scene:
    """The arrays of a twin granule (either layout) that a full swath carries over."""
    with netCDF4.Dataset(path) as nc:
        geo, nav = nc["geophysical_data"], nc["navigation_data"]
        arrays = {name: _unpacked(geo[name]) for name in _PACKED if name in geo.variables}
        geo["l2_flags"].set_auto_maskandscale(False)
        arrays["l2_flags"] = np.asarray(geo["l2_flags"][:])
        lat, lon = (np.asarray(nav[n][:], dtype=np.float64) for n in ("latitude", "longitude"))
        seconds = np.asarray(nc["scan_line_attributes"]["time"][:], dtype=np.float64)
        times = pd.DatetimeIndex(pd.to_datetime(seconds, unit="s").round("ms"))
        tilt = float(nav["tilt"][0])
        return Scene(arrays, lat, lon, times, tilt, str(nc.processing_version), str(nc.date_created))


def _frame_axes() -> tuple[np.ndarray, np.ndarray, float, float]:
    """(along, across) unit vectors in (east, north) km and the frame's origin (lon, lat)."""
    heading = np.deg2rad(HEADING_DEG)
    west, south, east, north = WESTERN_BASIN_BBOX
    along = np.array([np.sin(heading), np.cos(heading)])
    across = np.array([np.cos(heading), -np.sin(heading)])
    return along, across, (west + east) / 2, (south + north) / 2


def _to_frame(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Along-track and cross-track km of positions in the twin's flat frame."""
    along, across, lon0, lat0 = _frame_axes()
    east, north = (lon - lon0) * KM_PER_DEG_LON, (lat - lat0) * KM_PER_DEG_LAT
    return east * along[0] + north * along[1], east * across[0] + north * across[1]


def _from_frame(along_km: np.ndarray, across_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lat, lon) of every (line, pixel) of a swath given its lines' and pixels' frame km."""
    along, across, lon0, lat0 = _frame_axes()
    east = along_km[:, None] * along[0] + across_km[None, :] * across[0]
    north = along_km[:, None] * along[1] + across_km[None, :] * across[1]
    return lat0 + north / KM_PER_DEG_LAT, lon0 + east / KM_PER_DEG_LON


def swath_axes(scene_along: np.ndarray, lines: int, pixels: int, nadir_km: float, centre_line: int):
    """Frame km of the swath's lines (the scene's middle at ``centre_line``) and pixels (even scan angle)."""
    line_km = GROUND_SPEED_KM_S * LINE_PERIOD_S
    middle = (scene_along[0] + scene_along[-1]) / 2
    along = middle + (np.arange(lines) - centre_line) * line_km
    edge = np.arctan(SWATH_HALF_WIDTH_KM / ORBIT_ALTITUDE_KM)
    from_nadir = ORBIT_ALTITUDE_KM * np.tan(np.linspace(-edge, edge, pixels))
    return along, from_nadir - nadir_km


def _nearest(targets: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Index of the nearest point of the evenly spaced ``axis`` for each target; -1 beyond its ends."""
    step = (axis[-1] - axis[0]) / max(axis.size - 1, 1)
    index = np.rint((targets - axis[0]) / step).astype(np.int64) if axis.size > 1 else np.zeros(targets.size, np.int64)
    return np.where((index >= 0) & (index < axis.size), index, -1)


def _embedded(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, fill) -> np.ndarray:
    """A (lines, pixels, ...) array of ``fill`` holding ``values[rows, cols]`` where both indices are valid."""
    out = np.full((rows.size, cols.size) + values.shape[2:], fill, dtype=values.dtype)
    r, c = np.flatnonzero(rows >= 0), np.flatnonzero(cols >= 0)
    if r.size and c.size:
        block = (slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1))
        out[block] = values[rows[block[0]]][:, cols[block[1]]]
    return out


def embed_scene(scene: Scene, swath=FULL_SWATH, nadir_km: float = DEFAULT_NADIR_KM, centre_line=None) -> dict:
    """The full-swath arrays (``write_l2_aop``'s keyword arguments) with ``scene`` at its place."""
    lines, pixels = (int(n) for n in swath)
    if lines < 1 or pixels < 2:
        raise ValueError(f"swath must be (lines >= 1, pixels >= 2), got {swath!r}")
    scene_along, scene_across = _to_frame(scene.latitude, scene.longitude)
    scene_along, scene_across = scene_along.mean(axis=1), scene_across.mean(axis=0)
    centre = lines // 2 if centre_line is None else int(centre_line)
    along, across = swath_axes(scene_along, lines, pixels, nadir_km, centre)
    rows, cols = _nearest(along, scene_along), _nearest(across, scene_across)
    a = scene.arrays
    land = np.int32(flag_bits("LAND"))
    line_times = scene.times[0] + pd.to_timedelta((along - scene_along[0]) / GROUND_SPEED_KM_S, unit="s")
    latitude, longitude = _from_frame(along, across)
    return {
        "rrs": _embedded(a["Rrs"], rows, cols, np.nan),
        "rrs_unc": _embedded(a["Rrs_unc"], rows, cols, np.nan) if "Rrs_unc" in a else None,
        "aot_865": _embedded(a["aot_865"], rows, cols, np.nan) if "aot_865" in a else None,
        "angstrom": _embedded(a["angstrom"], rows, cols, np.nan) if "angstrom" in a else None,
        "l2_flags": _embedded(a["l2_flags"], rows, cols, land),
        "latitude": latitude, "longitude": longitude, "scan_time": line_times.round("ms"),
    }  # fmt: skip


def write_full_swath(source, out_dir, swath=FULL_SWATH, layout: str | None = None,
                     nadir_km: float = DEFAULT_NADIR_KM, centre_line=None) -> Path:  # fmt: skip
    """Write the twin granule ``source`` at full-swath size into ``out_dir``; returns the new granule.

    ``swath``: (scan lines, pixels per line), the real (1710, 1272) by default; tests pass fewer lines
    (120-200 still hold the basin). ``layout``: the processing version to write ("3.1" or "3.2"), the
    source's by default. The file is named by its first line's time, as OB.DAAC names granules.
    """
    scene = read_scene(source)
    arrays = embed_scene(scene, swath, nadir_km, centre_line)
    version = _version(layout or scene.version)
    path = Path(out_dir) / l2_aop_filename(arrays["scan_time"][0], version)
    attrs = {"product_name": path.name, "id": f"{version}/L2/{path.name}", "date_created": scene.date_created,
             "history": f"spectm.twin.writers.swath.write_full_swath: the twin granule {Path(source).name} "
                        f"placed in a {arrays['rrs'].shape[0]} x {arrays['rrs'].shape[1]} swath"}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as partial:
        write_l2_aop(partial, layout=version, tilt=scene.tilt, attrs=attrs, **arrays)
    return path
