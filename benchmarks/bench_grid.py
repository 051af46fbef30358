"""Baseline-grid benchmark: configurations per second of the nested, week-grouped grid on the twin.

``python -m benchmarks.bench_grid [--profile quick|paper] [--n-jobs 2] [--json FILE]``

Builds the current-week and 8-day-ahead matchups of the quick twin (seed 0, 2024; generated if absent,
pixel table cached under a temporary folder), attaches the 52 weather features, and runs
``baselines.run_grid`` with the profile's feature sets and algorithms on each task. A configuration is
one (task, feature set, algorithm) scored by the full nested protocol (outer repeated grouped CV, inner
grid search). Target: the ``quick`` grid, both tasks, within about 60 s on 2 cores.

The R^2 values printed are the twin's, never Lake Erie's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from spectm.profiles import PROFILES


def build_tasks(cache_dir: str, seed: int = 0, year: int = 2024) -> dict:
    """``{lead_days: matchup table with weather}`` for the quick twin, as chapter 2 builds them."""
    from spectm import maps, paths
    from spectm.data import glerl, gridmet, matchup, pixels, weather
    from spectm.data.weather import attach_weather
    from spectm.twin import simulate_twin

    twin = simulate_twin(
        paths.twin_dir("quick", seed, year), size="quick", seed=seed, year=year, progress=False
    )
    samples = glerl.read_glerl_many(twin.paths("glerl"))
    table = pixels.build_pixel_table(
        twin.paths("pace"), maps.WESTERN_LAKE_ERIE_BBOX, cache_dir=cache_dir, progress=False
    )
    climate = gridmet.open_gridmet(twin.paths("gridmet"), bbox=maps.WESTERN_LAKE_ERIE_BBOX)
    tasks = {}
    for lead in (0, 8):
        matched = matchup.match_samples(samples, table, lead_days=lead).table
        # current week: weather up to the sample; 8 days ahead: up to the image (no look-ahead)
        times = matched["time"].values if lead == 0 else matched["pixel_time"].values
        frame = weather.weather_features(
            climate, times, matched["latitude"].values, matched["longitude"].values
        )
        tasks[lead] = attach_weather(matched, frame)
    return tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_grid", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--json", default=None, help="results file (default benchmarks/results/bench_grid_<profile>.json)"
    )
    args = parser.parse_args(argv)

    import pandas as pd

    from spectm.evaluate import baselines, features

    with tempfile.TemporaryDirectory(prefix="bench-grid-") as scratch:
        start = time.perf_counter()
        tasks = build_tasks(os.path.join(scratch, "cache"))
        setup_s = time.perf_counter() - start
    sets, algos = features.feature_sets(args.profile), baselines.algorithms(args.profile)
    parts, per_task = [], {}
    grid_start = time.perf_counter()
    for table in tasks.values():
        t = time.perf_counter()
        result = baselines.run_grid(sets, algos, table, profile=args.profile, n_jobs=args.n_jobs)
        per_task[result["task"].iloc[0]] = {"seconds": time.perf_counter() - t, "samples": int(table.sizes["sample"]),
                                            "configurations": len(result)}  # fmt: skip
        parts.append(result)
    grid_s = time.perf_counter() - grid_start
    results = pd.concat(parts, ignore_index=True)
    n_configs = len(results)
    best = baselines.best_baseline(results)
    aux = baselines.aux_only(results)
    settings = baselines.protocol_settings(args.profile)
    fits_per_config = settings["n_splits"] * settings["n_repeats"]
    summary = {
        "profile": args.profile, "cpus": os.cpu_count(), "n_jobs": args.n_jobs, "setup_s": setup_s,
        "grid_s": grid_s, "configurations": n_configs, "configurations_per_s": n_configs / grid_s,
        "outer_fits_per_configuration": fits_per_config, "settings": settings, "tasks": per_task,
        "feature_sets": list(sets), "algorithms": list(algos),
        "best_baseline": best[["task", "feature_set", "algorithm", "r2", "r2_low", "r2_high", "n_samples"]].to_dict("records"),
        "aux_only": aux[["task", "algorithm", "r2", "r2_low", "r2_high"]].to_dict("records"),
        "data": "quick twin, seed 0, 2024 (simulated; not Lake Erie)",
    }  # fmt: skip
    print(
        f"bench_grid: profile={args.profile}, {os.cpu_count()} CPUs, n_jobs={args.n_jobs}; twin matchups in {setup_s:.1f} s"
    )
    for task, info in per_task.items():
        print(
            f"  {task:<14} {info['configurations']:>4} configurations, {info['samples']} samples, {info['seconds']:6.1f} s"
        )
    print(
        f"  total          {n_configs:>4} configurations in {grid_s:.1f} s = {n_configs / grid_s:.2f} configurations/s"
    )
    for row in summary["best_baseline"]:
        print(f"  best (twin) {row['task']:<14} R2 {row['r2']:.3f} [{row['r2_low']:.3f}, {row['r2_high']:.3f}]  "
              f"{row['algorithm']} on {row['feature_set']}")  # fmt: skip
    for row in summary["aux_only"]:
        print(
            f"  AUX-only (twin) {row['task']:<10} R2 {row['r2']:.3f} [{row['r2_low']:.3f}, {row['r2_high']:.3f}]  {row['algorithm']}"
        )
    target = Path(args.json or Path(__file__).parent / "results" / f"bench_grid_{args.profile}.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(summary, indent=1, default=float))
    print(f"results -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
