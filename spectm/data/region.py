"""The study area: the western basin of Lake Erie, as one bounding box that every reader and map uses.

Why here, in the data layer: it selects the PACE pixels (:func:`spectm.data.pixels.build_pixel_table`),
the gridMET cells (:func:`spectm.data.gridmet.open_gridmet`) and the granules to fetch, and the maps draw it;
maps sit above data, so the box lives below both.
"""

from __future__ import annotations

#: Western basin of Lake Erie, (west, south, east, north) in degrees: the shallow basin west of the Pelee
#: Island line where NOAA GLERL samples its weekly HABs stations (WE2 ... WE16, 41.6-41.9 N, 83.0-83.45 W),
#: with a margin of 0.1-0.15 degrees around the lon -83.5..-82.45, lat 41.3..42.2 box that grids the PACE
#: granules.
WESTERN_LAKE_ERIE_BBOX: tuple[float, float, float, float] = (-83.6, 41.3, -82.4, 42.2)
