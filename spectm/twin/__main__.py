"""``python -m spectm.twin --size quick --out DIR --seed 0``: write a twin and print its manifest summary."""

from __future__ import annotations

import argparse
import sys

from spectm.twin.config import WATERS, size_names
from spectm.twin.simulate import simulate_twin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spectm.twin", description="write the Lake Erie twin")
    parser.add_argument("--size", default="quick", choices=size_names())
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--layout", default="3.1", choices=["3.0", "3.1", "3.2"])
    parser.add_argument("--water", default="lake_erie", choices=sorted(WATERS),
                        help="CDOM and sediment regime (turbid_bay: a second water body for transfer tests)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    manifest = simulate_twin(args.out, size=args.size, seed=args.seed, year=args.year, layout=args.layout,
                             progress=not args.no_progress, water=args.water)  # fmt: skip
    kinds = {}
    for f in manifest.files:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    state = "reused" if manifest.reused else f"written in {manifest.seconds:.1f} s"
    print(f"twin {args.size} seed {args.seed} ({args.water}): {state}; {manifest.total_bytes / 1e6:.1f} MB; "
          + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + f" -> {manifest.out_dir}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
