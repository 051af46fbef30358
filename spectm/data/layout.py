"""The real path's folder layout: which files ``spectm fetch`` leaves where, and which season each is.

``spectm fetch`` writes ``<real>/pace/PACE_OCI.<start>.L2.OC_AOP.V3_x.nc`` (streamed subsets or whole
granules), ``<real>/glerl/<GLERL's file name>`` and ``<real>/gridmet/<variable>_<year>.nc``. The chapters
and ``make book SOURCE=real`` read that layout through :func:`season_files` and :func:`missing`, so a
season is never mixed with another (the fair test leaves one season out) and a complete folder needs no
network. A PACE season counts as fetched once ``spectm fetch pace`` has written its record
(``pace/fetched_<year>.json``, the granules it kept): no other sign says that a search found them all.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from spectm import paths
from spectm.data.weather import REQUIRED_VARIABLES

#: ``spectm twin --as-fetched`` leaves this file in ``pace/``: the folder's files are simulated, not Lake Erie's.
TWIN_MARKER = "TWIN_WRITTEN.txt"
_GRANULE_NAME = re.compile(r"^PACE_OCI\.(?P<year>\d{4})\d{4}T\d{6}\.L2\.OC_AOP\.V\d+_\d+(\.NRT)?\.nc$")
FETCH_SOURCES = ("pace", "glerl", "gridmet")


@dataclass(frozen=True)
class SeasonFiles:
    """The files of one season under a real-data folder, each list sorted."""

    year: int
    pace: list[Path]
    glerl: list[Path]
    gridmet: list[Path]


def granule_year(name: str) -> int | None:
    """The year in an OB.DAAC L2 AOP file name, or None for a name of another form."""
    match = _GRANULE_NAME.match(name)
    return int(match["year"]) if match else None


def _root(root) -> Path:
    return paths.real_dir() if root is None else Path(root)


def glerl_names(year: int) -> list[str]:
    """GLERL's file(s) holding ``year`` (one sentence of :class:`~spectm.data.access.UnavailableYear` if none)."""
    from spectm.data.access import glerl_files_for_year

    return glerl_files_for_year(year)


def season_files(year: int, root=None) -> SeasonFiles:
    """The granules of ``year``, the GLERL file(s) holding ``year`` and its gridMET files, as on disk."""
    real = _root(root)
    granules = sorted(p for p in (real / "pace").glob("PACE_OCI.*.nc") if granule_year(p.name) == year)
    samples = [real / "glerl" / name for name in glerl_names(year) if (real / "glerl" / name).is_file()]
    weather = sorted(p for p in (real / "gridmet").glob(f"*_{year}.nc") if p.is_file())
    return SeasonFiles(year, granules, samples, weather)


def pace_record_path(year: int, root=None) -> Path:
    return _root(root) / "pace" / f"fetched_{year}.json"


def write_pace_record(year: int, granules, root=None, version: str = "3.2") -> Path:
    """Say that a complete search of ``year`` was fetched: the granule names kept (atomic write)."""
    target = pace_record_path(year, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    record = {"year": int(year), "version": version, "granules": sorted(Path(g).name for g in granules)}
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    partial.write_text(json.dumps(record, indent=1))
    os.replace(partial, target)
    return target


def _pace_missing(year: int, real: Path) -> str | None:
    record = pace_record_path(year, real)
    if not record.is_file():
        return f"no record of a complete PACE fetch for {year} ({record})"
    try:
        names = json.loads(record.read_text())["granules"]
    except (ValueError, KeyError, TypeError) as error:
        return f"the PACE fetch record {record} is damaged ({type(error).__name__})"
    gone = [name for name in names if not (real / "pace" / name).is_file()]
    if gone:
        return (f"{len(gone)} of the {len(names)} PACE granules of {year} listed in {record} are gone "
                f"(e.g. {gone[0]})")
    return None


def missing(source: str, year: int, root=None) -> str | None:
    """What ``source`` lacks for ``year`` under the real-data folder, in a few words; None when complete."""
    real = _root(root)
    if source == "pace":
        return _pace_missing(year, real)
    if source == "glerl":
        absent = [name for name in glerl_names(year) if not (real / "glerl" / name).is_file()]
        return f"GLERL file(s) {', '.join(absent)}" if absent else None
    if source == "gridmet":
        absent = [v for v in REQUIRED_VARIABLES if not (real / "gridmet" / f"{v}_{year}.nc").is_file()]
        return f"gridMET {', '.join(absent)} for {year}" if absent else None
    raise ValueError(f"unknown source {source!r}: expected one of {', '.join(FETCH_SOURCES)}")


def require_season(year: int, root=None) -> SeasonFiles:
    """The season's files, or one FileNotFoundError naming every ``spectm fetch`` still to run."""
    real = _root(root)
    files = season_files(year, real)
    empty = [s for s in FETCH_SOURCES if not getattr(files, s)]
    if empty:
        commands = "; ".join(f"spectm fetch {s} --year {year}" for s in empty)
        raise FileNotFoundError(f"no {'/'.join(empty)} files for {year} under {real}: run `{commands}` first "
                                "(PACE needs Earthdata credentials), or `make fetch SOURCE=real`")
    return files


def twin_written(root=None) -> bool:
    """True when the folder was filled by ``spectm twin --as-fetched`` (simulated files in the fetch layout)."""
    return (_root(root) / "pace" / TWIN_MARKER).is_file()
