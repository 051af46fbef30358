"""The band-token model, timm-style: shapes, gradients, NaN safety, loss masking, size, attention."""

from __future__ import annotations

import math

import pytest
import torch

from spectm.bands import gap_mask, wavelength_grid
from spectm.masking import make_mask
from spectm.model import (
    Attention,
    Normalizer,
    SpecTM,
    WavelengthEmbedding,
    count_parameters,
    model_config,
    spectm_loss,
)

WL = torch.tensor(wavelength_grid("paper122").values, dtype=torch.float32)
GAP = torch.from_numpy(gap_mask(wavelength_grid("paper122")).values)
N = 3


def make_batch(seed: int = 0, n: int = N) -> dict:
    g = torch.Generator().manual_seed(seed)
    values = 0.01 + 0.005 * torch.rand(n, 122, generator=g)
    values[:, GAP] = float("nan")  # OCI never observes 590-610 nm
    future = 0.01 + 0.005 * torch.rand(n, 122, generator=g)
    future[:, GAP] = float("nan")
    return {
        "values": values,
        "indices": torch.randn(n, 4, generator=g),
        "future": future,
        "has_future": torch.tensor([True, False, True][:n]),
    }


def make_model(mae: bool = True, seed: int = 0) -> SpecTM:
    torch.manual_seed(seed)
    model = SpecTM(model_config("quick", encoder_sees_mask_tokens=not mae))
    model.normalizer.fit(make_batch(seed=123, n=64)["values"])
    return model


def run(model, batch, family="random", seed=0):
    mask = make_mask(family, WL, batch["values"].shape[0], torch.Generator().manual_seed(seed))
    return model(batch["values"], WL, mask)


@pytest.mark.parametrize("mae", [True, False], ids=["mae_drop", "mask_tokens"])
def test_forward_shapes_and_no_nans_with_nan_gap_bands(mae):
    outputs = run(make_model(mae), make_batch())
    assert outputs["reconstruction"].shape == (N, 122)
    assert outputs["future"].shape == (N, 122)
    assert outputs["indices"].shape == (N, 4)
    assert outputs["embedding"].shape == (N, 64)
    for name in ("reconstruction", "future", "indices", "embedding"):
        assert torch.isfinite(outputs[name]).all(), name
    assert not outputs["observed"][:, GAP].any()


@pytest.mark.parametrize("mae", [True, False], ids=["mae_drop", "mask_tokens"])
def test_backward_reaches_every_parameter_in_use(mae):
    model = make_model(mae)
    total, parts = spectm_loss(run(model, make_batch()), make_batch())
    assert torch.isfinite(total) and all(torch.isfinite(v) for v in parts.values())
    total.backward()
    # The mask token of the path not taken gets no (or an all-zero) gradient; everything else learns.
    unused = {"tokenizer.mask_token"} if mae else {"decoder.mask_token"}
    for name, p in model.named_parameters():
        grad = p.grad
        assert grad is None or torch.isfinite(grad).all(), name
        if name in unused:
            assert grad is None or not grad.any(), name
        else:
            assert grad is not None and grad.any(), name


def test_both_paths_give_the_same_shapes_with_uneven_masks():
    batch = make_batch()
    mask = torch.zeros(N, 122, dtype=torch.bool)
    mask[0, 10:40] = True  # samples drop different numbers of bands: key padding in the MAE path
    mask[1, 100:105] = True
    a = make_model(mae=True)(batch["values"], WL, mask)
    b = make_model(mae=False)(batch["values"], WL, mask)
    for name in ("reconstruction", "future", "indices", "embedding"):
        assert a[name].shape == b[name].shape
        assert torch.isfinite(a[name]).all()


def test_mae_drop_ignores_the_values_of_masked_bands():
    model = make_model(mae=True).eval()
    batch = make_batch()
    mask = make_mask("targeted", WL, N, torch.Generator())
    changed = batch["values"].clone()
    changed[mask] = 1.0  # the encoder must never see a masked value
    a, b = model(batch["values"], WL, mask), model(changed, WL, mask)
    assert torch.allclose(a["reconstruction"], b["reconstruction"])
    assert torch.allclose(a["embedding"], b["embedding"])


def test_loss_ignores_unobserved_and_unmasked_bands():
    model = make_model()
    batch = make_batch()
    outputs = run(model, batch)
    total, _ = spectm_loss(outputs, batch)
    edited = {**outputs, "reconstruction": outputs["reconstruction"].clone()}
    edited["reconstruction"][:, GAP] = 1e6  # unobserved
    edited["reconstruction"][~outputs["mask"]] += 1e6  # visible: not a reconstruction target
    assert torch.equal(spectm_loss(edited, batch)[0], total)
    edited["reconstruction"][outputs["mask"] & outputs["observed"]] += 1.0
    assert spectm_loss(edited, batch)[0] > total


def test_reconstruction_loss_is_the_mean_over_masked_observed_bands_in_normalised_units():
    model = make_model()
    batch = make_batch()
    outputs = run(model, batch)
    _, parts = spectm_loss(outputs, batch)
    scored = outputs["mask"] & outputs["observed"]
    std = model.normalizer.std.expand(N, -1)
    by_hand = (((outputs["reconstruction"] - batch["values"]) / std)[scored] ** 2).mean()
    assert torch.allclose(parts["reconstruction"], by_hand)


def test_temporal_loss_only_where_a_future_pair_exists():
    model = make_model()
    batch = make_batch()
    outputs = run(model, batch)
    total, parts = spectm_loss(outputs, batch)
    edited = {**outputs, "future": outputs["future"].clone()}
    edited["future"][1] += 5.0  # sample 1 has no future pair
    edited["future"][:, GAP] = 1e6
    assert torch.equal(spectm_loss(edited, batch)[0], total)
    no_pairs = {**batch, "has_future": torch.zeros(N, dtype=torch.bool)}
    total_none, parts_none = spectm_loss(outputs, no_pairs)
    assert parts_none["temporal"] == 0 and parts["temporal"] > 0
    assert torch.allclose(total - total_none, 0.3 * parts["temporal"])


def test_loss_weights_are_applied():
    batch = make_batch()
    outputs = run(make_model(), batch)
    total, parts = spectm_loss(outputs, batch, weights=(2.0, 0.0, 1.0))
    assert torch.allclose(total, 2 * parts["reconstruction"] + parts["temporal"])


def test_paper_profile_has_about_six_million_parameters():
    paper = SpecTM(model_config("paper"))
    assert paper.config.n_layers == 6 and paper.config.width == 256
    assert 5.5e6 <= count_parameters(paper) <= 6.5e6
    quick = SpecTM(model_config("quick"))
    assert count_parameters(quick) < 0.5e6
    # count_parameters counts parameters only: the Normalizer statistics are buffers
    assert count_parameters(paper) == sum(p.numel() for p in paper.parameters())
    assert count_parameters(paper.normalizer) == 0


def test_normalizer_nan_aware_round_trip_and_state_dict():
    nan = float("nan")
    x = torch.tensor([[1.0, 10.0, nan], [3.0, nan, nan], [5.0, 30.0, nan]])
    norm = Normalizer(3).fit(x)
    assert torch.allclose(norm.mean, torch.tensor([3.0, 20.0, 0.0]))
    assert torch.allclose(norm.std, torch.tensor([2.0, math.sqrt(200.0), 1.0]))  # sample std; all-NaN -> 1
    y = torch.tensor([[2.0, 15.0, 0.5]])
    assert torch.allclose(norm.inverse(norm(y)), y)
    restored = Normalizer(3)
    restored.load_state_dict(norm.state_dict())
    assert torch.equal(restored(y), norm(y))
    model = make_model()
    assert {"normalizer.mean", "normalizer.std"} <= set(model.state_dict())


def test_embedding_is_deterministic_in_eval_mode_and_sees_all_observed_bands():
    torch.manual_seed(0)  # weights independent of whatever earlier tests drew
    model = SpecTM(model_config("quick", dropout=0.2)).eval()
    values = make_batch()["values"]
    a, b = model.embed(values, WL), model.embed(values, WL)
    assert torch.equal(a, b) and a.shape == (N, 64) and torch.isfinite(a).all()
    changed = values.clone()
    changed[:, 100] += 0.01  # a diagnostic band: downstream features depend on it
    assert not torch.allclose(model.embed(changed, WL), a)
    without_100 = (torch.arange(122) != 100).expand(N, -1)  # an explicit observed mask hides it again
    hidden = model.embed(values, WL, observed=without_100)
    assert torch.equal(model.embed(changed, WL, observed=without_100), hidden)


def test_wavelength_embedding_handles_any_grid():
    torch.manual_seed(0)
    embed = WavelengthEmbedding(16, 8)
    native = torch.tensor(wavelength_grid("oci_rrs172").values, dtype=torch.float32)
    out = embed(native)
    assert out.shape == (172, 16)
    assert not torch.allclose(out[0], out[1])  # neighbouring bands 1.25-2.5 nm apart differ


def test_sdpa_attention_matches_manual_softmax_attention():
    torch.manual_seed(0)
    attn = Attention(width=8, n_heads=2).eval()
    x = torch.randn(2, 5, 8)
    key_valid = torch.tensor([[True] * 5, [True, True, True, False, False]])
    q, k, v = attn.qkv(x).view(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-2, -1) / math.sqrt(4)
    scores = scores.masked_fill(~key_valid[:, None, None, :], float("-inf"))
    manual = (scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 8)
    assert torch.allclose(attn(x, key_valid), attn.proj(manual), atol=1e-6)
    # padding keys change nothing for the valid tokens of the padded sample
    x2 = x.clone()
    x2[1, 3:] = 100.0
    assert torch.allclose(attn(x2, key_valid)[1, :3], attn(x, key_valid)[1, :3], atol=1e-5)


def test_unknown_profile_is_named_in_the_error():
    with pytest.raises(ValueError, match="huge"):
        model_config("huge")
