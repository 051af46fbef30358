"""Where the time of one ``quick``-profile training step goes: ``python -m benchmarks profile [--threads N]``.

Two views of the same step (batch 256, targeted masking, float32, ``spectm.train.train_step``'s work):
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
from spectm.train import make_optimizer, resolve_config, standardise_indices

#: Operator -> family for the profiler view.
FAMILIES = {"aten::mm": "gemm", "aten::addmm": "gemm", "aten::bmm": "gemm",
            "aten::_scaled_dot_product_flash_attention_for_cpu": "attention",
            "aten::_scaled_dot_product_flash_attention_for_cpu_backward": "attention"}


def staged_step(model, optimizer, pixels, batch, mask, wavelengths, clock):
    """One training step of the fast path, ``clock(stage)`` called after each stage."""
    rows = torch.arange(len(batch["values"]))
    standardise_indices(pixels[rows], pixels.index_statistics(), "cpu")
    clock("data batching")
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
    outputs = {"reconstruction": model.normalizer.inverse(recon), "future": model.normalizer.inverse(future),
               "indices": model.index_head(embedding), "mask": masked, "observed": observed,
               "band_scale": model.normalizer.std}
    loss, _ = spectm_loss(outputs, batch)
    clock("loss forward")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clock("backward (all stages)")
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    clock("gradient clipping")
    optimizer.step()
    clock("AdamW")


def profile_quick(steps: int = 4) -> dict:
    pixels, batch = make_batch(256, torch.device("cpu"))
    mask = make_mask("targeted", pixels.wavelengths, 256, None)
    wavelengths = torch.tensor(pixels.wavelengths, dtype=torch.float32)
    torch.manual_seed(0)
    model = SpecTM(model_config("quick", n_bands=len(pixels.wavelengths), n_indices=len(pixels.index_names)))
    model.normalizer.fit(pixels.values)
    optimizer = make_optimizer(model, resolve_config({"profile": "quick"}))
    stages, last = {}, [time.perf_counter()]

    def clock(stage):
        now = time.perf_counter()
        stages[stage] = stages.get(stage, 0.0) + now - last[0]
        last[0] = now

    for _ in range(2):
        staged_step(model, optimizer, pixels, batch, mask, wavelengths, clock)
    stages.clear()
    last[0] = time.perf_counter()
    for _ in range(steps):
        staged_step(model, optimizer, pixels, batch, mask, wavelengths, clock)
    total = sum(stages.values())
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        staged_step(model, optimizer, pixels, batch, mask, wavelengths, lambda stage: None)
    families = {}
    for event in prof.key_averages():
        family = FAMILIES.get(event.key, "other operators")
        families[family] = families.get(family, 0.0) + event.self_cpu_time_total
    op_total = sum(families.values())
    gemm_and_attention = (families.get("gemm", 0) + families.get("attention", 0)) / op_total
    return {"threads": torch.get_num_threads(), "step_ms": 1000 * total / steps,
            "stages_percent": {k: round(100 * v / total, 1) for k, v in stages.items()},
            "operator_families_percent": {k: round(100 * v / op_total, 1) for k, v in families.items()},
            "bound_from_removing_all_other_operators": 1 / gemm_and_attention}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks profile", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps(profile_quick(args.steps), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
