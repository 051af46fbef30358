"""Runs trained together (:mod:`spectm.multirun`) end where each run trained alone by
:func:`spectm.train.train` ends: same initial weights, batches, masks, loss weights and clipping per run."""

from __future__ import annotations

import pytest
import torch

from spectm.checkpoint import load_checkpoint
from spectm.datasets import PixelSpectra, synthetic_spectra
from spectm.multirun import check_compatible, train_together
from spectm.train import resolve_config, train

TINY_MODEL = {"n_layers": 1, "width": 32, "n_heads": 2, "decoder_width": 32, "decoder_depth": 1,
              "decoder_heads": 2, "n_wavelength_frequencies": 8}



pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pixels():
    table = synthetic_spectra(96, seed=1, n_dates=6)
    return PixelSpectra(table["Rrs"], table["time"], table["future"])


def run_config(**overrides) -> dict:
    return {"profile": "quick", "model": dict(TINY_MODEL), "batch_size": 32, "epochs": 2, "max_steps": 4,
            "learning_rate": 3e-3, "progress": False, "checkpoint_every": 100, **overrides}


def alone(config, pixels, out_dir) -> dict:
    train(config, pixels, None, out_dir)
    return load_checkpoint(out_dir)["model"]


@pytest.mark.parametrize("configs", [
    [{"masking": "targeted", "seed": 0}, {"masking": "random", "seed": 1},
     {"masking": "targeted", "seed": 2, "loss_weights": (1.0, 0.0, 1.0)}],
    [{"masking": "targeted", "seed": 0}, {"masking": "targeted", "seed": 1}],
], ids=["mixed_families", "shared_layout"])
def test_runs_trained_together_equal_the_runs_trained_alone(configs, pixels, tmp_path):
    """To float rounding, not bit for bit: batched kernels sum in another order, and AdamW's first steps
    (lr 3e-3) turn a 1e-9 gradient difference into up to ~3e-6 in a weight (measured), hence atol 1e-5."""
    configs = [run_config(**c) for c in configs]
    together = train_together(configs, pixels)
    for k, config in enumerate(configs):
        expected = alone(config, pixels, tmp_path / f"run{k}")
        got = together[k].state_dict()
        assert list(got) == list(expected)
        for name, value in expected.items():
            torch.testing.assert_close(got[name], value, atol=1e-5, rtol=1e-4, msg=f"run {k}: {name}")


def test_the_runs_really_differ(pixels):
    """A check that the comparison above can fail: different seeds give different weights."""
    a, b = train_together([run_config(seed=0), run_config(seed=1)], pixels)
    assert not torch.allclose(a.encoder.blocks[0].attn.qkv.weight, b.encoder.blocks[0].attn.qkv.weight)


def test_runs_that_differ_in_shape_or_schedule_are_refused():
    with pytest.raises(ValueError, match="run 1 differs from run 0 in learning_rate"):
        check_compatible([resolve_config(run_config()), resolve_config(run_config(learning_rate=1e-3))])
    with pytest.raises(ValueError, match="model"):
        check_compatible([resolve_config(run_config()), resolve_config(run_config(model={"width": 16}))])
