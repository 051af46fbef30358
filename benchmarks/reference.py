"""The plain way to write the paper's model, the yardstick of ``python -m benchmarks train``.

What a straightforward PyTorch implementation of the paper's description would be: 122 band tokens (value
embedding + learned position per band), masked bands replaced by a mask token *and sent through the encoder*
(SimMIM-like), ``torch.nn.TransformerEncoder`` (6 pre-norm layers, width 256, 8 heads, GELU MLP x4), float32,
linear heads for reconstruction, the 8-day-ahead spectrum and the indices, the same three-part loss. Same
shape and batch as :func:`spectm.model.model_config("paper")`; no light decoder, no dropped tokens, no bf16.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ReferenceModel(nn.Module):
    def __init__(self, n_bands: int = 122, width: int = 256, depth: int = 6, heads: int = 8,
                 mlp_ratio: float = 4.0, n_indices: int = 6):
        super().__init__()
        self.value = nn.Linear(1, width)
        self.position = nn.Embedding(n_bands, width)
        self.mask_token = nn.Parameter(torch.zeros(width))
        layer = nn.TransformerEncoderLayer(width, heads, int(width * mlp_ratio), dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.reconstruction_head = nn.Linear(width, 1)
        self.future_head = nn.Linear(width, 1)
        self.index_head = nn.Linear(width, n_indices)

    def forward(self, values: torch.Tensor, mask: torch.Tensor) -> dict:
        """``values`` (N, B) standardised, 0 where missing; ``mask`` (N, B) bool, True = masked."""
        x = self.value(values.unsqueeze(-1))
        x = torch.where(mask.unsqueeze(-1), self.mask_token, x) + self.position.weight
        h = self.norm(self.encoder(x))
        return {"reconstruction": self.reconstruction_head(h).squeeze(-1),
                "future": self.future_head(h).squeeze(-1),
                "indices": self.index_head(h.mean(1))}


def reference_loss(outputs: dict, batch: dict, mask: torch.Tensor, weights=(1.0, 0.5, 0.3)) -> torch.Tensor:
    """MSE on masked observed bands + index MSE + MSE on observed future bands (standardised units)."""
    scored = mask & batch["observed"]
    reconstruction = F.mse_loss(outputs["reconstruction"][scored], batch["values"][scored])
    indices = F.mse_loss(outputs["indices"], batch["indices"])
    future = batch["future_observed"] & batch["has_future"].unsqueeze(-1)
    temporal = F.mse_loss(outputs["future"][future], batch["future"][future])
    return weights[0] * reconstruction + weights[1] * indices + weights[2] * temporal


def reference_batch(batch: dict, mean: torch.Tensor, std: torch.Tensor) -> dict:
    """The dataset batch standardised per band with NaN set to 0, as the plain model expects."""
    def standardise(x, observed):
        return torch.where(observed, (x.nan_to_num(0.0) - mean) / std, 0.0)

    return {**batch, "values": standardise(batch["values"], batch["observed"]),
            "future": standardise(batch["future"], batch["future_observed"]),
            "indices": batch["indices"].nan_to_num(0.0)}
