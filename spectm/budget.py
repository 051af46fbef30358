"""How long a pretraining run would take here, measured before it starts, so that a run of many hours on a
CPU is refused with a sentence instead of discovered after an afternoon.

:func:`estimate_run` times a few real training steps (:func:`spectm.train.train_step`, the configured model,
precision, masking family and batch size, on a synthetic batch) and multiplies by the run's step count;
:func:`long_run_sentence` says what that means and how to override a refusal. Evaluation passes and
checkpoint writes are not timed: the estimate is a lower bound of the wall time.
"""

from __future__ import annotations

import math
import os
import statistics
import time

import torch

#: Environment variable that lets a run longer than the limit go ahead (the CLI flag is --allow-long-run).
ALLOW_LONG_RUN_ENV = "SPECTM_ALLOW_LONG_RUN"


def run_steps(config: dict, n_samples: int) -> int:
    """Optimizer steps of a single-process run: ``epochs x ceil(n_samples / batch_size)``, capped by
    ``max_steps`` (as :func:`spectm.train.train` counts them)."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be a positive number of training samples, got {n_samples}")
    steps = config["epochs"] * math.ceil(n_samples / config["batch_size"])
    return steps if config["max_steps"] is None else min(steps, int(config["max_steps"]))


def time_steps(config: dict, device="cpu", warmup: int = 1, timed: int = 3) -> float:
    """Median seconds of ``timed`` training steps after ``warmup`` steps, on a synthetic batch."""
    from spectm.datasets import PixelSpectra, synthetic_spectra
    from spectm.masking import correlation_groups
    from spectm.model import SpecTM, model_config
    from spectm.train import autocast_dtype, draw_mask, make_optimizer, standardise_indices, train_step

    device = torch.device(device)
    size = config["batch_size"]
    pixels = PixelSpectra(**{k: v for k, v in synthetic_spectra(size, seed=0).items()
                             if k in ("Rrs", "time", "future")})
    batch = standardise_indices({k: v.to(device) for k, v in pixels[torch.arange(size)].items()},
                                pixels.index_statistics(), device)
    wavelengths = torch.tensor(pixels.wavelengths, dtype=torch.float32, device=device)
    model = SpecTM(model_config(config["profile"], n_bands=wavelengths.numel(),
                                n_indices=len(pixels.index_names), **config["model"]))
    model.normalizer.fit(pixels.values)
    model.to(device)
    optimizer = make_optimizer(model, config)
    groups = None
    if config["masking"] == "grouped":
        groups = correlation_groups(pixels.values.numpy(), config["n_groups"]).tolist()
    dtype = autocast_dtype(config, device)
    times = []
    for step in range(warmup + timed):
        mask = draw_mask(config, pixels.wavelengths, size, (config["seed"], step), groups).to(device)
        _sync(device)
        start = time.perf_counter()
        train_step(model, optimizer, batch, mask, wavelengths, config, config["learning_rate"], dtype)
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[warmup:])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def estimate_run(config: dict, n_samples: int, device="cpu", step_seconds: float | None = None) -> dict:
    """``{"seconds_per_step", "steps", "seconds", "hours", "device"}`` of training ``config`` (a
    :func:`spectm.train.resolve_config` dict or its overrides) on ``n_samples`` samples.

    ``step_seconds`` skips the timing (callers that measured already; tests)."""
    from spectm.train import resolve_config

    config = resolve_config(config)
    if step_seconds is None:
        step_seconds = time_steps(config, device)
    if not step_seconds > 0:
        raise ValueError(f"step_seconds must be a positive number of seconds, got {step_seconds}")
    steps = run_steps(config, n_samples)
    seconds = steps * step_seconds
    return {"seconds_per_step": step_seconds, "steps": steps, "seconds": seconds, "hours": seconds / 3600,
            "device": str(torch.device(device)), "profile": config["profile"]}


def describe_duration(seconds: float) -> str:
    """``about 40 s``, ``about 12 min`` or ``about 3.5 h``: the unit a reader plans with."""
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def long_run_sentence(estimate: dict) -> str:
    """One sentence: how long the run would train here and how to go ahead anyway."""
    where = "this CPU" if estimate["device"].startswith("cpu") else f"this device ({estimate['device']})"
    return (f"the {estimate['profile']} profile would train for {describe_duration(estimate['seconds'])} on "
            f"{where} ({estimate['steps']} steps of {estimate['seconds_per_step']:.2f} s); run it on a GPU "
            f"or pass --allow-long-run / set {ALLOW_LONG_RUN_ENV}=1")


def long_run_allowed(flag: bool = False, environ=None) -> bool:
    """True when the caller passed ``--allow-long-run`` or the environment sets SPECTM_ALLOW_LONG_RUN=1."""
    value = (os.environ if environ is None else environ).get(ALLOW_LONG_RUN_ENV, "")
    return flag or value.strip().lower() in ("1", "true", "yes")


def gemm_rates(device="cpu", size: int = 1024, repeats: int = 3) -> dict:
    """Dense matmul FLOP/s of this device in bfloat16 and float32 (fastest of ``repeats``), for deciding
    whether bf16 autocast pays here: some CPUs list ``avx512_bf16`` yet multiply bf16 slower than float32
    (measured on this project's shared Xeon: 59 versus 109 GFLOP/s at 2048^2)."""
    device = torch.device(device)
    rates = {}
    for dtype in (torch.bfloat16, torch.float32):
        a, b = (torch.randn(size, size, device=device).to(dtype) for _ in range(2))
        a @ b
        best = float("inf")
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            a @ b
            _sync(device)
            best = min(best, time.perf_counter() - start)
        rates[str(dtype).replace("torch.", "")] = 2 * size**3 / best
    return rates


def bf16_pays_off(rates: dict, margin: float = 1.2) -> bool:
    """True when the measured bf16 matmul rate beats float32's by ``margin`` (autocast adds casts, so a
    bare tie would lose)."""
    return rates["bfloat16"] >= margin * rates["float32"]


#: A CPU run estimated to train longer than this is refused unless allowed (``--allow-long-run``).
LONG_RUN_LIMIT_HOURS = 3.0

#: Runs with fewer optimiser steps than this are not timed first (every ``quick`` run is far below it).
TIME_RUNS_ABOVE_STEPS = 2000


class LongRunRefused(RuntimeError):
    """A run would train for hours on a CPU and nobody said that was intended."""


def check_long_run(config: dict, n_samples: int, device="cpu", allow: bool = False,
                   limit_hours: float = LONG_RUN_LIMIT_HOURS) -> dict | None:  # fmt: skip
    """Time a long CPU run before it starts; refuse it in one sentence when it exceeds ``limit_hours``.

    Returns the estimate (printed as one line, so a notebook's log shows it) or None when the run is short
    or not on a CPU. Raises :class:`LongRunRefused` unless ``allow`` or ``SPECTM_ALLOW_LONG_RUN=1``.
    """
    from spectm.train import resolve_config

    if torch.device(device).type != "cpu":
        return None
    config = resolve_config(config)
    if run_steps(config, n_samples) < TIME_RUNS_ABOVE_STEPS:
        return None
    estimate = estimate_run(config, n_samples, device)
    print(f"estimated training time: {describe_duration(estimate['seconds'])} ({estimate['steps']} steps of "
          f"{estimate['seconds_per_step']:.2f} s on {estimate['device']})", flush=True)
    if estimate["hours"] > limit_hours and not long_run_allowed(allow):
        raise LongRunRefused(long_run_sentence(estimate))
    return estimate
