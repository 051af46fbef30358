"""Data-path benchmark: twin generation, pixel-table build (serial vs dask), streamed subsets, matchups.

``python -m benchmarks data [--size quick|season] [--out DIR] [--json FILE] [--schedulers threads,processes]
[--stream-lines 1710 --stream-layouts 3.1,3.2 --stream-only]``

Each stage runs in its own subprocess so ``ru_maxrss`` (peak resident memory) belongs to that stage
alone. Targets: a ``season`` twin in < 2 minutes on 2 cores; pixel-table peak memory < 2 GiB; the dask
build at least as fast as the serial one (``serial_over_dask >= 1``; ~cores on an idle machine); a
streamed subset at most twice the compressed chunks it needs and a small fraction of the file.

The streaming stage writes the twin's first granule at full-swath size (``--stream-lines`` x 1272
pixels, 1710 by default: :mod:`spectm.twin.writers.swath`) in each layout, serves it from a local
``Range`` server on 127.0.0.1, streams the western Lake Erie window and reports the bytes sent against
the compressed chunks that meet the box and the whole file. ``--stream-only`` runs only that (and the
twin it needs): ``python -m benchmarks data --size tiny --stream-only``. A 1710-line swath needs about
4 GiB of memory in the writer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from spectm.twin.config import size_names

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
scheduler = None if sys.argv[4] == "serial" else sys.argv[4]
table = build_pixel_table(paths, WESTERN_BASIN_BBOX, cache_dir=sys.argv[3], progress=False, scheduler=scheduler)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "pixels": table.sizes["pixel"], "granules": len(paths), "scheduler": sys.argv[4],
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "maxrss_before_kib": before}))
""",
    "stream": """
import json, resource, sys, time
from pathlib import Path
import fsspec
from spectm.data.localserver import RangeServer, intersecting_chunk_bytes
from spectm.data.region import WESTERN_LAKE_ERIE_BBOX as BBOX
from spectm.data.stream import subset_granule
from spectm.twin.writers.swath import FULL_SWATH, write_full_swath
folder, lines, layout, twin = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
source = sorted((twin / "pace").glob("*.nc"))[0]
t, cpu = time.perf_counter(), time.process_time()
path = write_full_swath(source, folder / "whole" / layout, swath=(lines, FULL_SWATH[1]), layout=layout)
write_s, write_cpu_s = time.perf_counter() - t, time.process_time() - cpu
with RangeServer(path.parent) as server:
    t = time.perf_counter()
    result = subset_granule(server.url(path.name), BBOX, folder / "subset" / layout, fs=fsspec.filesystem("http"))
    stream_s = time.perf_counter() - t
    streamed, requests = server.bytes_served, server.httpd.requests
rows = slice(result.line_offset, result.line_offset + result.lines)
cols = slice(result.pixel_offset, result.pixel_offset + result.pixels)
print(json.dumps({"layout": layout, "swath": [lines, FULL_SWATH[1], 172], "window": [result.lines, result.pixels],
                  "source": source.name, "file_bytes": path.stat().st_size, "streamed_bytes": streamed,
                  "requests": requests, "needed_chunk_bytes": intersecting_chunk_bytes(path, rows, cols),
                  "subset_file_bytes": result.path.stat().st_size, "stream_s": stream_s, "write_s": write_s,
                  "write_cpu_s": write_cpu_s, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
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


_ROOT = Path(__file__).resolve().parent.parent


def _run(stage: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", _STAGES[stage], *args], capture_output=True, text=True,
                            check=False, cwd=_ROOT)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"stage {stage} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks data", description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="quick", choices=size_names())
    parser.add_argument("--out", default=None, help="twin folder (default: a fresh temporary folder)")
    parser.add_argument("--json", default=None, help="where to write the results (default benchmarks/results/bench_data_<size>.json)")
    parser.add_argument("--schedulers", default="threads,processes", help="dask schedulers to time against the serial build")
    parser.add_argument("--stream-lines", type=int, default=1710, help="scan lines of the streamed full-swath twin granule")
    parser.add_argument("--stream-layouts", default="3.1,3.2", help="processing versions to stream, e.g. 3.1,3.2 ('' skips)")
    parser.add_argument("--stream-only", action="store_true",
                        help="only the twin (for its first granule) and the streamed full-swath subsets")
    return parser.parse_args(argv)


def _pixel_builds(args, twin_dir: str, scratch: str) -> dict:
    """Serial build, then each dask scheduler, each in a fresh process with its own empty cache."""
    builds = {}
    for name in ["serial", *[s for s in args.schedulers.split(",") if s]]:
        run = _run("pixels", args.size, twin_dir, os.path.join(scratch, f"cache-{name}"), name)
        builds[name] = {**run, "pixels_per_s": run["pixels"] / run["seconds"], "peak_gib": run["maxrss_kib"] / 1024.0**2}
    for name, build in builds.items():
        build["serial_over_this"] = builds["serial"]["seconds"] / build["seconds"]
    return builds


def _streams(args, scratch: str, twin_dir: str) -> list[dict]:
    """Each layout: the twin's first granule written at full-swath size, its Lake Erie window streamed."""
    runs = []
    for layout in [v for v in args.stream_layouts.split(",") if v]:
        run = _run("stream", os.path.join(scratch, "stream"), str(args.stream_lines), layout, twin_dir)
        runs.append({**run, "streamed_over_needed": run["streamed_bytes"] / run["needed_chunk_bytes"],
                     "streamed_over_file": run["streamed_bytes"] / run["file_bytes"]})  # fmt: skip
    return runs


def _rows(results: dict, tolerance: float) -> list[tuple[str, str, str]]:
    twin, builds, matchup = results["twin"], results["pixel_builds"], results["matchup"]
    serial = builds["serial"]
    rows = [
        ("twin generation", f"{twin['seconds']:.1f} s" + (" (reused!)" if twin["reused"] else ""),
         f"{twin['swath_pixels_per_s']:,.0f} pixel-spectra/s ({twin['swath_pixels']:,} in {twin['granules']} granules)"),
        ("pixel table, serial", f"{serial['seconds']:.2f} s",
         f"{serial['pixels_per_s']:,.0f} water pixels/s, {serial['granules'] / serial['seconds']:.1f} granules/s"),
    ]  # fmt: skip
    for name, build in builds.items():
        if name != "serial":
            rows.append((f"pixel table, dask {name}", f"{build['seconds']:.2f} s",
                         f"serial/dask {build['serial_over_this']:.2f}x, peak {build['peak_gib']:.2f} GiB"))  # fmt: skip
    rows.append(("pixel table peak RSS", f"{serial['peak_gib']:.2f} GiB", f"{serial['pixels']:,} pixels x 122 bands (serial)"))
    rows += _stream_rows(results["streams"])
    rows += [
        ("matchup (kd-tree)", f"{matchup['index_s'] * 1e3:.1f} ms", f"identical to brute force: {matchup['identical']}"),
        ("matchup (brute force)", f"{matchup['bruteforce_s'] * 1e3:.1f} ms", f"ratio {matchup['bruteforce_over_index']:.1f}x"),
        ("8-day pixel pairs", f"{matchup['future_pairs_s']:.2f} s", f"{matchup['future_pairs']:,} pairs within {tolerance:g} km"),
        ("survival, current week", "", " -> ".join(map(str, matchup["survival_current"]))),
        ("survival, 8 days ahead", "", " -> ".join(map(str, matchup["survival_8day"]))),
    ]  # fmt: skip
    return rows


def _stream_rows(streams: list[dict]) -> list[tuple[str, str, str]]:
    mb = 1e6
    return [(f"streamed subset V{run['layout']}", f"{run['streamed_bytes'] / mb:.2f} MB",
             f"chunks meeting the box {run['needed_chunk_bytes'] / mb:.2f} MB (x{run['streamed_over_needed']:.2f}); "
             f"whole file {run['file_bytes'] / mb:.1f} MB ({run['streamed_over_file']:.1%}); {run['requests']} requests, "
             f"{run['stream_s']:.1f} s; swath {run['swath'][0]}x{run['swath'][1]}x172 written in {run['write_s']:.0f} s "
             f"({run['write_cpu_s']:.0f} s CPU), window {run['window'][0]}x{run['window'][1]}")
            for run in streams]  # fmt: skip


def _report(results: dict, rows) -> int:
    print(f"bench_data: size={results['size']}, {os.cpu_count()} CPUs")
    for name, value, note in rows:
        print(f"  {name:<26} {value:>12}  {note}")
    target = Path(results.pop("json") or Path(__file__).parent / "results" / f"bench_data_{results['size']}.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=1))
    print(f"results -> {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    from spectm.twin.config import get_size

    with tempfile.TemporaryDirectory(prefix="bench-data-") as scratch:
        twin_dir = args.out or os.path.join(scratch, "twin")
        twin = _run("twin", args.size, twin_dir)
        if args.stream_only:
            streams = _streams(args, scratch, twin_dir)
            return _report({"size": args.size, "json": args.json, "streams": streams}, _stream_rows(streams))
        builds = _pixel_builds(args, twin_dir, scratch)
        tolerance = max(1.0, get_size(args.size).pixel_km / 2)
        matchup = _run("matchup", args.size, twin_dir, os.path.join(scratch, "cache-serial"), str(tolerance))
        streams = _streams(args, scratch, twin_dir)
    results = {
        "size": args.size,
        "json": args.json,
        "cpus": os.cpu_count(),
        "twin": {**twin, "swath_pixels_per_s": twin["swath_pixels"] / twin["seconds"], "peak_gib": twin["maxrss_kib"] / 1024.0**2},
        "pixel_table": builds["serial"],
        "pixel_builds": builds,
        "streams": streams,
        "matchup": {**matchup, "bruteforce_over_index": matchup["bruteforce_s"] / max(matchup["index_s"], 1e-9)},
    }  # fmt: skip
    return _report(results, _rows(results, tolerance))


if __name__ == "__main__":
    sys.exit(main())
