"""Data-path benchmark: twin generation, pixel-table build (rate, peak memory), matchups vs brute force.

``python -m benchmarks.bench_data [--size quick|season] [--out DIR] [--json FILE]``

Each stage runs in its own subprocess so ``ru_maxrss`` (peak resident memory) belongs to that stage
alone. Targets: a ``season`` twin in < 2 minutes on 2 cores; pixel-table peak memory < 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_STAGES = {
    "twin": """
import json, resource, sys, time
from spectm.twin import simulate_twin
from spectm.data.pace import open_l2_aop
t = time.perf_counter()
m = simulate_twin(sys.argv[2], size=sys.argv[1], seed=0, progress=False)
seconds = time.perf_counter() - t
swath = 0
for p in m.paths("pace"):
    ds = open_l2_aop(p)
    swath += ds.sizes["y"] * ds.sizes["x"]
print(json.dumps({"seconds": seconds, "reused": m.reused, "granules": len(m.paths("pace")), "swath_pixels": swath,
                  "bytes": m.total_bytes, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""",
    "pixels": """
import json, resource, sys, time
from pathlib import Path
from spectm.data.pixels import build_pixel_table
from spectm.twin.config import WESTERN_BASIN_BBOX
paths = sorted(Path(sys.argv[2], "pace").glob("*.nc"))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
table = build_pixel_table(paths, WESTERN_BASIN_BBOX, cache_dir=sys.argv[3], progress=False)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "pixels": table.sizes["pixel"], "granules": len(paths),
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "maxrss_before_kib": before}))
""",
    "matchup": """
import json, resource, sys, time
from pathlib import Path
import numpy as np
from spectm.data.pixels import build_pixel_table
from spectm.data.glerl import read_glerl_csv
from spectm.data.matchup import find_matches, find_matches_bruteforce, future_pairs, local_day, match_samples, _as_day
from spectm.twin.config import WESTERN_BASIN_BBOX
paths = sorted(Path(sys.argv[2], "pace").glob("*.nc"))
pixels = build_pixel_table(paths, WESTERN_BASIN_BBOX, cache_dir=sys.argv[3], progress=False)
samples = read_glerl_csv(next(Path(sys.argv[2], "glerl").glob("*.csv")))
t = time.perf_counter(); current = match_samples(samples, pixels); t_match = time.perf_counter() - t
ahead = match_samples(samples, pixels, lead_days=8)
surface = samples[samples["depth_category"] == "Surface"].dropna(subset=["latitude", "longitude"])
args = (surface["latitude"].to_numpy(), surface["longitude"].to_numpy(), _as_day(surface["date"]),
        pixels["latitude"].values.astype(float), pixels["longitude"].values.astype(float), local_day(pixels["time"].values))
t = time.perf_counter(); fast = find_matches(*args); t_fast = time.perf_counter() - t
t = time.perf_counter(); slow = find_matches_bruteforce(*args); t_slow = time.perf_counter() - t
same = bool(np.array_equal(fast.pixel, slow.pixel))
tolerance_km = float(sys.argv[4])
t = time.perf_counter(); pairs = future_pairs(pixels, 8, tolerance_km, with_spectra=False); t_pairs = time.perf_counter() - t
print(json.dumps({"match_samples_s": t_match, "index_s": t_fast, "bruteforce_s": t_slow, "identical": same,
                  "survival_current": current.survival["samples"].tolist(), "survival_8day": ahead.survival["samples"].tolist(),
                  "future_pairs": int(pairs.sizes["pair"]), "future_pairs_s": t_pairs, "pair_tolerance_km": tolerance_km,
                  "pixels": int(pixels.sizes["pixel"]), "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""",
}


def _run(stage: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", _STAGES[stage], *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"stage {stage} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_data", description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="quick", choices=["tiny", "quick", "season"])
    parser.add_argument("--out", default=None, help="twin folder (default: a fresh temporary folder)")
    parser.add_argument("--json", default=None, help="where to write the results (default benchmarks/results/bench_data_<size>.json)")
    args = parser.parse_args(argv)
    from spectm.twin.config import get_size

    with tempfile.TemporaryDirectory(prefix="bench-data-") as scratch:
        twin_dir = args.out or os.path.join(scratch, "twin")
        cache_dir = os.path.join(scratch, "cache")
        twin = _run("twin", args.size, twin_dir)
        pixels = _run("pixels", args.size, twin_dir, cache_dir)
        tolerance = max(1.0, get_size(args.size).pixel_km / 2)
        matchup = _run("matchup", args.size, twin_dir, cache_dir, str(tolerance))
    gib = 1024.0**2
    results = {
        "size": args.size,
        "cpus": os.cpu_count(),
        "twin": {**twin, "swath_pixels_per_s": twin["swath_pixels"] / twin["seconds"], "peak_gib": twin["maxrss_kib"] / gib},
        "pixel_table": {**pixels, "pixels_per_s": pixels["pixels"] / pixels["seconds"],
                        "granules_per_s": pixels["granules"] / pixels["seconds"], "peak_gib": pixels["maxrss_kib"] / gib},
        "matchup": {**matchup, "bruteforce_over_index": matchup["bruteforce_s"] / max(matchup["index_s"], 1e-9)},
    }  # fmt: skip
    rows = [
        ("twin generation", f"{twin['seconds']:.1f} s" + (" (reused!)" if twin["reused"] else ""),
         f"{results['twin']['swath_pixels_per_s']:,.0f} pixel-spectra/s ({twin['swath_pixels']:,} in {twin['granules']} granules)"),
        ("pixel table build", f"{pixels['seconds']:.1f} s",
         f"{results['pixel_table']['pixels_per_s']:,.0f} water pixels/s, {results['pixel_table']['granules_per_s']:.1f} granules/s"),
        ("pixel table peak RSS", f"{results['pixel_table']['peak_gib']:.2f} GiB", f"{pixels['pixels']:,} pixels x 122 bands"),
        ("matchup (kd-tree)", f"{matchup['index_s'] * 1e3:.1f} ms", f"identical to brute force: {matchup['identical']}"),
        ("matchup (brute force)", f"{matchup['bruteforce_s'] * 1e3:.1f} ms", f"ratio {results['matchup']['bruteforce_over_index']:.1f}x"),
        ("8-day pixel pairs", f"{matchup['future_pairs_s']:.2f} s", f"{matchup['future_pairs']:,} pairs within {tolerance:g} km"),
        ("survival, current week", "", " -> ".join(map(str, matchup["survival_current"]))),
        ("survival, 8 days ahead", "", " -> ".join(map(str, matchup["survival_8day"]))),
    ]  # fmt: skip
    print(f"bench_data: size={args.size}, {os.cpu_count()} CPUs")
    for name, value, note in rows:
        print(f"  {name:<24} {value:>14}  {note}")
    target = Path(args.json or Path(__file__).parent / "results" / f"bench_data_{args.size}.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=1))
    print(f"results -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
