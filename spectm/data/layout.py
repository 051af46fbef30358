"""The real path's folder layout: which files ``spectm fetch`` leaves where, and which season each is.

``spectm fetch`` writes ``<real>/pace/PACE_OCI.<start>.L2.OC_AOP.V3_x.nc`` (streamed subsets or whole
granules), ``<real>/glerl/<GLERL's file name>`` and ``<real>/gridmet/<variable>_<year>.nc``. The chapters
and ``make book SOURCE=real`` read that layout through :func:`season_files` and :func:`missing`, so a
season is never mixed with another (the fair test leaves one season out) and a complete folder needs no
network. A PACE season counts as fetched once ``spectm fetch pace`` has written its record
(``pace/fetched_<year>.json``, the processing version and the granules it kept): no other sign says that
a search found them all. A season is one processing version: asking for another one (a fetch, an
``--if-missing`` check or a read with ``version=``), or a folder holding granules of two versions for one
year, is refused by :class:`MixedVersions` instead of mixing them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from spectm import paths
from spectm.data.access import DataAccessError
from spectm.data.weather import REQUIRED_VARIABLES

#: ``spectm twin --as-fetched`` leaves this file in ``pace/``: the folder's files are simulated, not Lake Erie's.
TWIN_MARKER = "TWIN_WRITTEN.txt"
_GRANULE_NAME = re.compile(
    r"^PACE_OCI\.(?P<year>\d{4})\d{4}T\d{6}\.L2\.OC_AOP\.V(?P<major>\d+)_(?P<minor>\d+)(\.NRT)?\.nc$")
FETCH_SOURCES = ("pace", "glerl", "gridmet")


class MixedVersions(DataAccessError):
    """A season's PACE folder holds, or would come to hold, granules of two processing versions."""


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


def granule_version(name: str) -> str | None:
    """The processing version ("3.1") in an OB.DAAC L2 AOP file name, or None for a name of another form."""
    match = _GRANULE_NAME.match(name)
    return f"{match['major']}.{match['minor']}" if match else None


def _root(root) -> Path:
    return paths.real_dir() if root is None else Path(root)


def glerl_names(year: int) -> list[str]:
    """GLERL's file(s) holding ``year`` (one sentence of :class:`~spectm.data.access.UnavailableYear` if none)."""
    from spectm.data.access import glerl_files_for_year

    return glerl_files_for_year(year)


def season_files(year: int, root=None, version: str | None = None) -> SeasonFiles:
    """The granules of ``year``, the GLERL file(s) holding ``year`` and its gridMET files, as on disk.

    ``version`` (e.g. "3.2"): the PACE processing version the caller expects; :class:`MixedVersions`
    when the season was fetched in another one, or when its granules are of two versions.
    """
    real = _root(root)
    check_version(year, version, real)
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


def recorded_version(year: int, root=None) -> str | None:
    """The processing version the season's fetch record names; None without a (readable) record."""
    try:
        version = json.loads(pace_record_path(year, root).read_text()).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return str(version) if version is not None else None


def check_version(year: int, requested: str | None, root=None) -> None:
    """Refuse, in one sentence, a season whose PACE granules are (or would become) of two versions.

    ``requested``: the version about to be fetched or read (None: whatever the season holds). The record
    of ``spectm fetch pace`` and the versions in the granule names on disk must agree with it and with
    each other.
    """
    real = _root(root)
    folder = real / "pace"
    on_disk = {}
    for path in sorted(folder.glob("PACE_OCI.*.nc")) if folder.is_dir() else []:
        if granule_year(path.name) == year:
            on_disk.setdefault(granule_version(path.name), path.name)
    recorded = recorded_version(year, real)
    if recorded is not None and requested is not None and str(requested) != recorded:
        raise MixedVersions(f"{folder} holds the PACE {year} season fetched as V{recorded} "
                            f"({pace_record_path(year, real).name}), not the V{requested} asked for: fetch "
                            f"V{requested} into another --out folder, or remove that season's granules and "
                            "record first, so that one season never mixes two versions.")  # fmt: skip
    versions, expected = sorted(on_disk), recorded or requested
    if len(versions) > 1 or (expected and versions and versions != [expected]):
        examples = ", ".join(on_disk[v] for v in versions)
        said = f"; its record says V{recorded}" if recorded else f"; V{requested} was asked for" if requested else ""
        raise MixedVersions(f"{folder} holds PACE {year} granules of V{', V'.join(versions)} (e.g. {examples}){said}: "
                            "one season keeps one version, so remove the other version's granules or fetch into "
                            "another --out folder.")  # fmt: skip


def _pace_missing(year: int, real: Path) -> str | None:
    record = pace_record_path(year, real)
    if not record.is_file():
        return f"no record of a complete PACE fetch for {year} ({record})"
    try:
        names = json.loads(record.read_text())["granules"]
    except (ValueError, KeyError, TypeError) as error:
        return f"the PACE fetch record {record} is damaged ({type(error).__name__})"
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return f"the PACE fetch record {record} is damaged (its granules are not a list of file names)"
    if not names:  # `spectm fetch pace` never records an empty season (no granule found is an error)
        return f"the PACE fetch record {record} lists no granule"
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


def require_season(year: int, root=None, version: str | None = None) -> SeasonFiles:
    """The season's files, or one FileNotFoundError naming every ``spectm fetch`` still to run
    (:class:`MixedVersions` for a season of another ``version`` or of two)."""
    real = _root(root)
    files = season_files(year, real, version)
    empty = [s for s in FETCH_SOURCES if not getattr(files, s)]
    if empty:
        commands = "; ".join(f"spectm fetch {s} --year {year}" for s in empty)
        raise FileNotFoundError(f"no {'/'.join(empty)} files for {year} under {real}: run `{commands}` first "
                                "(PACE needs Earthdata credentials), or `make fetch SOURCE=real`")
    return files


def twin_written(root=None) -> bool:
    """True when the folder was filled by ``spectm twin --as-fetched`` (simulated files in the fetch layout)."""
    return (_root(root) / "pace" / TWIN_MARKER).is_file()


def source_label(source: str, short: bool = False, real_root=None) -> str:
    """What a verdict box or result table calls the data of ``source`` ("twin" or "real").

    ``real`` files written by ``spectm twin --as-fetched`` (its marker in ``pace/``) are simulated, so
    they are labelled as such, never as real data; ``real_root``: the real-data folder (default
    ``data/real``).
    """
    if source == "twin":
        return "twin" if short else "the Lake Erie twin"
    if twin_written(real_root):
        return "real-format twin files, simulated" if short else "real-format files written by the twin (simulated)"
    return "real data" if short else "real PACE OCI and GLERL data"
