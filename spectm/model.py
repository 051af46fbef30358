"""SpecTM's band-token transformer: one token per band, positioned by its wavelength in nm.

Read top to bottom: config -> normaliser -> wavelength embedding -> tokenizer -> attention / block / encoder
-> decoder -> heads -> :class:`SpecTM` -> :func:`spectm_loss`. Shapes: ``N`` pixels, ``B`` bands, ``D`` width.

Two ways to treat masked bands (``ModelConfig.encoder_sees_mask_tokens``):

* ``True`` (SimMIM-like): a masked band enters the encoder as a learned mask token;
* ``False`` (MAE-like): masked bands are dropped from the encoder (shorter sequences, key padding when samples
  drop different counts) and a light decoder re-inserts mask tokens.

The decoder exists in both modes, so the two differ only in what the encoder sees. Bands a pixel lacks (NaN,
the OCI gap, or ``observed=False``) always enter as a learned no-observation token and are never scored.

Fast paths (same parameters, same function up to float rounding; ``tests/test_model_fast.py`` compares them
with the frozen earlier code): when every row masks the same bands (targeted masking) the drop mode tokenizes
only the kept bands and runs the decoder in kept-then-masked order, with no per-row gather, padding or
scatter; a shared ``(B,)`` wavelength grid is embedded once; short bf16 sequences on the CPU use
matmul-softmax attention instead of SDPA's CPU flash kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


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
    """Named sizes: ``quick`` (CPU minutes, ~0.1M parameters) and ``paper`` (6 layers, width 256, ~6M)."""
    profiles = {
        "quick": dict(n_layers=2, width=64, n_heads=4, decoder_width=64, decoder_depth=1, decoder_heads=4,
                      n_wavelength_frequencies=16),
        "paper": dict(),
    }
    profiles["study"] = profiles["quick"]  # the study profile is quick's model with a larger fair test
    if profile not in profiles:
        raise ValueError(f"unknown model profile {profile!r}: expected one of {', '.join(profiles)}")
    return ModelConfig(**{**profiles[profile], **overrides})


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


#: Longest sequence for which bf16 CPU attention takes the plain matmul-softmax path: at SpecTM's lengths
#: (<= 122 band tokens) its (L, L) score matrix is small, and measured here (AVX512-BF16, head width 32) it
#: ran 1.7-2.7x faster than SDPA's CPU flash kernel in bf16. In float32 the flash kernel was faster (head
#: width 16: 1.8x), so float32 keeps it.
MATMUL_ATTENTION_MAX_LENGTH = 256


def use_matmul_attention(q: torch.Tensor, dropout: float) -> bool:
    """True for short bf16/fp16 sequences on the CPU without dropout (see MATMUL_ATTENTION_MAX_LENGTH)."""
    return (q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16) and dropout == 0.0
            and q.shape[-2] <= MATMUL_ATTENTION_MAX_LENGTH)


def matmul_attention(q, k, v, key_valid=None):
    """``softmax(q k^T / sqrt(d)) v`` written out; ``q, k, v`` (N, H, L, d); ``key_valid`` (N, L) or None.

    The same function as :func:`torch.nn.functional.scaled_dot_product_attention` (no dropout), up to float
    rounding. A row always has a valid key (the caller keeps one), so no softmax row is all ``-inf``."""
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    if key_valid is not None:
        scores = scores.masked_fill(~key_valid[:, None, None, :], float("-inf"))
    return scores.softmax(-1) @ v


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
        dropout = self.dropout if self.training else 0.0
        if use_matmul_attention(q, dropout):
            x = matmul_attention(q, k, v, key_valid)
        else:
            attn_mask = None if key_valid is None else key_valid[:, None, None, :]
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
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
        dropped (None: L = B in band order); ``wavelengths`` (B,) or (N, B). Returns reconstruction and
        future, each (N, B)."""
        x = self.embed(encoded)
        if keep_ids is not None:
            x = torch.where(key_valid.unsqueeze(-1), x, self.mask_token)  # padding slots hold dropped bands
            full = self.mask_token.expand(x.shape[0], wavelengths.shape[-1], -1)
            x = full.scatter(1, keep_ids.unsqueeze(-1).expand_as(x), x)
        return self._predict(x, wavelengths)

    def forward_shared(self, encoded, wavelengths, order):
        """:meth:`forward` when every row dropped the same bands: ``order`` (B,) lists the L kept bands (the
        encoder's tokens) then the dropped ones. The body runs in that order, mask tokens appended, since
        attention and the per-token layers do not depend on token order (the wavelength embedding travels
        with each token); only the (N, B) predictions are put back in band order."""
        x = self.embed(encoded)
        x = x.to(torch.promote_types(x.dtype, self.mask_token.dtype))  # as the general path's scatter
        fill = self.mask_token.expand(x.shape[0], order.numel() - x.shape[1], -1)
        recon, future = self._predict(torch.cat([x, fill], dim=1), wavelengths.index_select(-1, order))
        restore = torch.argsort(order)
        return recon.index_select(1, restore), future.index_select(1, restore)

    def _predict(self, x, wavelengths):
        x = self.body(x + self.wavelength(wavelengths))
        return self.reconstruction_head(x).squeeze(-1), self.future_head(x).squeeze(-1)


def masked_mean(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (N, L, D) over tokens where ``weight`` (N, L) is True; zeros for an empty row."""
    weight = weight.unsqueeze(-1).to(x.dtype)
    return (x * weight).sum(1) / weight.sum(1).clamp(min=1)


def shared_band_order(mask: torch.Tensor) -> tuple[torch.Tensor, int] | None:
    """When every row of ``mask`` (N, B) hides the same bands and keeps at least one (targeted masking):
    the (B,) band order kept-then-masked, each part in band order, and the number kept; else None. Then
    the encoder needs no per-row gather, key padding or scatter. One host sync."""
    if mask.shape[0] == 0 or not bool((mask == mask[:1]).all()):
        return None
    n_kept = int((~mask[0]).sum())
    return (torch.argsort(mask[0].to(torch.uint8), stable=True), n_kept) if n_kept else None


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
        wavelengths = torch.as_tensor(wavelengths, dtype=x.dtype, device=x.device)
        if wavelengths.dim() > 1:  # per-pixel grids; a shared (B,) grid is embedded once and broadcast
            wavelengths = wavelengths.expand_as(x)
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
        if self.config.encoder_sees_mask_tokens:
            encoded = self.encoder(self.tokenizer(x, wavelengths, mask, observed))
            embedding = masked_mean(encoded, observed & ~mask)
            recon, future = self.decoder(encoded, wavelengths)
        elif (shared := shared_band_order(mask)) is not None:  # targeted masking: one layout for every row
            encoded, embedding, recon, future = self._forward_shared(x, wavelengths, mask, observed, *shared)
        else:  # drop masked bands: visible ones first in band order, padded to the longest row
            tokens = self.tokenizer(x, wavelengths, mask, observed)
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

    def _forward_shared(self, x, wavelengths, mask, observed, order, n_kept: int):
        """The drop path for a mask shared by all rows: only the kept bands are tokenized (tokens are per
        band, so this equals tokenizing all and selecting), then the encoder and
        :meth:`Decoder.forward_shared`."""
        keep = order[:n_kept]
        tokens = self.tokenizer(x.index_select(1, keep), wavelengths.index_select(-1, keep),
                                mask.index_select(1, keep), observed.index_select(1, keep))
        encoded = self.encoder(tokens)
        embedding = masked_mean(encoded, observed.index_select(1, keep))
        return (encoded, embedding, *self.decoder.forward_shared(encoded, wavelengths, order))

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
