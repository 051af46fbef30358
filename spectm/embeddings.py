"""Frozen embeddings for the downstream models, two ways, and from an encoder that never trained.

- **every band visible** (:func:`frozen_embeddings` with ``masked=False``): what the paper's downstream
  model most likely saw. A targeted encoder never saw the diagnostic bands' values during pretraining,
  so feeding them is out of its training distribution.
- **diagnostic bands masked as in pretraining** (``masked=True``): the encoder gets exactly the inputs it
  was trained on (the targeted mask D, dropped or replaced by the mask token as in training) and the
  embedding pools the visible tokens.
- **untrained** (:func:`untrained_model`): the same architecture and input normalisation with its
  initial random weights: the control that tells what pretraining adds over a random projection of the
  spectrum through the same transformer.
"""

from __future__ import annotations

import numpy as np
import torch

from spectm.bands import diagnostic_mask
from spectm.model import SpecTM


def untrained_model(trained: SpecTM, seed: int = 0) -> SpecTM:
    """A fresh ``SpecTM`` of ``trained``'s configuration and band grid, with the same input normaliser
    (a statistic of the data, not a learned weight) and freshly initialised weights."""
    torch.manual_seed(seed)
    model = SpecTM(trained.config)
    model.normalizer.load_state_dict(trained.normalizer.state_dict())
    model.describe_data(trained.wavelengths, trained.band_grid, trained.index_standardization)
    return model.eval()


@torch.no_grad()
def frozen_embeddings(model: SpecTM, Rrs, masked: bool = False, batch_size: int = 2048) -> np.ndarray:
    """Embeddings (N, D) of spectra ``Rrs`` (N, B) on ``model.wavelengths``.

    ``masked=False``: every observed band enters the encoder. ``masked=True``: the diagnostic bands are
    masked exactly as during targeted pretraining and the embedding pools the visible bands.
    """
    model.eval()
    wavelengths = torch.as_tensor(model.wavelengths, dtype=torch.float32)
    values = torch.as_tensor(np.asarray(Rrs, dtype=np.float32))
    if values.ndim != 2 or values.shape[1] != wavelengths.numel():
        raise ValueError(f"spectra of shape {tuple(values.shape)}: expected (N, {wavelengths.numel()}) on the "
                         "model's band grid")
    mask_row = torch.as_tensor(diagnostic_mask(wavelengths.numpy()).values)
    out = []
    for start in range(0, len(values), batch_size):
        chunk = values[start:start + batch_size]
        if masked:
            out.append(model(chunk, wavelengths, mask_row.expand(len(chunk), -1))["embedding"].numpy())
        else:
            out.append(model.embed(chunk, wavelengths).numpy())
    return np.concatenate(out) if out else np.empty((0, model.config.width), np.float32)
