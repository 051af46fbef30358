"""``python -m spectm.twin --size quick --out DIR --seed 0``: write a twin and print its manifest summary.

``--full-swath`` also writes the first ``--swath-granules`` granules at the real swath size
(``--swath-lines`` x 1272 pixels, 1710 lines by default) into ``DIR/pace_full_swath``, the Lake Erie scene
at its place in the swath (:mod:`spectm.twin.writers.swath`); the twin's own files are unchanged.
"""

from __future__ import annotations

import argparse
import sys

from spectm.data.options import cannot_write, positive, seed, twin_year
from spectm.twin.config import WATERS, size_names
from spectm.twin.simulate import simulate_twin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spectm.twin", description="write the Lake Erie twin")
    parser.add_argument("--size", default="quick", choices=size_names())
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--year", type=twin_year, default=2024, help="season, 2020-2099 (default 2024)")
    parser.add_argument("--layout", default="3.1", choices=["3.0", "3.1", "3.2"])
    parser.add_argument("--water", default="lake_erie", choices=sorted(WATERS),
                        help="CDOM and sediment regime (turbid_bay: a second water body for transfer tests)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--full-swath", action="store_true",
                        help="also write granules at full-swath size into OUT/pace_full_swath")
    parser.add_argument("--swath-lines", type=positive, default=1710, help="scan lines of a full swath (real: 1710)")
    parser.add_argument("--swath-granules", type=positive, default=1, help="how many granules to write at full size")
    args = parser.parse_args(argv)
    try:
        _write_twin(args)
    except OSError as error:  # --out is a file, lies under one, or the disk refuses the write
        return cannot_write("twin", args.out, error)
    return 0


def _write_twin(args: argparse.Namespace) -> None:
    """Simulate and write the twin (and its full swaths), printing what was written."""
    manifest = simulate_twin(args.out, size=args.size, seed=args.seed, year=args.year, layout=args.layout,
                             progress=not args.no_progress, water=args.water)  # fmt: skip
    kinds = {}
    for f in manifest.files:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    state = "reused" if manifest.reused else f"written in {manifest.seconds:.1f} s"
    print(f"twin {args.size} seed {args.seed} ({args.water}): {state}; {manifest.total_bytes / 1e6:.1f} MB; "
          + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + f" -> {manifest.out_dir}")  # fmt: skip
    if args.full_swath:
        _write_full_swaths(manifest.paths("pace")[: args.swath_granules], args)


def _write_full_swaths(granules, args) -> None:
    """The twin's granules at full-swath size, with the size on disk and the seconds each took."""
    import time
    from pathlib import Path

    from spectm.twin.writers.swath import FULL_SWATH, write_full_swath

    for granule in granules:
        started = time.perf_counter()
        path = write_full_swath(granule, Path(args.out) / "pace_full_swath", swath=(args.swath_lines, FULL_SWATH[1]),
                                layout=args.layout)  # fmt: skip
        print(f"full swath {args.swath_lines} x {FULL_SWATH[1]}: {path.stat().st_size / 1e6:.1f} MB in "
              f"{time.perf_counter() - started:.1f} s -> {path}")


if __name__ == "__main__":
    sys.exit(main())
