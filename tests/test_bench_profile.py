"""``python -m benchmarks profile`` times the training step that ``spectm.train`` runs, stage by stage."""

from __future__ import annotations

import pytest
import torch

from benchmarks.bench_profile import _staged_forward
from benchmarks.bench_train import make_batch
from spectm.masking import make_mask
from spectm.model import SpecTM, model_config, spectm_loss
from spectm.train import forward_loss, resolve_config


@pytest.mark.parametrize("dtype", [None, torch.bfloat16], ids=["float32", "bf16"])
def test_the_staged_forward_computes_the_training_loss(dtype):
    pixels, batch = make_batch(16, torch.device("cpu"))
    mask = make_mask("targeted", pixels.wavelengths, 16, None)
    wavelengths = torch.tensor(pixels.wavelengths, dtype=torch.float32)
    torch.manual_seed(0)
    model = SpecTM(model_config("quick", n_bands=len(pixels.wavelengths), n_indices=len(pixels.index_names)))
    model.normalizer.fit(pixels.values)
    config = resolve_config({"profile": "quick"})
    expected, _ = forward_loss(model, batch, mask, wavelengths, config, dtype)
    with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
        outputs = _staged_forward(model, batch, mask, wavelengths, lambda stage: None)
    staged, _ = spectm_loss(outputs, batch, tuple(config["loss_weights"]))
    assert torch.isfinite(expected) and staged.item() == pytest.approx(expected.item(), rel=1e-6)


def test_counted_flops_are_six_per_weight_per_sample_for_a_linear_step():
    from benchmarks.bench_train import counted_flop_per_sample

    layer = torch.nn.Linear(32, 16, bias=False)
    x = torch.randn(8, 32, requires_grad=True)

    def step(batch, mask):
        layer(batch["values"]).sum().backward()

    # forward 2 x 32 x 16; backward: the input's gradient and the weight's, 2 x 32 x 16 each
    assert counted_flop_per_sample(step, {"values": x}, None) == 6 * 32 * 16


def test_cpu_flash_attention_is_counted():
    from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

    from benchmarks.bench_train import counted_flop_per_sample

    q = torch.randn(2, 4, 10, 16, requires_grad=True)  # float32 on the CPU: the flash kernel, no formula in torch

    def step(batch, mask):
        torch.nn.functional.scaled_dot_product_attention(q, q, q).sum().backward()

    shape = tuple(q.shape)
    forward = sdpa_flop_count(shape, shape, shape)
    assert forward == 2 * (2 * 2 * 4 * 10 * 10 * 16)  # QK^T and AV
    expected = forward + sdpa_backward_flop_count(shape, shape, shape, shape)
    assert counted_flop_per_sample(step, {"values": q}, None) == expected / 2
