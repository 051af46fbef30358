"""``python -m benchmarks {train,data,grid,profile} [options]``: one entry point for every benchmark module."""

from __future__ import annotations

import sys

BENCHMARKS = {
    "train": "benchmarks.bench_train",
    "data": "benchmarks.bench_data",
    "grid": "benchmarks.bench_grid",
    "profile": "benchmarks.bench_profile",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m benchmarks {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    from importlib import import_module

    return import_module(BENCHMARKS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
