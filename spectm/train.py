"""SpecTM pretraining: one loop for CPU, CUDA and ``torchrun``, readable in one sitting (nanoGPT style).

Config is a dict of plain values: :data:`DEFAULTS`, then the ``training`` section of a profile of
:mod:`spectm.profiles`, then the caller's overrides (:func:`resolve_config`). A step: draw a batch (a
per-epoch permutation seeded by ``(seed, epoch)``), draw a mask (a generator seeded by ``(seed, step,
rank)``), forward under bf16 autocast where the device supports it,
:func:`spectm.model.spectm_loss`, backward, clip, AdamW at :func:`get_lr` (warm-up then cosine). Because
both random streams are functions of the step, a run resumed from a checkpoint draws exactly the batches and
masks the killed run would have drawn.

Outputs in ``out_dir``: ``checkpoint.pt`` (every ``checkpoint_every`` steps, at every epoch end and at the
end; the one before it is kept as ``checkpoint.previous.pt``; see :mod:`spectm.checkpoint`),
``metrics.jsonl`` (one line per logged step and one per epoch) and ``run.lock`` (held while a process
trains there: a second process is refused). A checkpoint records fingerprints of the training data and of
the package source; a resume with another config, other data or other code is refused.

Multi-process: launch with ``torchrun --nproc_per_node N -m spectm.pretrain ...`` (the command line,
:mod:`spectm.pretrain`); each rank takes every N-th
sample of the epoch's permutation, gradients are averaged by DistributedDataParallel (gloo on CPU, nccl on
CUDA) and only rank 0 writes files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from spectm.atomic import atomic_write_text
from spectm.bands import GRIDS, wavelength_grid
from spectm.checkpoint import (CHECKPOINT_NAME, FORMAT, PREVIOUS_NAME, ResumeError,
                               code_version, load_checkpoint, load_resumable, restore_rng_states, rng_states,
                               run_lock, save_rotating, source_fingerprint)
from spectm.masking import DEFAULT_BUDGET, correlation_groups, make_mask
from spectm.model import ModelConfig, SpecTM, count_parameters, model_config, spectm_loss
from spectm.profiles import get_profile

DEFAULTS = {
    "profile": "quick",  # the profile's "model" and "training" sections (spectm.profiles)
    "model": {},  # ModelConfig overrides, e.g. {"n_layers": 1, "width": 32}
    "masking": "targeted",  # a family of spectm.masking.MASKING_FAMILIES
    "mask_budget": DEFAULT_BUDGET,  # masked bands per sample for the random families
    "native_ratio": False,  # True: each family's own mask ratio instead of the matched budget
    "n_groups": 8,  # band groups of the "grouped" family (fitted on the training split)
    "seed": 0,
    "device": "cpu",  # "cpu", "cuda" or "cuda:1"; under torchrun "cuda" means the local rank's GPU
    "max_steps": None,  # stop after this many steps (smoke runs); None: epochs x batches per epoch
    "min_lr_ratio": 0.1,  # cosine floor as a fraction of learning_rate
    "warmup_fraction": 0.05,  # linear warm-up over this fraction of all steps
    "betas": (0.9, 0.95),
    "grad_clip": 1.0,  # max global gradient norm; 0 disables clipping
    "num_workers": 0,
    "checkpoint_every": 500,  # steps
    "log_every": 1,  # steps between metrics lines (and progress-bar updates)
    "progress": True,
    "resume": True,  # continue from out_dir/checkpoint.pt when it exists (its config must match)
}

#: Keys that may differ between a run and its resumption: they do not change the trajectory.
RUN_ONLY_KEYS = ("num_workers", "checkpoint_every", "log_every", "progress", "resume")


def _plain(value):
    """Tuples become lists, recursively, so the config round-trips through JSON and checkpoints."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    return value


def resolve_config(config: dict | None = None, **overrides) -> dict:
    """DEFAULTS <- the ``training`` section of profile ``config["profile"]`` <- ``config`` <- ``overrides``.

    The one place a profile meets a run's overrides, e.g. ``resolve_config(profile="quick", seed=1)``. The
    profile sets batch size, epochs, learning rate, precision, weight decay and loss weights; an unknown key
    is an error, so a typo never trains silently with a default."""
    config = {**(config or {}), **overrides}
    name = config.get("profile", DEFAULTS["profile"])
    from_profile = get_profile(name)["training"]
    unknown = sorted(set(config) - set(DEFAULTS) - set(from_profile))
    if unknown:
        raise ValueError(f"unknown training config keys {unknown}: expected some of "
                         f"{sorted({*DEFAULTS, *from_profile})}")
    resolved = _plain({**DEFAULTS, **from_profile, **config, "profile": name})
    check_values(resolved)
    return resolved


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: key -> (test of its value, what it must be): a run with any other value would train nothing, divide by
#: zero or fail steps later inside torch, far from the setting that caused it.
VALUE_CHECKS = {
    "batch_size": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "epochs": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "max_steps": (lambda v: v is None or (_is_int(v) and v >= 1), "None or a whole number >= 1"),
    "learning_rate": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "weight_decay": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "min_lr_ratio": (lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "warmup_fraction": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "grad_clip": (lambda v: _is_number(v) and v >= 0, "a number >= 0 (0: no clipping)"),
    "seed": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0"),
    "num_workers": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0"),
    "checkpoint_every": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "log_every": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "loss_weights": (lambda v: isinstance(v, list) and len(v) == 3
                     and all(_is_number(w) and w >= 0 for w in v),
                     "three numbers >= 0 (reconstruction, indices, temporal)"),
}


def check_values(config: dict) -> None:
    """One ValueError naming every key whose value a run cannot use, and what it must be."""
    bad = [f"{key}={config[key]!r} (must be {expectation})" for key, (ok, expectation) in VALUE_CHECKS.items()
           if key in config and not ok(config[key])]
    if bad:
        raise ValueError(f"training config: {'; '.join(bad)}")


def get_lr(step: int, learning_rate: float, warmup_steps: int, total_steps: int, min_lr: float) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warm-up, then cosine down to ``min_lr``."""
    if step < warmup_steps:
        return learning_rate * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (learning_rate - min_lr)


def derive_seed(*keys: int) -> int:
    """A well-mixed 32-bit seed from integers (run seed, step, rank, ...): independent streams per key."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


SHUFFLE_STREAM, MASK_STREAM, VALIDATION_STREAM = 1, 2, 3


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0,
                  world_size: int = 1) -> list[torch.Tensor]:
    """This rank's batches of row indices for ``epoch``: a permutation seeded by ``(seed, epoch)``, every
    ``world_size``-th sample from ``rank`` (the tail beyond a multiple of ``world_size`` is left out, so all
    ranks take the same number of steps), cut into batches; the last batch may be short."""
    per_rank = n // world_size
    if per_rank == 0:
        raise ValueError(f"{n} training samples cannot be shared by {world_size} processes")
    generator = torch.Generator().manual_seed(derive_seed(seed, SHUFFLE_STREAM, epoch))
    order = torch.randperm(n, generator=generator)[rank: per_rank * world_size: world_size]
    return list(order.split(batch_size))


def draw_mask(config: dict, wavelengths, batch_size: int, key: tuple, groups=None) -> torch.Tensor:
    """The masking family's mask for one batch, from a CPU generator seeded by ``key`` (device-agnostic)."""
    generator = torch.Generator().manual_seed(derive_seed(*key))
    return make_mask(config["masking"], wavelengths, batch_size, generator, budget=config["mask_budget"],
                     native_ratio=config["native_ratio"], groups=groups)


def make_optimizer(model: torch.nn.Module, config: dict) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices only (nanoGPT): not on biases, LayerNorms or tokens."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": config["weight_decay"]},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config["learning_rate"], betas=tuple(config["betas"]))


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 arithmetic instructions (AVX512-BF16 or AMX): there bf16 autocast is faster;
    elsewhere it is emulated and slower, so ``precision="auto"`` keeps float32."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(config: dict, device: torch.device) -> torch.dtype | None:
    """bf16 where asked for (``precision="bf16"``) or, with ``"auto"``, where the device computes bf16
    natively (CUDA devices that support it, CPUs with AVX512-BF16/AMX); float32 otherwise."""
    precision = config["precision"]
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    native = (torch.cuda.is_bf16_supported() if device.type == "cuda" else
              device.type == "cpu" and cpu_has_native_bf16())
    if precision == "bf16" or (precision == "auto" and native):
        return torch.bfloat16
    return None


def standardise_indices(batch: dict, index_stats: dict, device) -> dict:
    """Index targets in units of their training-split std (the loss does not scale them itself)."""
    mean = torch.tensor(index_stats["mean"], device=device)
    std = torch.tensor(index_stats["std"], device=device)
    return {**batch, "indices": (batch["indices"] - mean) / std}


def forward_loss(model, batch: dict, mask, wavelengths, config: dict, dtype) -> tuple[torch.Tensor, dict]:
    """The model's outputs under autocast (if ``dtype``), then :func:`spectm_loss` in float32."""
    device_type = batch["values"].device.type
    with torch.autocast(device_type, dtype=dtype or torch.float32, enabled=dtype is not None):
        outputs = model(batch["values"], wavelengths, mask, batch["observed"])
    outputs = {k: v.float() if v.is_floating_point() else v for k, v in outputs.items()}
    return spectm_loss(outputs, batch, tuple(config["loss_weights"]))


def train_step(model, optimizer, batch, mask, wavelengths, config: dict, lr: float, dtype) -> dict:
    """One optimizer step; returns the loss parts as tensors (no host sync here)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss, parts = forward_loss(model, batch, mask, wavelengths, config, dtype)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip = config["grad_clip"] or float("inf")
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return {"loss": loss.detach(), **{k: v.detach() for k, v in parts.items()}, "grad_norm": grad_norm}


@torch.no_grad()
def evaluate(model, data, config: dict, index_stats: dict, wavelengths, device, dtype, groups=None) -> dict:
    """Mean loss parts over ``data`` with fixed masks (seeded by the run seed), so epochs compare."""
    model.eval()
    totals, count = {}, 0
    for i, rows in enumerate(torch.arange(len(data)).split(config["batch_size"])):
        batch = {k: v.to(device) for k, v in data[rows].items()}
        batch = standardise_indices(batch, index_stats, device)
        mask = draw_mask(config, wavelengths.cpu().numpy(), len(rows),
                         (config["seed"], VALIDATION_STREAM, i), groups).to(device)
        loss, parts = forward_loss(model, batch, mask, wavelengths, config, dtype)
        for name, value in {"loss": loss, **parts}.items():
            totals[name] = totals.get(name, 0.0) + float(value) * len(rows)
        count += len(rows)
    model.train()
    return {name: value / max(count, 1) for name, value in totals.items()}


def _setup_distributed(device_name: str) -> tuple[int, int, torch.device, bool]:
    """``(rank, world_size, device, created_group)`` from torchrun's environment variables."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        device = torch.device(device_name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("config device is 'cuda' but torch sees no CUDA device; use device='cpu'")
        return 0, 1, device, False
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device_name.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device(device_name), "gloo"
    created = not dist.is_initialized()
    if created:
        dist.init_process_group(backend)
    return rank, world_size, device, created


def _grid_name(wavelengths: np.ndarray) -> str | None:
    for name in GRIDS:
        grid = wavelength_grid(name).values
        if grid.shape == wavelengths.shape and np.allclose(grid, wavelengths, atol=1e-6):
            return name
    return None


def data_fingerprint(*datasets) -> str:
    """A content hash of the training (and validation) data: float32 bytes of the spectra, the 8-day pairs,
    the times, the wavelengths and the index names of each dataset, in order (None counts as empty).

    Cheap next to training (sha256 runs at about 1 GB/s), and exact: a resume on other data is caught."""
    digest = hashlib.sha256()
    for data in datasets:
        digest.update(b"dataset" if data is not None else b"none")
        if data is None:
            continue
        arrays = [data.values.numpy(), data.future.numpy(), np.asarray(data.wavelengths, np.float32)]
        if data.time is not None:
            arrays.append(data.time.astype("datetime64[s]").astype(np.int64))
        for array in arrays:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
        digest.update(json.dumps(list(data.index_names)).encode())
    return digest.hexdigest()[:16]


def read_metrics_log(path) -> list[dict]:
    """The records of a ``metrics.jsonl``; a torn last line (a process killed mid-write) is dropped, while an
    unreadable line anywhere else is an error naming the file and the line."""
    path = Path(path)
    text = path.read_text(errors="replace")  # undecodable bytes make a bad line, named below
    lines = [line for line in text.splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines):
                break  # torn by a kill: the record was never completely written
            from spectm.data.errors import DataFormatError

            raise DataFormatError(path, f"line {number}", "one JSON record per line", f"{error}") from None
    return records


def _truncate_log(path: Path, step: int, epoch: int, saved_bytes: int | None = None) -> None:
    """Drop metrics lines written after the checkpoint we resume from (the killed run's tail, including a
    line torn by the kill); rewritten atomically. A log shorter than the ``saved_bytes`` it had when the
    checkpoint was written lost records (emptied, cut short): refused, or the curves would have a gap."""
    kept = [record for record in (read_metrics_log(path) if path.exists() else [])
            if (record["kind"] == "step" and record["step"] <= step)
            or (record["kind"] == "epoch" and record["epoch"] < epoch)]
    text = "".join(json.dumps(record) + "\n" for record in kept)
    if saved_bytes is not None and len(text.encode()) < saved_bytes:
        raise ResumeError(f"{path} lost records written before the checkpoint at step {step} "
                          f"({len(text.encode())} bytes of {saved_bytes} left); use another out_dir, or "
                          "resume=False to start over")
    atomic_write_text(path, text)


def start_over(out_dir: Path) -> None:
    """A fresh run in ``out_dir`` (none there, or ``resume=False``): an empty metrics log and no checkpoint of
    an earlier run, which a later resume would otherwise pick up under the new run's log."""
    for name in (CHECKPOINT_NAME, PREVIOUS_NAME):
        (out_dir / name).unlink(missing_ok=True)
    (out_dir / "metrics.jsonl").write_text("")


def _check_resumable(saved: dict, config: dict, identity: dict, run_dir: Path) -> None:
    """Refuse, in one sentence naming the folder, a resume whose config, data or code differ."""
    differ = sorted(k for k in set(saved["config"]) | set(config)
                    if k not in RUN_ONLY_KEYS and saved["config"].get(k) != config.get(k))
    if differ:
        raise ResumeError(f"{run_dir} was written with a different config ({', '.join(differ)} differ); "
                          "use another out_dir, or resume=False to start over")
    what = {"data_fingerprint": "training data", "code_fingerprint": "spectm source code"}
    for key, name in what.items():
        if saved.get(key) != identity[key]:
            there = "not recorded there" if saved.get(key) is None else f"{saved[key]} there"
            raise ResumeError(f"{run_dir} was trained on other {name} ({key} {there}, {identity[key]} now); "
                              "use another out_dir, or resume=False to start over")


def numerics() -> dict:
    """What makes float results differ between two machines running the same code on the same data: the
    torch version and its CPU thread count (a GEMM sums in another order with more threads)."""
    return {"torch": str(torch.__version__), "threads": torch.get_num_threads()}  # str: weights_only loads it


def _warn_if_numerics_differ(saved: dict | None, run_dir: Path) -> None:
    """A resume under another torch or thread count is allowed (the science holds) but said: the rest of
    the run will not be bit-identical to an uninterrupted one."""
    now = numerics()
    differ = [f"{key} {saved[key]} there, {now[key]} now" for key in now
              if saved and saved.get(key) != now[key]]
    if differ:
        warnings.warn(f"{run_dir} resumes under other numerics ({'; '.join(differ)}): the rest of the run "
                      "will not be bit-identical to an uninterrupted one", stacklevel=4)


@dataclasses.dataclass
class Progress:
    """Where a run stands, in plain values: what a checkpoint records and a resume restores."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    epoch_loss_sum: float = 0.0
    epoch_loss_steps: int = 0


@dataclasses.dataclass
class Run:
    """What :func:`setup` builds once per process and the loop only reads (the mutable state of training
    lives in the model, the optimizer and :class:`Progress`)."""

    config: dict
    model: SpecTM  # unwrapped; ``net`` is the DistributedDataParallel wrapper under torchrun, else the model
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    grid: np.ndarray  # the band grid, nm, float64 (masks are drawn on it)
    wavelengths: torch.Tensor  # the band grid as float32 on the device (the model's input)
    groups: list | None  # band groups of the "grouped" family
    fixed_mask: torch.Tensor | None  # targeted masking: the same (1, B) mask every step
    dtype: torch.dtype | None  # autocast dtype, None for float32
    device: torch.device
    rank: int
    world_size: int
    total_steps: int
    warmup_steps: int
    min_lr: float
    out_dir: Path
    identity: dict  # data and code fingerprints
    started: float  # perf_counter at the start of the run, earlier by the seconds trained before a resume

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def metrics_path(self) -> Path:
        return self.out_dir / "metrics.jsonl"


def train(config: dict, train_data, val_data=None, out_dir="runs/pretrain", callback=None) -> dict:
    """Pretrain SpecTM on ``train_data`` (a :class:`spectm.datasets.PixelSpectra`); returns a summary dict.

    ``callback(state)``, if given, runs after every step on every rank with ``state`` = {"step", "epoch",
    "model" (unwrapped), "local_loss" (this rank's loss, float)}; raising from it stops the run (tests use
    this to simulate a crash).
    """
    config = resolve_config(config)
    out_dir = Path(out_dir)
    rank, world_size, device, created_group = _setup_distributed(config["device"])
    with run_lock(out_dir) if rank == 0 else contextlib.nullcontext():
        run, progress, resumed_from = setup(config, train_data, val_data, out_dir, rank, world_size, device)
        progress, val = train_loop(run, progress, train_data, val_data, callback)
        save_checkpoint(run, progress, finished=True)
    seconds = time.perf_counter() - run.started
    if world_size > 1:
        dist.barrier()
        if created_group:
            dist.destroy_process_group()
    return {
        "steps": progress.step, "total_steps": run.total_steps, "epochs_completed": progress.epoch,
        "resumed_from_step": resumed_from,
        "val": val, "parameters": count_parameters(run.model), "world_size": world_size,
        "seconds": seconds,
        "samples_per_second": progress.step * config["batch_size"] * world_size / seconds,
        "checkpoint": str(out_dir / CHECKPOINT_NAME), "metrics": str(run.metrics_path),
        "precision": str(run.dtype or torch.float32), **run.identity,
    }


def build_model(config: dict, train_data) -> tuple[SpecTM, list | None]:
    """The model (initial weights from the global seed; normaliser, band grid and index statistics of the
    training split) and the band groups of the "grouped" family."""
    grid = np.asarray(train_data.wavelengths, dtype=np.float64)
    model = SpecTM(model_config(config["profile"], n_bands=grid.size, n_indices=len(train_data.index_names),
                                **config["model"]))
    model.normalizer.fit(train_data.values)
    model.describe_data(grid, _grid_name(grid), train_data.index_statistics())
    groups = masking_groups(config, train_data)
    return model, None if groups is None else groups.tolist()


def masking_groups(config: dict, train_data) -> np.ndarray | None:
    """The band groups of the "grouped" family (``n_groups``, fitted on the training split), else None."""
    if config["masking"] != "grouped":
        return None
    return correlation_groups(train_data.values.numpy(), config["n_groups"])


def step_schedule(config: dict, n_samples: int, rank: int, world_size: int) -> tuple[int, int, float]:
    """``(total_steps, warmup_steps, min_lr)``: epochs x this rank's batches, capped by ``max_steps``."""
    per_epoch = len(epoch_batches(n_samples, config["batch_size"], config["seed"], 0, rank, world_size))
    total_steps = config["epochs"] * per_epoch
    if config["max_steps"] is not None:
        total_steps = min(total_steps, int(config["max_steps"]))
    warmup_steps = int(round(config["warmup_fraction"] * total_steps))
    return total_steps, warmup_steps, config["learning_rate"] * config["min_lr_ratio"]


def setup(config, train_data, val_data, out_dir: Path, rank: int, world_size: int, device):
    """``(run, progress, resumed_from_step)``: the model, optimizer and schedule, restored from the run
    folder's checkpoint when there is one to resume (same config, data and code), else fresh."""
    torch.manual_seed(config["seed"])  # once: every rank builds the same initial weights
    model, groups = build_model(config, train_data)
    grid = model.wavelengths.numpy().copy()
    model.to(device)
    optimizer = make_optimizer(model, config)
    if world_size > 1:
        torch.manual_seed(derive_seed(config["seed"], rank))  # a dropout stream per rank
    identity = {"data_fingerprint": data_fingerprint(train_data, val_data),
                "code_fingerprint": source_fingerprint()}
    progress, resumed_from, saved_groups, elapsed = resume(config, identity, out_dir, model, optimizer,
                                                           rank == 0)
    groups = groups if resumed_from is None else saved_groups
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        if resumed_from is None:
            start_over(out_dir)
    net = model
    if world_size > 1:
        device_ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    fixed_mask = None  # targeted masking is the same every step: draw it once
    if config["masking"] == "targeted":
        fixed_mask = draw_mask(config, grid, 1, (0,)).to(device)
    run = Run(config, model, net, optimizer, grid, torch.tensor(grid, dtype=torch.float32, device=device),
              groups, fixed_mask, autocast_dtype(config, device), device, rank, world_size,
              *step_schedule(config, len(train_data), rank, world_size), out_dir, identity,
              time.perf_counter() - elapsed)
    return run, progress, resumed_from


def resume(config: dict, identity: dict, out_dir: Path, model, optimizer, is_main: bool):
    """``(progress, resumed_from_step, masking_groups, elapsed_seconds)`` after restoring model, optimizer and
    RNG states from the run folder's checkpoint (refused when config, data or code differ); ``(Progress(),
    None, None, 0.0)`` when there is none or ``config["resume"]`` is off. The elapsed training seconds carry
    on, so a resumed run's summary times the whole run, not its last piece."""
    saved = load_resumable(out_dir, set_aside=is_main) if config["resume"] else None
    if saved is None:
        return Progress(), None, None, 0.0
    _check_resumable(saved, config, identity, out_dir)
    model.load_state_dict(saved["model"])
    model.describe_data(saved["wavelengths"], saved["band_grid"], saved["index_standardization"])
    optimizer.load_state_dict(saved["optimizer"])
    restore_rng_states(saved["rng"])
    _warn_if_numerics_differ(saved.get("numerics"), out_dir)
    progress = Progress(saved["step"], saved["epoch"], saved["batch_in_epoch"], saved["epoch_loss_sum"],
                        saved["epoch_loss_steps"])
    if is_main:
        _truncate_log(out_dir / "metrics.jsonl", progress.step, progress.epoch, saved.get("metrics_bytes"))
    return progress, progress.step, saved["masking_groups"], float(saved.get("elapsed_s", 0.0))


def train_loop(run: Run, progress: Progress, train_data, val_data, callback=None) -> tuple[Progress, dict]:
    """Epochs from ``progress`` until ``epochs`` or the step budget; returns the final progress and the
    last validation losses. Rank 0 writes an epoch record and a checkpoint after each whole epoch."""
    bar = tqdm(total=run.total_steps, initial=progress.step, desc="pretrain",
               disable=not (run.config["progress"] and run.is_main))
    val = last_validation(run.metrics_path) if progress.step and run.is_main else {}
    run.net.train()
    while progress.epoch < run.config["epochs"] and progress.step < run.total_steps:
        progress, n_batches = train_one_epoch(run, progress, train_data, bar, callback)
        if progress.batch_in_epoch < n_batches and progress.step >= run.total_steps:
            break  # max_steps reached mid-epoch
        if run.is_main and val_data is not None and len(val_data):
            val = evaluate(run.model, val_data, run.config, run.model.index_standardization, run.wavelengths,
                           run.device, run.dtype, run.groups)
        log_record(run, {"kind": "epoch", "epoch": progress.epoch, "step": progress.step,
                         "train_loss": progress.epoch_loss_sum / max(progress.epoch_loss_steps, 1),
                         **{f"val_{name}": value for name, value in val.items()}})
        progress = Progress(progress.step, progress.epoch + 1)
        save_checkpoint(run, progress)
    bar.close()
    return progress, val


def last_validation(metrics_path: Path) -> dict:
    """The validation losses of the last epoch record in the (resumed) metrics log: what a run reports when
    it resumes after its last epoch, as the uninterrupted run would have."""
    records = read_metrics_log(metrics_path) if metrics_path.exists() else []
    epochs = [record for record in records if record["kind"] == "epoch"]
    if not epochs:
        return {}
    return {name[len("val_"):]: value for name, value in epochs[-1].items() if name.startswith("val_")}


def epoch_loader(run: Run, train_data, batches: list) -> torch.utils.data.DataLoader:
    """A loader over the given batches of row indices. Its private generator matters: a DataLoader
    iterator otherwise draws from the global RNG, which would shift dropout after a resume."""
    return torch.utils.data.DataLoader(train_data, sampler=batches, batch_size=None,
                                       num_workers=run.config["num_workers"],
                                       pin_memory=run.device.type == "cuda",
                                       generator=torch.Generator().manual_seed(run.config["seed"]))


def train_one_epoch(run: Run, progress: Progress, train_data, bar=None, callback=None) -> tuple[Progress, int]:
    """The rest of epoch ``progress.epoch`` from batch ``progress.batch_in_epoch``, stopping at the step
    budget; returns the progress after it and the number of batches in the epoch. Logs every
    ``log_every`` steps and saves every ``checkpoint_every`` steps (rank 0)."""
    config = run.config
    batches = epoch_batches(len(train_data), config["batch_size"], config["seed"], progress.epoch, run.rank,
                            run.world_size)
    for rows_batch in epoch_loader(run, train_data, batches[progress.batch_in_epoch:]):
        if progress.step >= run.total_steps:
            break
        lr = get_lr(progress.step, config["learning_rate"], run.warmup_steps, run.total_steps, run.min_lr)
        parts = train_step(run.net, run.optimizer, batch_on_device(run, rows_batch),
                           step_mask(run, len(rows_batch["values"]), progress.step), run.wavelengths, config,
                           lr, run.dtype)
        if not torch.isfinite(parts["loss"]):
            raise FloatingPointError(f"non-finite loss {float(parts['loss'])} at step {progress.step}")
        local_loss = float(parts["loss"])
        progress = Progress(progress.step + 1, progress.epoch, progress.batch_in_epoch + 1,
                            progress.epoch_loss_sum + local_loss, progress.epoch_loss_steps + 1)
        if progress.step % config["log_every"] == 0 or progress.step == run.total_steps:
            log_step(run, progress, parts, lr, bar)
        if bar is not None:
            bar.update(1)
        if progress.step % config["checkpoint_every"] == 0:
            save_checkpoint(run, progress)
        if callback is not None:
            callback({"step": progress.step, "epoch": progress.epoch, "model": run.model,
                      "local_loss": local_loss})
    return progress, len(batches)


def batch_on_device(run: Run, rows_batch: dict) -> dict:
    """A loader batch on the run's device, with index targets in training-split std units."""
    batch = {k: v.to(run.device, non_blocking=True) for k, v in rows_batch.items()}
    return standardise_indices(batch, run.model.index_standardization, run.device)


def step_mask(run: Run, n_rows: int, step: int) -> torch.Tensor:
    """The (n_rows, B) mask of optimizer step ``step``: the fixed targeted mask, or a draw seeded by
    ``(seed, step, rank)`` so a resumed run draws what the killed one would have."""
    if run.fixed_mask is not None:
        return run.fixed_mask.expand(n_rows, -1)
    key = (run.config["seed"], MASK_STREAM, step, run.rank)
    return draw_mask(run.config, run.grid, n_rows, key, run.groups).to(run.device, non_blocking=True)


def log_step(run: Run, progress: Progress, parts: dict, lr: float, bar=None) -> None:
    """One step record (loss parts averaged over ranks) in the metrics log and on the progress bar."""
    values = torch.stack([parts[k].float() for k in ("loss", "reconstruction", "indices", "temporal")])
    if run.world_size > 1:
        dist.all_reduce(values)
        values /= run.world_size
    loss, rec, idx, tmp = values.tolist()
    log_record(run, {"kind": "step", "step": progress.step, "epoch": progress.epoch, "lr": lr, "loss": loss,
                     "reconstruction": rec, "indices": idx, "temporal": tmp,
                     "grad_norm": float(parts["grad_norm"]), "elapsed_s": time.perf_counter() - run.started})
    if bar is not None:
        bar.set_postfix(loss=f"{loss:.4f}", rec=f"{rec:.4f}", idx=f"{idx:.4f}", tmp=f"{tmp:.4f}")


def log_record(run: Run, record: dict) -> None:
    """Append one JSON line to the metrics log (rank 0 only)."""
    if run.is_main:
        with run.metrics_path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def checkpoint_state(run: Run, progress: Progress, finished: bool = False) -> dict:
    """Everything a resume or :func:`load_pretrained` needs, as tensors and plain values (``weights_only``)."""
    model = run.model
    return {
        "format": FORMAT,
        "model": model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "step": progress.step, "epoch": progress.epoch, "batch_in_epoch": progress.batch_in_epoch,
        "finished": finished, "elapsed_s": time.perf_counter() - run.started,
        "metrics_bytes": run.metrics_path.stat().st_size if run.metrics_path.exists() else 0,
        "epoch_loss_sum": progress.epoch_loss_sum, "epoch_loss_steps": progress.epoch_loss_steps,
        "rng": rng_states(),
        "normalization": {"mean": model.normalizer.mean.tolist(), "std": model.normalizer.std.tolist()},
        "index_standardization": model.index_standardization,
        "wavelengths": run.grid.tolist(), "band_grid": model.band_grid,
        "model_config": _plain(dataclasses.asdict(model.config)),
        "config": run.config,
        "masking_groups": run.groups,
        "code_version": code_version(), "numerics": numerics(),
        **run.identity,
    }


def save_checkpoint(run: Run, progress: Progress, finished: bool = False) -> None:
    """Rank 0 writes :func:`checkpoint_state` as the run's checkpoint (the previous one kept)."""
    if run.is_main:
        save_rotating(checkpoint_state(run, progress, finished), run.out_dir)


def load_pretrained(path, map_location="cpu") -> SpecTM:
    """The model of a checkpoint (file or run directory), in eval mode, with its Normalizer in the weights
    and its band grid and index standardisation set (:meth:`spectm.model.SpecTM.describe_data`)."""
    saved = load_checkpoint(path, map_location=map_location)
    fields = {k: v for k, v in saved["model_config"].items() if k != "loss_weights"}  # older runs saved it
    model = SpecTM(ModelConfig(**fields))
    model.load_state_dict(saved["model"])
    model.describe_data(saved["wavelengths"], saved["band_grid"], saved["index_standardization"])
    return model.eval()
