"""Where the water is: a hand-digitised western-basin shoreline, the model grid and a depth proxy.

The outline is approximate (a few km): vertices read off a map along the Michigan, Ontario and Ohio
shores, with Pelee, Kelleys and South Bass islands as holes. It only has to put the GLERL stations in
water, the Maumee and Detroit mouths on the shore, and give a plausible land/water split at 1-4 km.
Twin-only: real files carry their own land flags and masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from matplotlib.path import Path as PolygonPath
from scipy import ndimage

from spectm.twin.config import KM_PER_DEG_LAT, KM_PER_DEG_LON, WESTERN_BASIN_BBOX

# (lon, lat) vertices, clockwise from the Maumee River mouth at Toledo; the east side closes along
# 82.40 W, i.e. the western basin opens into the central basin there.
_SHORE = [
    (-83.47, 41.685), (-83.49, 41.72), (-83.46, 41.745), (-83.44, 41.80), (-83.40, 41.86),
    (-83.35, 41.89), (-83.27, 41.94), (-83.23, 41.98), (-83.19, 42.02), (-83.15, 42.05),
    (-83.12, 42.10), (-83.09, 42.05), (-83.00, 42.02), (-82.93, 42.00), (-82.80, 42.02),
    (-82.74, 42.03), (-82.60, 42.04), (-82.52, 42.01), (-82.51, 41.91), (-82.47, 41.98),
    (-82.40, 42.03), (-82.40, 41.40), (-82.55, 41.40), (-82.68, 41.49), (-82.71, 41.54),
    (-82.85, 41.57), (-82.94, 41.51), (-83.02, 41.55), (-83.08, 41.60), (-83.20, 41.635),
    (-83.30, 41.665), (-83.37, 41.68), (-83.44, 41.675),
]  # fmt: skip
_ISLANDS = [
    [(-82.70, 41.79), (-82.63, 41.80), (-82.62, 41.76), (-82.66, 41.735), (-82.69, 41.75)],  # Pelee
    [(-82.74, 41.62), (-82.67, 41.62), (-82.68, 41.59), (-82.73, 41.59)],  # Kelleys
    [(-82.84, 41.67), (-82.80, 41.67), (-82.80, 41.64), (-82.84, 41.64)],  # South Bass
]


@cache
def _paths() -> tuple[PolygonPath, tuple[PolygonPath, ...]]:
    return PolygonPath(np.array(_SHORE)), tuple(PolygonPath(np.array(i)) for i in _ISLANDS)


def is_water(lon, lat) -> np.ndarray:
    """True where (lon, lat) lies in the twin's western basin (any matching shapes)."""
    lon, lat = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
    points = np.column_stack([lon.ravel(), lat.ravel()])
    shore, islands = _paths()
    water = shore.contains_points(points)
    for island in islands:
        water &= ~island.contains_points(points)
    return water.reshape(lon.shape)


@dataclass(frozen=True)
class ModelGrid:
    """The regular lat/lon grid the bloom fields live on (cell centres, lat ascending)."""

    lat: np.ndarray
    lon: np.ndarray
    pixel_km: float
    water: np.ndarray  # (lat, lon) bool
    depth_m: np.ndarray  # (lat, lon), NaN on land
    shore_km: np.ndarray  # (lat, lon) distance to the nearest land cell

    @property
    def shape(self) -> tuple[int, int]:
        return self.water.shape

    def fractional_index(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, column) of points, for interpolation with ``ndimage.map_coordinates``."""
        row = (np.asarray(lat) - self.lat[0]) / (self.lat[1] - self.lat[0])
        col = (np.asarray(lon) - self.lon[0]) / (self.lon[1] - self.lon[0])
        return row, col

    def km_from(self, lon, lat) -> np.ndarray:
        """Distance (km) of every cell from a point."""
        dy = (self.lat[:, None] - lat) * KM_PER_DEG_LAT
        dx = (self.lon[None, :] - lon) * KM_PER_DEG_LON
        return np.hypot(dy, dx)


def model_grid(pixel_km: float, bbox=WESTERN_BASIN_BBOX) -> ModelGrid:
    """The model grid at ``pixel_km`` over ``bbox``, with water mask and a depth proxy.

    Depth: the western basin is a shallow bowl (mean ~7 m, ~10 m at most), so depth grows with distance
    from shore, 1.5 m at the shore and +0.6 m per km, capped at 10 m. Twin-only; not a bathymetry.
    """
    west, south, east, north = bbox
    dlat, dlon = pixel_km / KM_PER_DEG_LAT, pixel_km / KM_PER_DEG_LON
    lat = np.arange(south + dlat / 2, north, dlat)
    lon = np.arange(west + dlon / 2, east, dlon)
    water = is_water(lon[None, :], lat[:, None])
    shore_km = ndimage.distance_transform_edt(water) * pixel_km
    depth = np.where(water, np.minimum(1.5 + 0.6 * shore_km, 10.0), np.nan)
    return ModelGrid(lat=lat, lon=lon, pixel_km=pixel_km, water=water, depth_m=depth, shore_km=shore_km)
