"""Where the time of one training step goes: ``python -m benchmarks profile [--shape quick|paper] [--threads N]``.

Two views of the same step (batch 256, targeted masking, ``spectm.train.train_step``'s work; ``quick``: the
quick profile's model in float32, ``paper``: the paper-shaped model under the paper profile's precision,
bf16 autocast where this CPU computes bf16 natively):
wall time per stage (inputs, tokenizer, encoder, decoder, loss, backward, clipping, AdamW, and drawing a
batch from the dataset), and ``torch.profiler`` self time per operator family (GEMMs, attention kernels,
everything else). The second bounds what removing overhead can buy: if GEMMs and attention take a fraction
``f`` of the step, no fusion of the rest makes the step more than ``1 / f`` times faster.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.bench_train import make_batch
from spectm.masking import make_mask
from spectm.model import SpecTM, masked_mean, model_config, spectm_loss, token_layout
from spectm.train import autocast_dtype, make_optimizer, resolve_config, standardise_indices

#: Operator -> family for the profiler view.
FAMILIES = {"aten::mm": "gemm", "aten::addmm": "gemm", "aten::bmm": "gemm",
            "aten::_scaled_dot_product_flash_attention_for_cpu": "attention",
            "aten::_scaled_dot_product_flash_attention_for_cpu_backward": "attention"}


def staged_step(model, optimizer, pixels, batch, mask, wavelengths, clock, dtype=None):
    """One training step of the fast path, ``clock(stage)`` called after each stage; the forward stages
    under autocast to ``dtype`` (None: float32), the loss in float32, as ``spectm.train`` runs them."""
    rows = torch.arange(len(batch["values"]))
    standardise_indices(pixels[rows], pixels.index_statistics(), "cpu")
    clock("data batching")
    with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
        outputs = _staged_forward(model, batch, mask, wavelengths, clock)
    loss, _ = spectm_loss(outputs, batch)
    clock("loss forward")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clock("backward (all stages)")
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    clock("gradient clipping")
    optimizer.step()
    clock("AdamW")


def _staged_forward(model, batch, mask, wavelengths, clock) -> dict:
    x, wl, observed = model._inputs(batch["values"], wavelengths, batch["observed"])
    masked = mask & observed
    layout = token_layout(masked, False)
    keep = layout.order[:layout.n_kept]
    clock("inputs and layout")
    tokens = model.tokenizer(x.index_select(1, keep), wl.index_select(-1, keep), masked.index_select(1, keep),
                             observed.index_select(1, keep))
    clock("tokenizer")
    encoded = model.encoder(tokens)
    embedding = masked_mean(encoded, observed.index_select(1, keep))
    clock("encoder forward")
    recon, future = model.forward_decoder(encoded, wl, layout)
    clock("decoder forward")
    return {"reconstruction": model.normalizer.inverse(recon).float(),
            "future": model.normalizer.inverse(future).float(), "indices": model.index_head(embedding).float(),
            "mask": masked, "observed": observed, "band_scale": model.normalizer.std}


def profile_step(shape: str = "quick", steps: int = 4) -> dict:
    """Stage times and operator families of ``steps`` training steps of the ``shape`` profile's model."""
    pixels, batch = make_batch(256, torch.device("cpu"))
    mask = make_mask("targeted", pixels.wavelengths, 256, None)
    wavelengths = torch.tensor(pixels.wavelengths, dtype=torch.float32)
    torch.manual_seed(0)
    model = SpecTM(model_config(shape, n_bands=len(pixels.wavelengths), n_indices=len(pixels.index_names)))
    model.normalizer.fit(pixels.values)
    config = resolve_config({"profile": shape, "device": "cpu"})
    optimizer = make_optimizer(model, config)
    dtype = autocast_dtype(config, torch.device("cpu"))
    stages, last = {}, [time.perf_counter()]

    def clock(stage):
        now = time.perf_counter()
        stages[stage] = stages.get(stage, 0.0) + now - last[0]
        last[0] = now

    for _ in range(2):
        staged_step(model, optimizer, pixels, batch, mask, wavelengths, clock, dtype)
    stages.clear()
    last[0] = time.perf_counter()
    for _ in range(steps):
        staged_step(model, optimizer, pixels, batch, mask, wavelengths, clock, dtype)
    total = sum(stages.values())
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        staged_step(model, optimizer, pixels, batch, mask, wavelengths, lambda stage: None, dtype)
    families = {}
    for event in prof.key_averages():
        family = FAMILIES.get(event.key, "other operators")
        families[family] = families.get(family, 0.0) + event.self_cpu_time_total
    op_total = sum(families.values())
    gemm_and_attention = (families.get("gemm", 0) + families.get("attention", 0)) / op_total
    return {"shape": shape, "precision": str(dtype or torch.float32), "threads": torch.get_num_threads(),
            "step_ms": 1000 * total / steps, "samples_per_s": 256 * steps / total,
            "stages_percent": {k: round(100 * v / total, 1) for k, v in stages.items()},
            "operator_families_percent": {k: round(100 * v / op_total, 1) for k, v in families.items()},
            "bound_from_removing_all_other_operators": 1 / gemm_and_attention}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks profile", description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("quick", "paper"), default="quick")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps(profile_step(args.shape, args.steps), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
