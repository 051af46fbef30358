"""FROZEN copy of ``spectm/model.py`` as of commit 55edf43, before the fast paths: the yardstick of the
quick-shape benchmark (``python -m benchmarks train``) and of the tests that the fast paths compute the same
model. Do not edit the model: it must stay as it was (only its sizes are read from :mod:`spectm.profiles`,
the one table of profiles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from spectm.profiles import get_profile


@dataclass
class ModelConfig:
    n_layers: int = 6
    width: int = 256
    n_heads: int = 8
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    n_indices: int = 4  # bio-optical indices predicted from the pooled embedding
    n_bands: int = 122  # size of the Normalizer's per-band statistics (the model grid)
    n_wavelength_frequencies: int = 32  # sin/cos pairs of the wavelength embedding
    decoder_width: int = 192
    decoder_depth: int = 2  # light: the encoder is what downstream uses; 2 x 192 keeps the paper size near 6M
    decoder_heads: int = 6
    encoder_sees_mask_tokens: bool = False  # True: SimMIM-like; False: MAE-style drop + decoder
    loss_weights: tuple[float, float, float] = (1.0, 0.5, 0.3)  # reconstruction, indices, temporal


def model_config(profile: str = "paper", **overrides) -> ModelConfig:
    """The ``model`` section of a profile of :mod:`spectm.profiles` (the code is frozen, not the sizes)."""
    return ModelConfig(**{**get_profile(profile)["model"], **overrides})


class Normalizer(nn.Module):
    """Per-band mean and std of the training split, kept as buffers so they travel in the ``state_dict``.

    Until :meth:`fit` is called it is the identity. Bands with no finite training value (the OCI gap) keep
    mean 0, std 1; they are never observed, so their statistics never matter.
    """

    def __init__(self, n_bands: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_bands))
        self.register_buffer("std", torch.ones(n_bands))

    @torch.no_grad()
    def fit(self, spectra: torch.Tensor, min_std: float = 1e-8) -> Normalizer:
        """NaN-aware statistics of a ``(n_samples, B)`` training array, computed once."""
        x = torch.as_tensor(spectra, dtype=torch.float64)
        finite = torch.isfinite(x)
        count = finite.sum(0)
        mean = torch.where(finite, x, 0).sum(0) / count.clamp(min=1)
        var = torch.where(finite, x - mean, 0).pow(2).sum(0) / (count - 1).clamp(min=1)
        self.mean.copy_(torch.where(count > 0, mean, 0.0))
        self.std.copy_(torch.where(count > 1, var.sqrt().clamp(min=min_std), 1.0))
        return self

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return (values - self.mean) / self.std

    def inverse(self, values: torch.Tensor) -> torch.Tensor:
        return values * self.std + self.mean


class WavelengthEmbedding(nn.Module):
    """Sin/cos features of the wavelength (nm) at periods from 2 nm to 2000 nm, then a linear layer.

    Computed from the value, not looked up in a table, so a new band grid needs no retraining of positions.
    The shortest period resolves the 2.5 nm band spacing; the longest varies smoothly across the spectrum.
    """

    def __init__(self, width: int, n_frequencies: int = 32):
        super().__init__()
        periods = torch.logspace(math.log10(2.0), math.log10(2000.0), n_frequencies)
        self.register_buffer("angular", 2 * math.pi / periods, persistent=False)
        self.proj = nn.Linear(2 * n_frequencies, width)

    def forward(self, wavelengths: torch.Tensor) -> torch.Tensor:  # (..., B) nm -> (..., B, D)
        phase = wavelengths.unsqueeze(-1) * self.angular
        return self.proj(torch.cat([phase.sin(), phase.cos()], dim=-1))


class BandTokenizer(nn.Module):
    """One token per band: value embedding (visible), ``mask_token`` (masked) or ``no_observation_token``
    (missing), plus the band's wavelength embedding."""

    def __init__(self, width: int, n_frequencies: int):
        super().__init__()
        self.value = nn.Linear(1, width)
        self.wavelength = WavelengthEmbedding(width, n_frequencies)
        self.mask_token = nn.Parameter(torch.zeros(width))
        self.no_observation_token = nn.Parameter(torch.zeros(width))

    def forward(self, values, wavelengths, mask, observed):  # (N, B) each -> (N, B, D)
        tokens = self.value(values.unsqueeze(-1))
        tokens = torch.where(mask.unsqueeze(-1), self.mask_token, tokens)
        tokens = torch.where(observed.unsqueeze(-1), tokens, self.no_observation_token)
        return tokens + self.wavelength(wavelengths)


class Attention(nn.Module):
    def __init__(self, width: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if width % n_heads:
            raise ValueError(f"width {width} must be divisible by n_heads {n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_valid: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (N, L, D); ``key_valid`` (N, L) bool, False for padding that no token may attend to."""
        n, length, width = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        attn_mask = None if key_valid is None else key_valid[:, None, None, :]
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(n, length, width)))


class MLP(nn.Sequential):
    def __init__(self, width: int, mlp_ratio: float, dropout: float):
        hidden = int(width * mlp_ratio)
        super().__init__(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width), nn.Dropout(dropout))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, width: int, n_heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(width), Attention(width, n_heads, dropout)
        self.norm2, self.mlp = nn.LayerNorm(width), MLP(width, mlp_ratio, dropout)

    def forward(self, x, key_valid=None):
        x = x + self.attn(self.norm1(x), key_valid)
        return x + self.mlp(self.norm2(x))


class Encoder(nn.Module):
    def __init__(self, depth: int, width: int, n_heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList([Block(width, n_heads, mlp_ratio, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)

    def forward(self, x, key_valid=None):
        for block in self.blocks:
            x = block(x, key_valid)
        return self.norm(x)


class Decoder(nn.Module):
    """Light decoder over all B bands: projects encoder tokens, re-inserts its own mask token where the
    encoder dropped bands, adds its own wavelength embedding and predicts per band (now and 8 days ahead)."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.embed = nn.Linear(c.width, c.decoder_width)
        self.mask_token = nn.Parameter(torch.zeros(c.decoder_width))
        self.wavelength = WavelengthEmbedding(c.decoder_width, c.n_wavelength_frequencies)
        self.body = Encoder(c.decoder_depth, c.decoder_width, c.decoder_heads, c.mlp_ratio, c.dropout)
        self.reconstruction_head = nn.Linear(c.decoder_width, 1)
        self.future_head = nn.Linear(c.decoder_width, 1)

    def forward(self, encoded, wavelengths, keep_ids=None, key_valid=None):
        """``encoded`` (N, L, D); ``keep_ids`` (N, L) band index of each encoder token when bands were
        dropped (None: L = B in band order). Returns reconstruction and future, each (N, B)."""
        x = self.embed(encoded)
        if keep_ids is not None:
            x = torch.where(key_valid.unsqueeze(-1), x, self.mask_token)  # padding slots hold dropped bands
            full = self.mask_token.expand(x.shape[0], wavelengths.shape[-1], -1)
            x = full.scatter(1, keep_ids.unsqueeze(-1).expand_as(x), x)
        x = self.body(x + self.wavelength(wavelengths))
        return self.reconstruction_head(x).squeeze(-1), self.future_head(x).squeeze(-1)


def masked_mean(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (N, L, D) over tokens where ``weight`` (N, L) is True; zeros for an empty row."""
    weight = weight.unsqueeze(-1).to(x.dtype)
    return (x * weight).sum(1) / weight.sum(1).clamp(min=1)


class SpecTM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        c = self.config = config
        self.normalizer = Normalizer(c.n_bands)
        self.tokenizer = BandTokenizer(c.width, c.n_wavelength_frequencies)
        self.encoder = Encoder(c.n_layers, c.width, c.n_heads, c.mlp_ratio, c.dropout)
        self.decoder = Decoder(c)
        self.index_head = nn.Linear(c.width, c.n_indices)
        self.apply(self._init_weights)
        tokenizer = self.tokenizer
        for token in (tokenizer.mask_token, tokenizer.no_observation_token, self.decoder.mask_token):
            nn.init.normal_(token, std=0.02)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def _inputs(self, values, wavelengths, observed):
        """Observed flags (finite and not excluded), normalised values with 0 at missing bands, and the
        wavelengths broadcast to (N, B)."""
        finite = torch.isfinite(values)
        observed = finite if observed is None else finite & observed.bool()
        x = torch.where(observed, self.normalizer(values.nan_to_num(0.0)), 0.0)
        wavelengths = torch.as_tensor(wavelengths, dtype=x.dtype, device=x.device).expand_as(x)
        return x, wavelengths, observed

    def forward(self, values, wavelengths, mask, observed=None) -> dict:
        """``values`` (N, B) in physical units (NaN = missing); ``wavelengths`` (B,) or (N, B) nm; ``mask``
        (N, B) bool, True = masked; ``observed`` optional (N, B) bool.

        Returns ``reconstruction`` and ``future`` (N, B) in physical units, ``indices`` (N, n_indices),
        ``embedding`` (N, D) pooled over visible observed bands, and ``mask``/``observed``/``band_scale`` for
        :func:`spectm_loss`.
        """
        x, wavelengths, observed = self._inputs(values, wavelengths, observed)
        mask = mask.bool() & observed  # a missing band is a no-observation token, masked or not
        tokens = self.tokenizer(x, wavelengths, mask, observed)
        if self.config.encoder_sees_mask_tokens:
            encoded = self.encoder(tokens)
            embedding = masked_mean(encoded, observed & ~mask)
            recon, future = self.decoder(encoded, wavelengths)
        else:  # drop masked bands: visible ones first in band order, padded to the longest row
            keep_ids = torch.argsort(mask.to(torch.uint8), dim=1, stable=True)[:, : int((~mask).sum(1).max())]
            key_valid = ~mask.gather(1, keep_ids)
            key_valid[:, 0] |= ~key_valid.any(1)  # a fully masked row still needs one key to attend to
            encoded = self.encoder(tokens.gather(1, keep_ids.unsqueeze(-1).expand(-1, -1, tokens.shape[-1])),
                                   key_valid)
            embedding = masked_mean(encoded, key_valid & observed.gather(1, keep_ids))
            recon, future = self.decoder(encoded, wavelengths, keep_ids, key_valid)
        return {
            "reconstruction": self.normalizer.inverse(recon),
            "future": self.normalizer.inverse(future),
            "indices": self.index_head(embedding),
            "embedding": embedding,
            "mask": mask,
            "observed": observed,
            "band_scale": self.normalizer.std,
        }

    @torch.no_grad()
    def embed(self, values, wavelengths, observed=None) -> torch.Tensor:
        """Frozen downstream features (N, D): the encoder sees every observed band, none masked; missing
        bands enter as the no-observation token. Call ``model.eval()`` first for deterministic features."""
        x, wavelengths, observed = self._inputs(values, wavelengths, observed)
        no_mask = torch.zeros_like(observed)
        encoded = self.encoder(self.tokenizer(x, wavelengths, no_mask, observed))
        return masked_mean(encoded, observed)


def spectm_loss(outputs: dict, batch: dict, weights=(1.0, 0.5, 0.3)) -> tuple[torch.Tensor, dict]:
    """``w_r * reconstruction + w_i * indices + w_t * temporal``, each an MSE in normalised units.

    * reconstruction: over bands both masked and observed (MAE ``forward_loss``), errors divided by the
      training std of the band (``outputs["band_scale"]``) so that every band weighs alike;
    * indices: over finite entries of ``batch["indices"]`` (N, n_indices), if present;
    * temporal: over bands of ``batch["future"]`` (N, B) that are finite (and ``batch["future_observed"]``)
      in samples with ``batch["has_future"]`` (N,) True; zero when no pair exists.
    """
    scale, zero = outputs["band_scale"], outputs["reconstruction"].new_zeros(())

    def mse(pred, target, where):
        where = where & torch.isfinite(target)
        err = torch.where(where, pred - target.nan_to_num(0.0), 0.0)
        return err.pow(2).sum() / where.sum().clamp(min=1)

    target = batch["values"]
    parts = {"reconstruction": mse(outputs["reconstruction"] / scale, target / scale,
                                   outputs["mask"] & outputs["observed"])}
    indices = batch.get("indices")
    if indices is None:
        parts["indices"] = zero
    else:
        parts["indices"] = mse(outputs["indices"], indices, torch.ones_like(indices, dtype=torch.bool))
    future = batch.get("future")
    if future is None:
        parts["temporal"] = zero
    else:
        where = batch.get("future_observed", torch.ones_like(future).bool()).bool()
        where = where & batch["has_future"].bool().unsqueeze(-1)
        parts["temporal"] = mse(outputs["future"] / scale, future / scale, where)
    total = sum(w * parts[name] for w, name in zip(weights, ("reconstruction", "indices", "temporal")))
    return total, parts


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters (buffers such as the Normalizer statistics are not parameters, so not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
