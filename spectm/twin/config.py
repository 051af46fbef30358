"""Sizes, places and dates of the Lake Erie twin: plain values, nothing computed at import.

Why a module of its own: every other twin module (weather, blooms, atmosphere, samples, the driver)
reads the same box, river mouths and season, and the book quotes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from spectm.profiles import PROFILES, get_profile

#: The western basin box (west, south, east, north) in degrees: HAB-F's PACE search box, widened to
#: 83.50 W so the Maumee Bay shore is inside (HAB-F, github.com/jbcox-noaa/HAB-F, searches lon -83.5..-82.45, lat 41.3..42.2).
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

#: Version of the simulator: a change of physics or of what the files say bumps it, so an old manifest is
#: not reused.
TWIN_VERSION = "5"


@dataclass(frozen=True)
class TwinSize:
    """One named size of the twin: pixel size and the days that get granules."""

    name: str
    pixel_km: float
    season_start: str = SEASON_START
    season_end: str = SEASON_END
    description: str = ""


@dataclass(frozen=True)
class WaterOptics:
    """The CDOM and sediment regime of a twin water body: what its rivers bring and how it clears.

    Why: a transfer test needs a second water body whose optics differ from Lake Erie's while its
    geography, weather, sampling and file formats stay the same, so that any drop in skill comes from
    the water's colour and not from the plumbing. Units: CDOM absorption at 440 nm in 1/m, mineral
    suspended solids (TSS) in g m-3, discharge in m3/s.
    """

    name: str
    cdom_background: float  # what CDOM relaxes (bleaches) towards, 1/m
    cdom_bleaching_days: float  # e-folding time of that relaxation
    cdom_initial: float  # 1/m on the first day of spin-up
    tss_initial: float  # g m-3 on the first day of spin-up
    river_cdom: tuple[float, float]  # Maumee-mouth water: a_g(440) = a + b * discharge
    river_tss: tuple[float, float]  # Maumee-mouth water: TSS = a + b * discharge
    north_inflow_cdom: float  # the Detroit-mouth inflow's a_g(440)
    north_inflow_tss: float  # and its TSS
    resuspension_floor: float  # TSS that settling approaches in calm weather, g m-3
    resuspension_gain: float  # extra TSS per (m/s above 3 m/s)^1.5 at 4 m depth
    description: str = ""


#: The water bodies the twin can simulate. ``lake_erie`` is the default twin (its values are the ones
#: the twin always had; quick twin, season-wide 10-90 % range: a_g(440) 0.7-2.6 1/m, TSS 5-36 g m-3);
#: ``turbid_bay`` is a hypothetical turbid, coloured bay on the same geography (a_g(440) about 2.4-6.4
#: 1/m, TSS 16-86 g m-3): a browner, siltier river at the Maumee position, a turbid northern inflow in
#: place of the clear Detroit River, slower CDOM bleaching and stronger wind resuspension. Its darker
#: water also slows algal growth (light limitation uses the same attenuation), so blooms are weaker.
WATERS: dict[str, WaterOptics] = {
    "lake_erie": WaterOptics(
        "lake_erie", cdom_background=0.35, cdom_bleaching_days=40.0, cdom_initial=0.6, tss_initial=10.0,
        river_cdom=(3.0, 0.0015), river_tss=(30.0, 0.12), north_inflow_cdom=0.2, north_inflow_tss=3.0,
        resuspension_floor=3.0, resuspension_gain=4.0,
        description="western Lake Erie: clear Detroit River water in the north, the Maumee plume in the south-west"),
    "turbid_bay": WaterOptics(
        "turbid_bay", cdom_background=1.2, cdom_bleaching_days=70.0, cdom_initial=1.6, tss_initial=30.0,
        river_cdom=(6.0, 0.004), river_tss=(80.0, 0.3), north_inflow_cdom=1.0, north_inflow_tss=20.0,
        resuspension_floor=12.0, resuspension_gain=9.0,
        description="hypothetical turbid bay: coloured, silty rivers and strong resuspension (transfer tests only)"),
}  # fmt: skip


def get_water(name: str) -> WaterOptics:
    """The named water body; an unknown name is an error that lists the known ones."""
    try:
        return WATERS[name]
    except KeyError:
        raise ValueError(f"unknown twin water {name!r}: expected one of {', '.join(WATERS)}") from None


#: Sizes that belong to no profile (the profiles' sizes are their ``twin`` sections, :mod:`spectm.profiles`).
SIZES: dict[str, TwinSize] = {
    # for the twin's own tests: two weeks of July at 7.2 km (not a data product)
    "tiny": TwinSize("tiny", 7.2, season_start="07-10", season_end="07-16", description="tests only: 7 days at 7.2 km"),
}


def _profile_sizes() -> dict[str, TwinSize]:
    sections = (get_profile(name)["twin"] for name in PROFILES)
    return {twin["name"]: TwinSize(twin["name"], twin["pixel_km"]) for twin in sections}


def size_names() -> list[str]:
    """Every size the twin knows: the profiles' and :data:`SIZES`."""
    return sorted({*_profile_sizes(), *SIZES})


def get_size(name: str) -> TwinSize:
    """The named size; an unknown name is an error that lists the known ones."""
    sizes = {**_profile_sizes(), **SIZES}
    try:
        return sizes[name]
    except KeyError:
        raise ValueError(f"unknown twin size {name!r}: expected one of {', '.join(sizes)}") from None
