"""The ``spectm`` command line: one subcommand per entry point of the package.

Subcommands are added as the package grows (``twin``, ``fetch``, ``pretrain``, ``evaluate``);
each one is a thin wrapper over a function of the package, so the notebooks and the command line
run the same code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spectm.data.options import PACE_VERSIONS, cannot_write, non_negative


def _bands(args: argparse.Namespace) -> int:
    from spectm import bands

    rows = bands.grid_summary()
    header = f"{'grid':<20}{'bands':>6}{'first':>9}{'last':>9}{'PC':>5}{'Chl':>5}{'RE':>5}{'|D|':>5}{'gap':>5}"
    print(header)
    for r in rows:
        print(
            f"{r['grid']:<20}{r['bands']:>6}{r['first_nm']:>9.1f}{r['last_nm']:>9.1f}"
            f"{r['phycocyanin']:>5}{r['chlorophyll_a']:>5}{r['red_edge']:>5}{r['D']:>5}{r['gap']:>5}"
        )
    return 0


def _fetch(args: argparse.Namespace) -> int:
    """Download one source for one year; any failure is one sentence on stderr and exit code 2."""
    from spectm import paths
    from spectm.data import access

    out = paths.real_dir() if args.out is None else args.out
    try:
        if args.source == "pace":
            args.version = _pace_version(args, out)
        if args.if_missing and (on_disk := _already_fetched(args, out)):
            print(on_disk)
            return 0
        files = _FETCHERS[args.source](args, f"{out}/{args.source}")
    except access.DataAccessError as error:  # unreachable, cut short, not the file, or no data that year
        print(error, file=sys.stderr)
        return 2
    except OSError as error:  # an --out that is a file, or a disk that refuses the write
        return cannot_write("fetch", out, error)
    print(f"{len(files)} verified files in {out}/{args.source}")
    return 0


def _pace_version(args: argparse.Namespace, out) -> str:
    """The version to fetch: the one asked for, else the season's recorded one, else 3.2; refused when
    the season on disk is of another version (:class:`spectm.data.layout.MixedVersions`)."""
    from spectm.data import layout

    version = args.version or layout.recorded_version(args.year, out) or "3.2"
    layout.check_version(args.year, version, out)
    return version


def _already_fetched(args: argparse.Namespace, out) -> str | None:
    """With ``--if-missing``: a line saying the season is on disk (nothing is fetched), else None."""
    from spectm.data import access, layout

    try:
        lacking = layout.missing(args.source, args.year, out)
    except access.UnavailableYear:
        return None  # the fetch itself refuses the year, in its own sentence
    return None if lacking else f"{args.source} {args.year}: on disk under {out}/{args.source}, nothing fetched"


def _fetch_pace(args: argparse.Namespace, folder: str) -> list:
    from spectm.data import access, layout
    from spectm.data.region import WESTERN_LAKE_ERIE_BBOX

    start, end = access.pace_season(args.year)  # refuses a year outside the mission at once
    found = access.search_pace_granules(start, end, WESTERN_LAKE_ERIE_BBOX, version=args.version)
    print(f"{len(found)} PACE OCI L2 AOP granules (V{args.version}) over western Lake Erie in {args.year}")
    if not found:  # a record of an empty season would let `--if-missing` and the book take it as fetched
        raise access.DataAccessError(f"CMR lists no PACE OCI L2 AOP V{args.version} granules over western Lake "
                                     f"Erie between {start} and {end}, so nothing was fetched and no season "
                                     "record was written; check --version and --year.")  # fmt: skip
    found = found[: args.limit] if args.limit else found
    if args.whole_granules:
        kept = access.download_granules(found, folder)
    else:
        from spectm.data import stream

        results = stream.subset_granules(found, WESTERN_LAKE_ERIE_BBOX, folder, session=access.earthdata_session())
        fetched = sum(r.bytes_fetched or 0 for r in results)
        print(f"streamed the western Lake Erie window of {len(results)} granules: {fetched / 1e6:,.1f} MB fetched")
        kept = [r.path for r in results if r.path is not None]
    if not args.limit:  # the whole search is on disk: `--if-missing` (make book SOURCE=real) needs no network
        layout.write_pace_record(args.year, kept, Path(folder).parent, args.version)
    return kept


def _fetch_glerl(args: argparse.Namespace, folder: str) -> list:
    from spectm.data import access

    return access.fetch_glerl_year(args.year, folder)


def _fetch_gridmet(args: argparse.Namespace, folder: str) -> list:
    from spectm.data import access

    return list(access.fetch_gridmet(access.GRIDMET_VARIABLES, [args.year], folder).values())


_FETCHERS = {"pace": _fetch_pace, "glerl": _fetch_glerl, "gridmet": _fetch_gridmet}


def _book(args: argparse.Namespace) -> int:
    from spectm import book

    if not Path(args.source).is_file():
        print(f"spectm book: no notebook source at {args.source} (expected a MyST .md file)", file=sys.stderr)
        return 2
    return book.main(["execute", str(args.source), str(args.target), "--profile", args.profile,
                      "--source", args.data])


def _twin(rest: list[str]) -> int:
    from spectm.twin.__main__ import main as twin_main

    return twin_main(rest)


def _pretrain(rest: list[str]) -> int:
    from spectm.pretrain import main as train_main

    return train_main(rest)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Subcommands that own their argument parsers get the rest of the line unchanged.
    delegated = {"twin": _twin, "pretrain": _pretrain}
    if argv[:1] == ["twin"] and any(a.split("=")[0] == "--as-fetched" for a in argv):
        from spectm.as_fetched import main as as_fetched_main

        return as_fetched_main(argv[1:])
    if argv and argv[0] in delegated:
        return delegated[argv[0]](argv[1:])
    parser = argparse.ArgumentParser(prog="spectm", description="SpecTM reproduced: tools behind the book")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("twin", help="write the Lake Erie twin (spectm twin --help)")
    commands.add_parser("pretrain", help="pretrain SpecTM on a pixel table (spectm pretrain --help)")

    grids = commands.add_parser("bands", help="band grids and |D| per diagnostic window")
    grids.set_defaults(run=_bands)

    fetch = commands.add_parser("fetch", help="download real data (PACE needs Earthdata credentials)")
    fetch.add_argument("source", choices=["pace", "glerl", "gridmet"])
    fetch.add_argument("--year", type=int, default=2024,
                       help="season: GLERL 2012-2022 and 2024-2025, gridMET 1979-now, PACE 2024-now")
    fetch.add_argument("--version", default=None, choices=PACE_VERSIONS,
                       help="PACE L2 AOP processing version: 3.2, or 3.1 on request (default: the version the "
                            "season was fetched in, else 3.2); a season never mixes two")
    fetch.add_argument("--whole-granules", action="store_true",
                       help="PACE: download whole granules instead of streaming only the Lake Erie window")
    fetch.add_argument("--limit", type=non_negative, default=0, help="download at most this many granules (0: all)")
    fetch.add_argument("--out", default=None, help="cache folder (default: data/real)")
    fetch.add_argument("--if-missing", action="store_true",
                       help="fetch only if the season is not on disk already (then no network is touched)")
    fetch.set_defaults(run=_fetch)

    book = commands.add_parser("book", help="execute one MyST notebook with papermill under a profile")
    book.add_argument("source")
    book.add_argument("target")
    book.add_argument("--profile", default="quick")
    book.add_argument("--source", dest="data", default="twin", help="twin (default) or real")
    book.set_defaults(run=_book)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
