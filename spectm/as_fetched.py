"""Twin-written real-format files laid out exactly as ``spectm fetch`` lays out real ones.

``spectm twin --as-fetched DIR [--size quick] [--every 4]`` fills ``DIR/pace`` with the Lake Erie
windows of twin granules (subsets written by the same code that streams real granules, one season in
the V3.1 layout and the next in V3.2, with the fetch record of each season), ``DIR/glerl`` with the
twin's weekly datashares under GLERL's file names and ``DIR/gridmet`` with its yearly files. Pointed at
``data/real``, every chapter then runs with ``source = "real"`` through the real path's code, offline:
this is how CI checks that path. The numbers are simulated, never Lake Erie results.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from spectm import paths
from spectm.data import layout, stream
from spectm.atomic import atomic_write
from spectm.data.region import WESTERN_LAKE_ERIE_BBOX

#: Seasons the fair test uses, each with the L2 AOP layout its granules are written in (both layouts read).
SEASON_LAYOUTS = {2024: "3.1", 2025: "3.2"}


def _twin(size: str, seed: int, year: int, version: str):
    """The twin of ``year`` in ``version``'s layout; the book's own V3.1 twin is reused, never rewritten."""
    from spectm.twin import simulate_twin

    folder = paths.twin_dir(size, seed, year)
    if version != "3.1":
        folder = folder.with_name(f"{folder.name}-V{version.replace('.', '_')}")
    return simulate_twin(folder, size=size, seed=seed, year=year, layout=version, progress=False)


def _copy(source: Path, target: Path) -> Path:
    with atomic_write(target) as partial:
        shutil.copyfile(source, partial)
    return target


def lay_out_as_fetched(root, size: str = "quick", seed: int = 0, seasons=SEASON_LAYOUTS, every: int = 1) -> dict:
    """Write the seasons' twin files under ``root`` in the fetch layout; returns ``{year: SeasonFiles}``.

    ``every``: keep every n-th overpass day (a smaller folder for a quick check); every sample and weather
    file is kept.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)  # a folder that cannot be made fails now, not after the simulation
    out = {}
    for year, version in dict(seasons).items():
        twin = _twin(size, seed, int(year), version)
        granules = twin.paths("pace")[::every]
        kept = stream.subset_granules(granules, WESTERN_LAKE_ERIE_BBOX, root / "pace", progress=False)
        layout.write_pace_record(int(year), [r.path for r in kept if r.path is not None], root, version)
        for sample_file in twin.paths("glerl"):
            _copy(sample_file, root / "glerl" / sample_file.name)
        for weather_file in twin.paths("gridmet"):
            _copy(weather_file, root / "gridmet" / weather_file.name)
        out[int(year)] = layout.season_files(int(year), root)
    marker = "These files were written by the spectm twin: simulated, not Lake Erie data.\n"
    (root / "pace" / layout.TWIN_MARKER).write_text(marker)
    return out


def main(argv: list[str] | None = None) -> int:
    from spectm.data.options import cannot_write, positive, seed
    from spectm.twin.config import size_names

    parser = argparse.ArgumentParser(prog="spectm twin --as-fetched", description=__doc__.splitlines()[0])
    parser.add_argument("--as-fetched", dest="root", required=True, type=Path,
                        help="folder to fill (e.g. data/real)")
    parser.add_argument("--size", default="quick", choices=size_names(), help="twin size")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--every", type=positive, default=1, help="keep every n-th overpass day")
    args = parser.parse_args(argv)
    try:
        seasons = lay_out_as_fetched(args.root, size=args.size, seed=args.seed, every=args.every)
    except OSError as error:  # the folder is a file, lies under one, or the disk refuses the write
        return cannot_write("twin --as-fetched", args.root, error)
    for year, files in seasons.items():
        print(f"{year}: {len(files.pace)} granule subsets (V{SEASON_LAYOUTS[year]}), {len(files.glerl)} GLERL, "
              f"{len(files.gridmet)} gridMET files -> {args.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
