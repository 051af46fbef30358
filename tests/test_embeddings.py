"""Embeddings two ways and from an untrained encoder: what each one sees."""

import numpy as np
import torch

from spectm.bands import diagnostic_mask, wavelength_grid
from spectm.embeddings import frozen_embeddings, untrained_model
from spectm.model import SpecTM, model_config


def _model(seed=0):
    wavelengths = wavelength_grid("paper122").values
    torch.manual_seed(seed)
    model = SpecTM(model_config("quick", n_bands=wavelengths.size))
    model.normalizer.fit(torch.rand(64, wavelengths.size) * 0.01 + 0.005)
    model.wavelengths = torch.tensor(wavelengths, dtype=torch.float32)
    return model.eval(), wavelengths


def test_masked_embeddings_do_not_depend_on_the_diagnostic_bands_and_visible_ones_do():
    model, wavelengths = _model()
    rng = np.random.default_rng(0)
    rrs = rng.uniform(0.002, 0.02, size=(5, wavelengths.size)).astype(np.float32)
    changed = rrs.copy()
    changed[:, diagnostic_mask(wavelengths).values] *= 3.0
    masked_a, masked_b = frozen_embeddings(model, rrs, masked=True), frozen_embeddings(model, changed, masked=True)
    visible_a, visible_b = frozen_embeddings(model, rrs), frozen_embeddings(model, changed)
    np.testing.assert_allclose(masked_a, masked_b, atol=1e-6)
    assert np.abs(visible_a - visible_b).max() > 1e-3
    assert masked_a.shape == (5, model.config.width)


def test_the_untrained_encoder_keeps_the_normaliser_and_nothing_learned():
    model, wavelengths = _model()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)  # stands for training
    fresh = untrained_model(model, seed=3)
    assert torch.equal(fresh.normalizer.mean, model.normalizer.mean)
    assert not torch.equal(fresh.encoder.blocks[0].attn.qkv.weight, model.encoder.blocks[0].attn.qkv.weight)
    again = untrained_model(model, seed=3)
    assert torch.equal(fresh.encoder.blocks[0].attn.qkv.weight, again.encoder.blocks[0].attn.qkv.weight)
    rrs = np.full((2, wavelengths.size), 0.01, np.float32)
    assert frozen_embeddings(fresh, rrs).shape == (2, model.config.width)
