"""The fast paths compute the same model: same parameters and state_dict keys, same outputs, loss and
gradients (float rounding) as the frozen pre-fast-path copy in ``benchmarks/reference_spectm.py``."""

from __future__ import annotations

import pytest
import torch

from benchmarks import reference_spectm as before
from spectm import model as fast
from spectm.bands import gap_mask, wavelength_grid
from spectm.masking import make_mask

WL = torch.tensor(wavelength_grid("paper122").values, dtype=torch.float32)
GAP = torch.from_numpy(gap_mask(wavelength_grid("paper122")).values)
OUTPUTS = ("reconstruction", "future", "indices", "embedding")


def make_batch(n: int = 12, seed: int = 0, missing: float = 0.03) -> dict:
    g = torch.Generator().manual_seed(seed)
    values = 0.01 + 0.005 * torch.rand(n, 122, generator=g)
    values[:, GAP] = float("nan")
    values[torch.rand(n, 122, generator=g) < missing] = float("nan")  # scattered missing bands
    future = 0.01 + 0.005 * torch.rand(n, 122, generator=g)
    future[:, GAP] = float("nan")
    return {"values": values, "indices": torch.randn(n, 4, generator=g), "future": future,
            "has_future": torch.rand(n, generator=g) > 0.3}


def twin_models(mask_tokens: bool = False, **overrides):
    torch.manual_seed(0)
    old = before.SpecTM(before.model_config("quick", encoder_sees_mask_tokens=mask_tokens, **overrides))
    old.normalizer.fit(make_batch(64, seed=9)["values"])
    new = fast.SpecTM(fast.model_config("quick", encoder_sees_mask_tokens=mask_tokens, **overrides))
    new.load_state_dict(old.state_dict())  # strict: same keys, same shapes
    return old, new


def outputs_loss_grads(model, module, batch, mask, wavelengths=WL, dtype=None):
    with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
        outputs = model(batch["values"], wavelengths, mask)
    outputs = {k: v.float() if v.is_floating_point() else v for k, v in outputs.items()}
    loss, _ = module.spectm_loss(outputs, batch)
    model.zero_grad()
    loss.backward()
    return outputs, loss, [p.grad for p in model.parameters()]


def compare(old, new, batch, mask, wavelengths=WL, atol=1e-5):
    out_a, loss_a, grads_a = outputs_loss_grads(old, before, batch, mask, wavelengths)
    out_b, loss_b, grads_b = outputs_loss_grads(new, fast, batch, mask, wavelengths)
    for name in OUTPUTS:
        torch.testing.assert_close(out_b[name], out_a[name], atol=atol, rtol=1e-4, msg=name)
    torch.testing.assert_close(loss_b, loss_a, atol=atol, rtol=1e-4)
    for grad_a, grad_b in zip(grads_a, grads_b):
        torch.testing.assert_close(grad_b, grad_a, atol=atol, rtol=1e-3)


def test_state_dict_keys_and_parameter_count_are_unchanged():
    old, new = twin_models()
    assert list(old.state_dict()) == list(new.state_dict())
    assert fast.count_parameters(new) == before.count_parameters(old)


@pytest.mark.parametrize("family", ["targeted", "random", "random_spans", "spectral_slabs"])
@pytest.mark.parametrize("mask_tokens", [False, True], ids=["drop", "mask_tokens"])
def test_fast_model_matches_the_frozen_model_in_fp32(family, mask_tokens):
    old, new = twin_models(mask_tokens)
    batch = make_batch()
    mask = make_mask(family, WL, 12, torch.Generator().manual_seed(3))
    compare(old, new, batch, mask)


def test_targeted_mask_on_the_shared_layout_matches_the_frozen_model():
    """Without scattered missing bands every row masks the same observed bands: the shared-layout path."""
    old, new = twin_models()
    batch, mask = make_batch(missing=0.0), make_mask("targeted", WL, 12, None)
    observed = torch.isfinite(batch["values"])
    assert fast.shared_band_order(mask & observed) is not None
    compare(old, new, batch, mask)


def test_targeted_mask_takes_the_shared_layout_and_random_does_not():
    mask = make_mask("targeted", WL, 5, None)
    order, n_kept = fast.shared_band_order(mask)
    assert n_kept == int((~mask[0]).sum()) and sorted(order.tolist()) == list(range(122))
    assert not mask[0, order[:n_kept]].any() and mask[0, order[n_kept:]].all()
    assert fast.shared_band_order(make_mask("random", WL, 5, torch.Generator().manual_seed(0))) is None
    assert fast.shared_band_order(torch.ones(3, 122, dtype=torch.bool)) is None  # nothing left to encode


def test_shared_layout_with_a_fully_masked_row_falls_back_to_the_general_path():
    old, new = twin_models()
    mask = make_mask("targeted", WL, 12, None)
    mask[4] = True  # rows differ now: padding and the one-key rule of the general path apply
    compare(old, new, make_batch(), mask)


def test_per_pixel_wavelength_grids_match():
    old, new = twin_models()
    wavelengths = WL.expand(12, -1) + 0.1 * torch.arange(12.0).unsqueeze(1)
    compare(old, new, make_batch(missing=0.0), make_mask("targeted", WL, 12, None), wavelengths)


def test_matmul_attention_matches_sdpa_with_key_padding():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, 9, 8, generator=g) for _ in range(3))
    key_valid = torch.rand(3, 9, generator=g) > 0.4
    key_valid[:, 0] = True
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=key_valid[:, None, None])
    torch.testing.assert_close(fast.matmul_attention(q, k, v, key_valid), expected, atol=1e-6, rtol=1e-5)
    unmasked = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(fast.matmul_attention(q, k, v), unmasked, atol=1e-6, rtol=1e-5)


def test_bf16_autocast_fast_model_stays_within_bf16_rounding_of_the_frozen_model():
    """bf16 rounds differently in the matmul-softmax attention than in SDPA's kernel: agreement to a few
    bf16 ulps (2^-8 relative), not to float32 precision."""
    old, new = twin_models(n_layers=1)
    batch, mask = make_batch(missing=0.0), make_mask("targeted", WL, 12, None)
    out_a, loss_a, grads_a = outputs_loss_grads(old, before, batch, mask, dtype=torch.bfloat16)
    out_b, loss_b, grads_b = outputs_loss_grads(new, fast, batch, mask, dtype=torch.bfloat16)
    for name in OUTPUTS:
        torch.testing.assert_close(out_b[name], out_a[name], atol=1e-2, rtol=1e-2, msg=name)
    torch.testing.assert_close(loss_b, loss_a, atol=0, rtol=1e-3)
    for grad_a, grad_b in zip(grads_a, grads_b):
        assert (grad_b - grad_a).abs().max() <= 0.05 * grad_a.abs().max()


@pytest.mark.parametrize("family", ["targeted", "random"])
def test_a_longer_padded_layout_computes_the_same_model(family):
    """Runs trained together share one padded layout (spectm.multirun): extra padding only adds keys that
    no token attends to, so outputs and loss equal the model's own layout to float rounding."""
    _, new = twin_models()
    batch = make_batch()
    values = batch["values"]
    mask = make_mask(family, WL, 12, torch.Generator().manual_seed(3)) & torch.isfinite(values)
    own = new(values, WL, mask)
    longest = int((~mask).sum(1).max())
    padded = new(values, WL, mask, layout=fast.padded_layout(mask, longest + 7))
    assert fast.padded_layout(mask, longest + 7).keep_ids.shape == (12, longest + 7)
    for name in OUTPUTS:
        torch.testing.assert_close(padded[name], own[name], atol=1e-5, rtol=1e-4, msg=name)
    torch.testing.assert_close(fast.spectm_loss(padded, batch)[0], fast.spectm_loss(own, batch)[0])
