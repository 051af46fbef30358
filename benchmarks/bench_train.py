"""Training throughput of SpecTM's paper-shaped model against the plain reference, in one run.

``python -m benchmarks train [--device cpu|cuda] [--quick]`` prints and writes a JSON with samples per second
of both models, their ratio, the peak memory of one step and, on CUDA, the fraction of the bf16 peak
reached by 6 x parameters x tokens per second. Targets (>= 1.5x the reference on CPU) are reported, never
asserted: speed depends on the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.reference import ReferenceModel, reference_batch, reference_loss
from spectm.datasets import PixelSpectra, synthetic_spectra
from spectm.masking import make_mask
from spectm.model import Normalizer, SpecTM, count_parameters, model_config
from spectm.train import autocast_dtype, make_optimizer, resolve_config, standardise_indices, train_step

#: Dense bf16 peak of an H100/H200 SXM (FLOP/s); pass --peak-flops for other GPUs.
H100_BF16_PEAK = 989e12


def make_batch(batch_size: int, device: torch.device):
    pixels = PixelSpectra(**{k: v for k, v in synthetic_spectra(batch_size, seed=0).items()
                             if k in ("rrs", "time", "future")})
    batch = {k: v.to(device) for k, v in pixels[torch.arange(batch_size)].items()}
    return pixels, standardise_indices(batch, pixels.index_statistics(), device)


def build(which: str, pixels, device: torch.device):
    """``(step_function, parameter_count, precision)`` of one training step of model ``which``."""
    config = resolve_config({"profile": "paper", "device": device.type})
    torch.manual_seed(0)
    wavelengths = torch.tensor(pixels.wavelengths, dtype=torch.float32, device=device)
    if which == "reference":
        model = ReferenceModel(n_bands=len(pixels.wavelengths), n_indices=len(pixels.index_names)).to(device)
        optimizer = make_optimizer(model, config)
        stats = Normalizer(len(pixels.wavelengths)).fit(pixels.values).to(device)
        mean, std = stats.mean, stats.std

        def step(batch, mask):
            batch = reference_batch(batch, mean, std)  # part of the plain model's step
            loss = reference_loss(model(batch["values"], mask), batch, mask)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
            optimizer.step()

        return step, count_parameters(model), "float32"
    sees_mask_tokens = which == "spectm_mask_tokens"
    model = SpecTM(model_config("paper", n_bands=len(pixels.wavelengths), n_indices=len(pixels.index_names),
                                encoder_sees_mask_tokens=sees_mask_tokens))
    model.normalizer.fit(pixels.values)
    model.to(device)
    optimizer = make_optimizer(model, config)
    dtype = autocast_dtype(config, device)

    def step(batch, mask):
        train_step(model, optimizer, batch, mask, wavelengths, config, config["learning_rate"], dtype)

    return step, count_parameters(model), str(dtype or torch.float32).replace("torch.", "")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(names, pixels, batch, mask, device, warmup: int, steps: int) -> dict:
    """Per model: samples/s from the fastest step (the one least disturbed by other load; the median is
    reported too). Steps of the models are interleaved (A, B, C, A, ...) so that a load change on a shared
    machine hits every model alike."""
    built = {name: build(name, pixels, device) for name in names}
    for step, _, _ in built.values():
        for _ in range(warmup):
            step(batch, mask)
    times = {name: [] for name in names}
    for _ in range(steps):
        for name, (step, _, _) in built.items():
            sync(device)
            start = time.perf_counter()
            step(batch, mask)
            sync(device)
            times[name].append(time.perf_counter() - start)
    results = {}
    n, bands = batch["values"].shape
    for name, (_, n_params, precision) in built.items():
        step_s = min(times[name])
        results[name] = {"samples_per_s": n / step_s, "step_s": step_s, "step_s_all": times[name],
                         "samples_per_s_median": n / statistics.median(times[name]),
                         "parameters": n_params, "precision": precision,
                         "model_flop_per_s": 6 * n_params * n * bands / step_s}
    return results


def _status_kib(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (Linux): ``VmRSS`` now, ``VmHWM`` the peak of this process.

    Not ``ru_maxrss``: Linux carries that across fork and exec, so a child would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} (the CPU memory probe needs Linux)")


def peak_memory(which: str, batch_size: int, device: torch.device) -> dict:
    """Peak memory of one training step (after one warm-up step): CUDA allocator peak, or on CPU the
    peak RSS (``VmHWM``) of a fresh process, next to its RSS just before the step."""
    if device.type == "cpu":
        probe = subprocess.run([sys.executable, "-m", "benchmarks.bench_train", "--memory-probe", which,
                                "--batch-size", str(batch_size)], capture_output=True, text=True, check=True)
        return json.loads(probe.stdout.strip().splitlines()[-1])
    pixels, batch = make_batch(batch_size, device)
    mask = make_mask("targeted", pixels.wavelengths, batch_size, None).to(device)
    step, _, _ = build(which, pixels, device)
    step(batch, mask)
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    step(batch, mask)
    sync(device)
    return {"peak_allocated_mib": torch.cuda.max_memory_allocated(device) / 2**20,
            "allocated_before_step_mib": before / 2**20}


def _memory_probe(which: str, batch_size: int) -> None:
    device = torch.device("cpu")
    pixels, batch = make_batch(batch_size, device)
    mask = make_mask("targeted", pixels.wavelengths, batch_size, None)
    step, _, _ = build(which, pixels, device)
    step(batch, mask)  # optimizer state exists from here on
    before = _status_kib("VmRSS")
    step(batch, mask)
    print(json.dumps({"peak_rss_mib": _status_kib("VmHWM") / 1024, "rss_before_step_mib": before / 1024}))


def run(device: str = "cpu", quick: bool = False, batch_size: int | None = None, steps: int | None = None,
        peak_flops: float = H100_BF16_PEAK, memory: bool = True) -> dict:
    device = torch.device(device)
    batch_size = batch_size or (64 if quick else 256)
    if steps is None:
        steps = (2 if quick else 3) if device.type == "cpu" else 20
    warmup = 1 if device.type == "cpu" else 5
    pixels, batch = make_batch(batch_size, device)
    mask = make_mask("targeted", pixels.wavelengths, batch_size, None).to(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
    results = {"device": str(device), "device_name": name, "torch": torch.__version__,
               "threads": torch.get_num_threads(), "batch_size": batch_size, "bands": len(pixels.wavelengths),
               "masking": "targeted (28 of 122 bands)", "warmup_steps": warmup, "timed_steps": steps,
               "statistic": "fastest step (median also given), model steps interleaved",
               "models": {}}
    names = ("spectm", "spectm_mask_tokens", "reference")
    models = results["models"] = throughput(names, pixels, batch, mask, device, warmup, steps)
    if memory:
        for which in ("spectm", "reference"):
            models[which]["memory"] = peak_memory(which, batch_size, device)
    results["speedup_vs_reference"] = models["spectm"]["samples_per_s"] / models["reference"]["samples_per_s"]
    results["speedup_target"] = 1.5
    if device.type == "cuda":
        results["peak_flops"] = peak_flops
        for entry in models.values():
            entry["fraction_of_peak"] = entry["model_flop_per_s"] / peak_flops
    results["flop_convention"] = ("6 x trainable parameters x band tokens per second (122 per sample), also "
                                  "for tokens SpecTM drops from its encoder: an upper bound of its work")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks train", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="batch 64, fewer steps (a smoke run)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (warm-up excluded)")
    parser.add_argument("--peak-flops", type=float, default=H100_BF16_PEAK, help="device bf16 peak, FLOP/s")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--out", default=None,
                        help="JSON path (default benchmarks/results/train_<device>.json)")
    parser.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        _memory_probe(args.memory_probe, args.batch_size)
        return 0
    results = run(args.device, args.quick, args.batch_size, args.steps, args.peak_flops, not args.no_memory)
    text = json.dumps(results, indent=2)
    print(text)
    out = Path(args.out or Path(__file__).parent / "results" / f"train_{args.device.replace(':', '')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
