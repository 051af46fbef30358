"""Training throughput of SpecTM against the plain reference and against its own earlier code, in one run.

``python -m benchmarks train [--device cpu|cuda] [--quick]`` prints and writes a JSON with samples per second
of the paper-shaped models, their ratio, the peak memory of one step, the fraction of this machine's measured
bf16 GEMM peak reached by 6 x parameters x tokens per second, and the ``quick``-profile model against the
frozen pre-fast-path copy (:mod:`benchmarks.reference_spectm`), and K quick runs trained together
(:mod:`spectm.multirun`) against the same runs one after another (run-steps per hour). Each model's step
FLOPs are also counted (:func:`counted_flop_per_sample`), which gives the ceiling a speed-up cannot pass on
this machine (:func:`speedup_ceiling`). Targets (>= 3x the reference, >= 2x the earlier quick step) are
reported, never asserted: speed depends on the machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from benchmarks.reference import ReferenceModel, reference_batch, reference_loss
from spectm.budget import gemm_rates
from spectm.datasets import PixelSpectra, synthetic_spectra
from spectm.masking import make_mask
from spectm.model import Normalizer, count_parameters
from spectm.train import autocast_dtype, make_optimizer, resolve_config, standardise_indices, train_step

#: Dense bf16 peak of an H100/H200 SXM (FLOP/s); pass --peak-flops for other GPUs.
H100_BF16_PEAK = 989e12


def make_batch(batch_size: int, device: torch.device):
    pixels = PixelSpectra(**{k: v for k, v in synthetic_spectra(batch_size, seed=0).items()
                             if k in ("Rrs", "time", "future")})
    batch = {k: v.to(device) for k, v in pixels[torch.arange(batch_size)].items()}
    return pixels, standardise_indices(batch, pixels.index_statistics(), device)


#: Model name -> module holding its SpecTM (``spectm_before``: the frozen copy of the pre-fast-path code).
SPECTM_MODULES = {"spectm": "spectm.model", "spectm_mask_tokens": "spectm.model",
                  "spectm_fp32": "spectm.model",
                  "spectm_before": "benchmarks.reference_spectm"}


def build(which: str, pixels, device: torch.device, profile: str = "paper"):
    """``(step_function, parameter_count, precision)`` of one training step of model ``which``, with the
    ``profile``'s model size and precision (the reference is paper-shaped, float32)."""
    config = resolve_config({"profile": profile, "device": device.type,
                             **({"precision": "fp32"} if which == "spectm_fp32" else {})})
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
    module = importlib.import_module(SPECTM_MODULES[which])
    model = module.SpecTM(module.model_config(profile, n_bands=len(pixels.wavelengths),
                                              n_indices=len(pixels.index_names),
                                              encoder_sees_mask_tokens=which == "spectm_mask_tokens"))
    model.normalizer.fit(pixels.values)
    model.to(device)
    optimizer = make_optimizer(model, config)
    dtype = autocast_dtype(config, device)

    def step(batch, mask):
        train_step(model, optimizer, batch, mask, wavelengths, config, config["learning_rate"], dtype)

    return step, count_parameters(model), str(dtype or torch.float32).replace("torch.", "")


def _cpu_flash_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _cpu_flash_attention_backward_flops(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


#: torch's FLOP counter has no formula for the CPU flash-attention kernels (float32 SDPA on the CPU); without
#: these, attention would be left out of the count for the float32 models and in for the bf16 path's matmuls.
CPU_ATTENTION_FLOPS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_flash_attention_backward_flops,
}


def counted_flop_per_sample(step, batch, mask) -> float:
    """Matmul and attention FLOPs of one training step (forward and backward) per sample, counted by
    ``torch.utils.flop_counter`` on the operators the step really runs (dropped tokens are not counted)."""
    with FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS) as counter:
        step(batch, mask)
    return counter.get_total_flops() / len(batch["values"])


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(names, pixels, batch, mask, device, warmup: int, steps: int, profile: str = "paper") -> dict:
    """Per model: samples/s from the fastest step (the one least disturbed by other load; the median is
    reported too). Steps of the models are interleaved (A, B, C, A, ...) so that a load change on a shared
    machine hits every model alike."""
    built = {name: build(name, pixels, device, profile) for name in names}
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
    for name, (step, n_params, precision) in built.items():
        step_s = min(times[name])
        counted = counted_flop_per_sample(step, batch, mask)
        results[name] = {"samples_per_s": n / step_s, "step_s": step_s, "step_s_all": times[name],
                         "samples_per_s_median": n / statistics.median(times[name]),
                         "parameters": n_params, "precision": precision,
                         "model_flop_per_s": 6 * n_params * n * bands / step_s,
                         "counted_flop_per_sample": counted, "counted_flop_per_s": counted * n / step_s}
    return results


def gemm_peak(device: torch.device, size: int = 2048, repeats: int = 5) -> dict:
    """This machine's dense GEMM rate (FLOP/s, fastest of ``repeats``) for a ``size``^2 bf16 and float32
    matmul: the yardstick that travels with the machine, measured in the same run as the models."""
    return {"size": size, "flop_per_s": gemm_rates(device, size, repeats)}


def _faster(first: dict, second: dict) -> dict:
    """Per dtype the higher of two GEMM rate measurements (the one less slowed by other load)."""
    rates = {k: max(first["flop_per_s"][k], second["flop_per_s"][k]) for k in first["flop_per_s"]}
    return {**first, "flop_per_s": rates, "measurements": 2, "statistic": "fastest of 5 x 2 matmuls"}


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
        peak_flops: float = H100_BF16_PEAK, memory: bool = True, small: bool = True,
        multirun: bool = True) -> dict:
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
               "gemm_peak": gemm_peak(device), "models": {}}
    names = ("spectm", "spectm_before", "spectm_mask_tokens", "spectm_fp32", "reference")
    models = results["models"] = throughput(names, pixels, batch, mask, device, warmup, steps)
    results["gemm_peak"] = _faster(results["gemm_peak"], gemm_peak(device))  # before and after the models
    if memory:
        for which in ("spectm", "reference"):
            models[which]["memory"] = peak_memory(which, batch_size, device)
    results["speedup_vs_reference"] = models["spectm"]["samples_per_s"] / models["reference"]["samples_per_s"]
    results["speedup_fp32_vs_reference"] = (models["spectm_fp32"]["samples_per_s"]
                                            / models["reference"]["samples_per_s"])
    results["speedup_vs_before"] = (models["spectm"]["samples_per_s"]
                                    / models["spectm_before"]["samples_per_s"])
    results["speedup_target"] = 3.0
    results["speedup_ceiling_vs_reference"] = speedup_ceiling(results)
    _fractions_of_peak(results, device, peak_flops)
    results["flop_convention"] = ("6 x trainable parameters x band tokens per second (122 per sample), also "
                                  "for tokens SpecTM drops from its encoder: an upper bound of its work")
    if small:
        results["quick_shape"] = quick_shape(pixels, batch, mask, device, warmup, steps)
    if multirun:
        results["multirun"] = runs_per_hour(pixels, batch_size, steps, device)
    return results


def speedup_ceiling(results: dict) -> float:
    """SpecTM's speedup over the reference if every FLOP of its step (counted) ran at this machine's best
    measured GEMM rate (bf16 or float32, 2048^2) and nothing else took time: no code change can beat it on
    this machine while the model keeps its shape. The reference is taken as measured."""
    best_gemm = max(results["gemm_peak"]["flop_per_s"].values())
    models = results["models"]
    fewest = min(models[name]["counted_flop_per_sample"] for name in ("spectm", "spectm_fp32"))
    return best_gemm / fewest / models["reference"]["samples_per_s"]


def _fractions_of_peak(results: dict, device: torch.device, peak_flops: float) -> None:
    """Each model's FLOP rate over this run's measured bf16 GEMM rate; on CUDA also over ``peak_flops``."""
    measured = results["gemm_peak"]["flop_per_s"]["bfloat16"]
    for entry in results["models"].values():
        entry["fraction_of_measured_bf16_gemm"] = entry["model_flop_per_s"] / measured
    if device.type == "cuda":
        results["peak_flops"] = peak_flops
        for entry in results["models"].values():
            entry["fraction_of_peak"] = entry["model_flop_per_s"] / peak_flops


def quick_shape(pixels, batch, mask, device, warmup: int, steps: int) -> dict:
    """The ``quick`` profile's model (width 64, 2 layers, its own precision) today against the frozen
    pre-fast-path copy, same batch and mask, steps interleaved: the before/after ratio of many small runs."""
    models = throughput(("spectm", "spectm_before"), pixels, batch, mask, device, warmup, 2 * steps, "quick")
    return {"profile": "quick", "models": models, "speedup_target": 2.0,
            "speedup_vs_before": models["spectm"]["samples_per_s"] / models["spectm_before"]["samples_per_s"]}


#: The fair test's arms (targeted against random masking) x seeds: the runs :mod:`spectm.multirun` groups.
MULTIRUN_CONFIGS = tuple({"profile": "quick", "masking": masking, "seed": seed}
                         for seed in (0, 1) for masking in ("targeted", "random"))


def runs_per_hour(pixels, batch_size: int, steps: int, device: torch.device, configs=MULTIRUN_CONFIGS) -> dict:
    """K quick-profile runs trained together (:class:`spectm.multirun.RunGroup`) against the same K runs
    one after another (``train_step`` per run), each run on its own batch and mask, steps interleaved.
    Reported as run-steps per hour (a run of S steps: divide by S) and their ratio."""
    from spectm.multirun import RunGroup, stacked_batch
    from spectm.train import build_model

    configs = [{**config, "device": device.type} for config in configs]
    group = RunGroup(configs, pixels)
    rows = [torch.arange(batch_size)] * len(configs)
    stacked, masks = stacked_batch(group, pixels, rows), group.masks(batch_size, 0)
    singles = []
    for config in group.configs:
        torch.manual_seed(config["seed"])
        model, _ = build_model(config, pixels)
        singles.append((model, make_optimizer(model, config), config))
    one_batch = {k: v[0] for k, v in stacked.items()}

    def one_after_another():
        for (model, optimizer, config), mask in zip(singles, masks):
            train_step(model, optimizer, one_batch, mask, group.wavelengths, config, 1e-3, group.dtype)

    def together():
        group.step(stacked, masks, 1e-3)

    times = {"one_after_another": [], "together": []}
    for i in range(steps + 1):  # the first round warms up
        for name, step in (("one_after_another", one_after_another), ("together", together)):
            sync(device)
            start = time.perf_counter()
            step()
            sync(device)
            if i:
                times[name].append(time.perf_counter() - start)
    k = len(configs)
    result = {name: {"run_steps_per_hour": 3600 * k / min(t), "seconds_per_round": min(t), "all": t}
              for name, t in times.items()}
    return {"runs": k, "configs": configs, "batch_size": batch_size, **result,
            "speedup_together": result["together"]["run_steps_per_hour"]
            / result["one_after_another"]["run_steps_per_hour"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks train", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="batch 64, fewer steps (a smoke run)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (warm-up excluded)")
    parser.add_argument("--peak-flops", type=float, default=H100_BF16_PEAK, help="device bf16 peak, FLOP/s")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-quick-shape", action="store_true", help="skip the quick-profile comparison")
    parser.add_argument("--no-multirun", action="store_true", help="skip the runs-per-hour comparison")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (on a shared machine 1 keeps a descheduled thread from "
                             "stalling every GEMM; default: torch's)")
    parser.add_argument("--out", default=None,
                        help="JSON path (default benchmarks/results/train_<device>.json)")
    parser.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_probe:
        _memory_probe(args.memory_probe, args.batch_size)
        return 0
    results = run(args.device, args.quick, args.batch_size, args.steps, args.peak_flops, not args.no_memory,
                  not args.no_quick_shape, not args.no_multirun)
    text = json.dumps(results, indent=2)
    print(text)
    out = Path(args.out or Path(__file__).parent / "results" / f"train_{args.device.replace(':', '')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
