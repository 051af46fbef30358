"""Which band tokens a pretraining step hides: SpecTM's targeted mask and the baselines it is compared with.

Every family is a pure function ``(wavelengths, batch_size, generator, ...) -> mask`` returning a bool
tensor of shape ``(batch_size, n_bands)`` with ``True`` = masked (the MAE convention). The model decides
what a masked band becomes (a mask token, or dropped from the encoder); the masking knows nothing of it.

Families (He et al. 2022, MAE; Cong et al. 2022, SatMAE; Hong et al. 2024, SpectralGPT; Faruk et al.
2025, TerraMAE):

* ``targeted``: SpecTM, ``m_b = 1[b in D]``; the same for every sample and step, no randomness.
* ``random``: MAE's per-sample uniform masking (argsort of U(0, 1) noise).
* ``random_spans``: the same count in contiguous spans placed at random; it separates the physics prior of
  ``targeted`` from mere contiguity.
* ``grouped``: TerraMAE-like; whole data-driven band groups (:func:`correlation_groups`) at random.
* ``spectral_slabs``: SpectralGPT reduced to one pixel; aligned slabs of 3 adjacent bands at random.

Budgets. By default every family masks the same number of bands, ``budget`` = 28 = |D| on the model grid,
so "targeted versus random" compares where bands are hidden, not how many. With ``native_ratio=True`` each
family uses its own paper's ratio instead (:data:`NATIVE_RATIOS`), counted MAE-style as
``L - floor(L * (1 - ratio))`` of its ``L`` maskable tokens.

Gap bands. Bands that OCI never observes (:func:`spectm.bands.gap_mask`, 590-610 nm on ``paper122``) are
never candidates for the random families: masking them would spend budget on bands that are never scored,
so a "28-band" random mask would hide fewer real bands than the targeted one. ``targeted`` needs no rule
(D and the gap are disjoint), and the ratios above count maskable (non-gap) tokens only.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import xarray as xr

from spectm.bands import DIAGNOSTIC_WINDOWS, as_wavelengths, diagnostic_mask, gap_mask, window_name

#: Masked bands per sample in the matched-budget comparison: |D| on the paper122 grid.
DEFAULT_BUDGET = 28

#: Band width of a SpectralGPT token (its Conv3d ``t_patch_size``).
SLAB_SIZE = 3

#: Each family's own mask ratio, of its maskable tokens. MAE, SatMAE and Prithvi use 0.75 and SpectralGPT
#: 0.90; TerraMAE's ratio is not public, so ``grouped`` takes MAE's 0.75; ``random_spans`` is a control for
#: ``random`` and follows it. ``targeted`` has no ratio: its native mask is D.
NATIVE_RATIOS = {"random": 0.75, "random_spans": 0.75, "grouped": 0.75, "spectral_slabs": 0.90}


def maskable_bands(wavelengths) -> np.ndarray:
    """Bool per band: True where a random family may mask it (every band except the OCI gap)."""
    return ~gap_mask(as_wavelengths(wavelengths)).values


def native_count(n_tokens: int, ratio: float) -> int:
    """MAE's count of masked tokens at ``ratio``: ``L - floor(L * (1 - ratio))``."""
    return n_tokens - int(n_tokens * (1.0 - ratio))


def _check_budget(budget: int, available: int, family: str) -> None:
    if not 0 <= budget <= available:
        raise ValueError(f"{family} masking: budget {budget} must lie in [0, {available}] maskable bands")


def _smallest_k(noise: torch.Tensor, k: int) -> torch.Tensor:
    """0/1 per column: 1 for the ``k`` smallest noise values of each row (MAE's shuffle and un-shuffle)."""
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    shuffled = torch.zeros_like(noise, dtype=torch.bool)
    shuffled[:, :k] = True
    return torch.gather(shuffled, 1, ids_restore)


def targeted(wavelengths, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """SpecTM: mask exactly the diagnostic bands D, identically for every sample (``generator`` is unused)."""
    d = torch.from_numpy(diagnostic_mask(as_wavelengths(wavelengths)).values)
    if generator is not None:
        d = d.to(generator.device)
    return d.unsqueeze(0).expand(batch_size, -1).clone()


def random(
    wavelengths, batch_size: int, generator: torch.Generator, budget: int = DEFAULT_BUDGET
) -> torch.Tensor:
    """MAE random masking: ``budget`` maskable bands per sample, uniformly, independently per sample."""
    allowed = torch.from_numpy(maskable_bands(wavelengths)).to(generator.device)
    _check_budget(budget, int(allowed.sum()), "random")
    noise = torch.rand(batch_size, allowed.numel(), generator=generator, device=generator.device)
    noise = noise.masked_fill(~allowed, 2.0)  # above every U(0, 1) draw: gap bands sort last, never masked
    return _smallest_k(noise, budget)


def span_lengths(wavelengths, budget: int = DEFAULT_BUDGET) -> list[int]:
    """Span lengths for ``random_spans``: the sizes of the diagnostic windows on this grid (10, 8, 10 on
    paper122), scaled to sum to ``budget`` by largest-remainder rounding."""
    windows = window_name(as_wavelengths(wavelengths)).values
    sizes = np.array([(windows == name).sum() for name in DIAGNOSTIC_WINDOWS], dtype=float)
    sizes = sizes[sizes > 0] if sizes.sum() > 0 else np.ones(1)
    exact = budget * sizes / sizes.sum()
    lengths = np.floor(exact).astype(int)
    lengths[np.argsort(lengths - exact)[: budget - lengths.sum()]] += 1
    return [int(n) for n in lengths if n > 0]


def random_spans(
    wavelengths,
    batch_size: int,
    generator: torch.Generator,
    budget: int = DEFAULT_BUDGET,
    lengths: list[int] | None = None,
    max_tries: int = 1000,
) -> torch.Tensor:
    """``budget`` bands in contiguous spans (default :func:`span_lengths`) at random, non-overlapping places.

    Spans are placed uniformly among the maskable bands (free cells and spans arranged in random order,
    the span order permuted per sample); a placement whose span would straddle the OCI gap is not contiguous
    in wavelength and is drawn again (rejection keeps the placement uniform over the valid ones).
    """
    allowed = maskable_bands(wavelengths)
    lengths = span_lengths(wavelengths, budget) if lengths is None else list(lengths)
    _check_budget(sum(lengths), int(allowed.sum()), "random_spans")
    device = generator.device
    bands = torch.from_numpy(np.flatnonzero(allowed)).to(device)  # band index of each maskable cell
    n_cells, n_spans, free = bands.numel(), len(lengths), int(allowed.sum()) - sum(lengths)
    span_len = torch.tensor(lengths, device=device)
    out = torch.zeros(batch_size, allowed.size, dtype=torch.bool, device=device)
    todo = torch.arange(batch_size, device=device)
    for _ in range(max_tries):
        n = todo.numel()
        # Arrange `free` empty cells and `n_spans` blocks in a row: the blocks take random slots, in order.
        slots = torch.rand(n, free + n_spans, generator=generator, device=device).argsort(1)[:, :n_spans]
        slots = slots.sort(1).values
        order = torch.rand(n, n_spans, generator=generator, device=device).argsort(1)
        length = span_len[order]
        start = slots - torch.arange(n_spans, device=device) + length.cumsum(1) - length
        cell = torch.arange(n_cells, device=device)
        in_span = (cell >= start[..., None]) & (cell < (start + length)[..., None])  # (n, spans, cells)
        first, last = bands[start], bands[(start + length - 1).clamp(max=n_cells - 1)]
        contiguous = ((last - first) == (length - 1)).all(1)
        rows = todo[contiguous]
        out[rows.unsqueeze(1), bands.unsqueeze(0)] = in_span[contiguous].any(1)
        todo = todo[~contiguous]
        if todo.numel() == 0:
            return out
    raise RuntimeError(f"random_spans: no gap-free placement of spans {lengths} found in {max_tries} draws")


def correlation_groups(spectra, n_groups: int) -> np.ndarray:
    """Contiguous band groups by correlation on a training array ``(n_samples, n_bands)``: the TerraMAE-like
    grouping (its exact algorithm is not public).

    Pearson correlation over pairwise-complete samples (NaN-aware); then contiguity-constrained agglomerative
    clustering: starting from one group per band, merge the pair of wavelength-adjacent groups with the
    highest mean |rho| until ``n_groups`` remain. Bands without any finite value (the OCI gap) get label -1
    and split the spectrum: no group spans them. Returns an int label per band, groups numbered by
    wavelength.
    """
    x = np.asarray(spectra.values if isinstance(spectra, xr.DataArray) else spectra, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"correlation_groups: spectra must be (n_samples, n_bands), got shape {x.shape}")
    finite = np.isfinite(x)
    count = finite.sum(0)
    observed = count >= 2
    x = np.where(finite, x, 0.0)
    x = np.where(finite, x - x.sum(0) / np.maximum(count, 1), 0.0)  # centred: better conditioned sums
    f = finite.astype(np.float64)
    n = f.T @ f  # samples shared by bands i and j
    with np.errstate(invalid="ignore", divide="ignore"):
        sx = (x.T @ f) / n  # mean of band i over the samples where j is finite
        cov = (x.T @ x) / n - sx * sx.T
        var = ((x * x).T @ f) / n - sx**2
        rho = np.abs(cov / np.sqrt(var * var.T))
    rho = np.nan_to_num(rho, nan=0.0)

    # Runs of observed bands; each run starts as one group per band.
    groups = [[b] for b in np.flatnonzero(observed)]
    segment = np.cumsum(~observed)  # bands separated by an unobserved band carry different values
    if not 1 <= n_groups <= len(groups):
        raise ValueError(f"correlation_groups: n_groups={n_groups} must lie in [1, {len(groups)}]")
    while len(groups) > n_groups:
        scores = [
            rho[np.ix_(a, b)].mean() if segment[a[-1]] == segment[b[0]] else -np.inf
            for a, b in zip(groups[:-1], groups[1:])
        ]
        best = int(np.argmax(scores))
        if scores[best] == -np.inf:
            raise ValueError(f"correlation_groups: the gap splits the spectrum into > {n_groups} groups")
        groups[best : best + 2] = [groups[best] + groups[best + 1]]
    labels = np.full(x.shape[1], -1, dtype=np.int64)
    for label, members in enumerate(groups):
        labels[members] = label
    return labels


def group_edges(groups, wavelengths) -> list[tuple[float, float]]:
    """The (first, last) wavelength in nm of every group, for reporting the data-driven grouping."""
    groups, wl = np.asarray(groups), as_wavelengths(wavelengths)
    return [(float(wl[groups == g].min()), float(wl[groups == g].max())) for g in range(groups.max() + 1)]


def grouped(
    wavelengths,
    batch_size: int,
    generator: torch.Generator,
    groups,
    budget: int = DEFAULT_BUDGET,
    overshoot: str = "trim",
) -> torch.Tensor:
    """Mask whole groups (labels from :func:`correlation_groups`, -1 = never masked) in random order until
    ``budget`` bands are masked.

    The group that crosses the budget is handled by ``overshoot``: ``"trim"`` (default) masks only a
    contiguous run of it, at a random offset, so every sample masks exactly ``budget`` bands like the other
    families; ``"whole"`` masks it entirely, so a sample masks between ``budget`` and
    ``budget + largest group - 1`` bands.
    """
    if overshoot not in ("trim", "whole"):
        raise ValueError(f"grouped masking: overshoot must be 'trim' or 'whole', got {overshoot!r}")
    device = generator.device
    labels = torch.as_tensor(np.asarray(groups), dtype=torch.long, device=device)
    n_bands = as_wavelengths(wavelengths).size
    if labels.numel() != n_bands:
        raise ValueError(f"grouped masking: {labels.numel()} group labels for {n_bands} bands")
    labels = labels.masked_fill(~torch.from_numpy(maskable_bands(wavelengths)).to(device), -1)
    n_groups = int(labels.max()) + 1
    member = labels >= 0
    sizes = torch.bincount(labels[member], minlength=n_groups)
    _check_budget(budget, int(sizes.sum()), "grouped")
    # Rank of each band inside its group, for masking part of the crossing group.
    rank = torch.zeros_like(labels)
    for g in range(n_groups):
        rank[labels == g] = torch.arange(int(sizes[g]), device=device)

    order = torch.rand(batch_size, n_groups, generator=generator, device=device).argsort(1)
    cum = sizes[order].cumsum(1)
    before = cum - sizes[order]
    take = torch.where(before < budget, (budget - before).clamp(max=sizes[order]), 0)  # bands taken per group
    if overshoot == "whole":
        take = torch.where(take > 0, sizes[order], 0)
    taken = torch.zeros_like(take).scatter(1, order, take)  # (batch, group), back in group order
    spare = (sizes - taken).clamp(min=0)
    draw = torch.rand(batch_size, n_groups, generator=generator, device=device)
    offset = (draw * (spare + 1)).floor().long()
    safe = labels.clamp(min=0)
    lo = offset[:, safe]
    return member & (rank >= lo) & (rank < lo + taken[:, safe])


def spectral_slabs(
    wavelengths,
    batch_size: int,
    generator: torch.Generator,
    budget: int = DEFAULT_BUDGET,
    ratio: float | None = None,
) -> torch.Tensor:
    """SpectralGPT on one pixel: aligned slabs of :data:`SLAB_SIZE` adjacent bands, masked at random.

    Slabs are aligned to band 0 (bands 0-2, 3-5, ...). A slab is a candidate only if it is complete and
    holds no gap band (on paper122: 36 of 40 slabs; the last 2 bands and the slabs touching the gap are never
    masked). The budget is rounded to the nearest whole slab: 28 bands -> 9 slabs = 27 bands. With
    ``ratio`` the count is MAE's ``native_count`` of the candidate slabs instead.
    """
    allowed = maskable_bands(wavelengths)
    n_slabs = allowed.size // SLAB_SIZE
    slab_ok = allowed[: n_slabs * SLAB_SIZE].reshape(n_slabs, SLAB_SIZE).all(1)
    if ratio is None:
        k = int(np.floor(budget / SLAB_SIZE + 0.5))
    else:
        k = native_count(int(slab_ok.sum()), ratio)
    _check_budget(k * SLAB_SIZE, int(slab_ok.sum()) * SLAB_SIZE, "spectral_slabs")
    device = generator.device
    noise = torch.rand(batch_size, n_slabs, generator=generator, device=device)
    noise = noise.masked_fill(~torch.from_numpy(slab_ok).to(device), 2.0)
    slabs = _smallest_k(noise, k).repeat_interleave(SLAB_SIZE, dim=1)
    tail = torch.zeros(batch_size, allowed.size - slabs.shape[1], dtype=torch.bool, device=device)
    return torch.cat([slabs, tail], dim=1)


#: Family name -> masking function.
MASKING_FAMILIES: dict[str, Callable[..., torch.Tensor]] = {
    "targeted": targeted,
    "random": random,
    "random_spans": random_spans,
    "grouped": grouped,
    "spectral_slabs": spectral_slabs,
}


def make_mask(
    family: str,
    wavelengths,
    batch_size: int,
    generator: torch.Generator,
    budget: int = DEFAULT_BUDGET,
    native_ratio: bool = False,
    groups=None,
) -> torch.Tensor:
    """A ``(batch_size, n_bands)`` bool mask (True = masked) from the named family.

    ``budget`` is the matched number of masked bands (ignored by ``targeted``, whose count is |D|); with
    ``native_ratio`` each family uses :data:`NATIVE_RATIOS` of its maskable tokens instead. ``grouped``
    needs ``groups`` from :func:`correlation_groups` on the training split.
    """
    if family not in MASKING_FAMILIES:
        raise ValueError(f"unknown masking family {family!r}: expected one of {', '.join(MASKING_FAMILIES)}")
    if family == "targeted":
        return targeted(wavelengths, batch_size, generator)
    if family == "spectral_slabs":
        ratio = NATIVE_RATIOS[family] if native_ratio else None
        return spectral_slabs(wavelengths, batch_size, generator, budget=budget, ratio=ratio)
    if native_ratio:
        budget = native_count(int(maskable_bands(wavelengths).sum()), NATIVE_RATIOS[family])
    if family == "grouped":
        if groups is None:
            raise ValueError("grouped masking needs groups=correlation_groups(training_spectra, n_groups)")
        return grouped(wavelengths, batch_size, generator, groups, budget=budget)
    return MASKING_FAMILIES[family](wavelengths, batch_size, generator, budget=budget)
