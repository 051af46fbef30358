"""Sizes, places and dates of the Lake Erie twin: plain values, nothing computed at import.

Why a module of its own: every other twin module (weather, blooms, atmosphere, samples, the driver)
reads the same box, river mouths and season, and the book quotes them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The western basin box (west, south, east, north) in degrees: HAB-F's PACE search box, widened to
#: 83.50 W so the Maumee Bay shore is inside (shared/specs/glerl.md section 9).
WESTERN_BASIN_BBOX: tuple[float, float, float, float] = (-83.50, 41.30, -82.45, 42.20)

#: River mouths (lon, lat). Maumee: the issue's position; Detroit: where the river enters the lake.
MAUMEE_MOUTH: tuple[float, float] = (-83.45, 41.70)
DETROIT_MOUTH: tuple[float, float] = (-83.14, 42.04)

#: The bloom model starts here (spin-up); granules and weather files cover the season and the year.
SPINUP_START = "04-01"
SEASON_START = "05-01"
SEASON_END = "10-31"

#: Kilometres per degree of latitude, and of longitude at the basin's mean latitude (41.75 N).
KM_PER_DEG_LAT = 111.0
KM_PER_DEG_LON = 82.8

#: Version of the simulator: a change of physics bumps it, so an old manifest is not reused.
TWIN_VERSION = "1"


@dataclass(frozen=True)
class TwinSize:
    """One named size of the twin: pixel size and the days that get granules."""

    name: str
    pixel_km: float
    season_start: str = SEASON_START
    season_end: str = SEASON_END
    description: str = ""


SIZES: dict[str, TwinSize] = {
    "quick": TwinSize("quick", 3.6, description="CI: the May-October season at 3.6 km pixels"),
    "season": TwinSize("season", 1.2, description="the May-October season at 1.2 km pixels, one overpass a day"),
    # for the twin's own tests: two weeks of July at 7.2 km (not a data product)
    "tiny": TwinSize("tiny", 7.2, season_start="07-10", season_end="07-16", description="tests only: 7 days at 7.2 km"),
}


def get_size(name: str) -> TwinSize:
    """The named size; an unknown name is an error that lists the known ones."""
    try:
        return SIZES[name]
    except KeyError:
        raise ValueError(f"unknown twin size {name!r}: expected one of {', '.join(SIZES)}") from None
