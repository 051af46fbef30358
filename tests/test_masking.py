"""Masking families: shapes, exact budgets, determinism, contiguity, gap bands, native ratios."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectm.bands import diagnostic_mask, gap_mask, wavelength_grid
from spectm.masking import (
    MASKING_FAMILIES,
    NATIVE_RATIOS,
    correlation_groups,
    group_edges,
    grouped,
    make_mask,
    random_spans,
    span_lengths,
    spectral_slabs,
)

WL = wavelength_grid("paper122")
GAP = torch.from_numpy(gap_mask(WL).values)  # bands 70..78 (590-610 nm)
RANDOM_FAMILIES = ("random", "random_spans", "grouped", "spectral_slabs")


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def block_spectra(sizes=(30, 40, 30, 22), n=400, seed=0) -> np.ndarray:
    """Training spectra whose bands move together in known wavelength blocks; the OCI gap is NaN."""
    rng = np.random.default_rng(seed)
    x = np.repeat(rng.normal(size=(n, len(sizes))), sizes, axis=1) + 0.2 * rng.normal(size=(n, sum(sizes)))
    x[:, GAP.numpy()] = np.nan
    return x


@pytest.fixture(scope="module")
def groups() -> np.ndarray:
    return correlation_groups(block_spectra(), n_groups=6)


def runs(row: torch.Tensor) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D bool tensor."""
    padded = np.concatenate([[0], row.numpy().astype(int), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def test_registry_names_the_five_families():
    assert set(MASKING_FAMILIES) == {"targeted", "random", "random_spans", "grouped", "spectral_slabs"}


@pytest.mark.parametrize("family", list(MASKING_FAMILIES))
def test_shape_dtype_and_matched_budget(family, groups):
    mask = make_mask(family, WL, 7, generator(), groups=groups)
    assert mask.shape == (7, 122) and mask.dtype == torch.bool
    # 28 everywhere; slabs round 28 to whole slabs of 3: 9 slabs = 27 bands.
    expected = 27 if family == "spectral_slabs" else 28
    assert mask.sum(1).tolist() == [expected] * 7


def test_targeted_is_the_diagnostic_set_for_every_sample():
    mask = make_mask("targeted", WL, 4, generator())
    d = torch.from_numpy(diagnostic_mask(WL).values)
    assert int(d.sum()) == 28
    assert torch.equal(mask, d.expand(4, -1))
    # the three windows by hand: 615.0-637.5, 660.0-677.5, 695.0-717.5 nm on the 2.5 nm grid from 415 nm
    expected = list(range(80, 90)) + list(range(98, 106)) + list(range(112, 122))
    assert torch.nonzero(mask[0]).flatten().tolist() == expected
    assert torch.equal(mask, make_mask("targeted", WL, 4, generator(99)))  # no randomness


@pytest.mark.parametrize("family", RANDOM_FAMILIES)
def test_random_families_are_deterministic_per_seed_and_differ_across_samples(family, groups):
    a = make_mask(family, WL, 16, generator(1), groups=groups)
    b = make_mask(family, WL, 16, generator(1), groups=groups)
    c = make_mask(family, WL, 16, generator(2), groups=groups)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert len({tuple(row.tolist()) for row in a}) > 1


@pytest.mark.parametrize("family", RANDOM_FAMILIES)
@pytest.mark.parametrize("native", [False, True])
def test_random_families_never_mask_gap_bands(family, native, groups):
    mask = make_mask(family, WL, 64, generator(3), native_ratio=native, groups=groups)
    assert GAP.sum() == 9
    assert not mask[:, GAP].any()


def test_random_is_roughly_uniform_over_maskable_bands():
    mask = make_mask("random", WL, 4000, generator(4))
    freq = mask.float().mean(0)[~GAP]
    assert torch.allclose(freq, torch.full_like(freq, 28 / 113), atol=0.035)


def test_span_lengths_follow_the_window_sizes():
    assert span_lengths(WL, 28) == [10, 8, 10]
    assert sum(span_lengths(WL, 85)) == 85


def test_spans_are_contiguous_and_made_of_the_window_lengths():
    mask = random_spans(WL, 200, generator(5))
    sums_of_spans = {10, 8, 18, 20, 28}  # adjacent spans may touch and form one run
    for row in mask:
        assert all(length in sums_of_spans for _, length in runs(row))
        assert sum(length for _, length in runs(row)) == 28
    # placements are spread over the spectrum, on both sides of the gap
    assert mask[:, :70].any() and mask[:, 79:].any()


def test_spans_straddling_the_gap_are_rejected():
    # 70 maskable bands left of the gap, 43 right: only 60-left / 40-right is contiguous in wavelength
    mask = random_spans(WL, 50, generator(6), lengths=[60, 40])
    for row in mask:
        assert sorted(length for _, length in runs(row)) == [40, 60]
        assert not row[GAP].any()


def test_slabs_are_aligned_triplets():
    mask = spectral_slabs(WL, 100, generator(7))
    slabs = mask[:, :120].reshape(100, 40, 3)
    assert torch.equal(slabs.all(-1), slabs.any(-1))  # each slab wholly in or out
    assert not mask[:, 120:].any()  # the incomplete last slab is never a candidate


def test_native_ratios():
    n_maskable = 113
    random_mask = make_mask("random", WL, 8, generator(8), native_ratio=True)
    assert random_mask.sum(1).unique().tolist() == [n_maskable - int(n_maskable * 0.25)]  # 85 = 0.75 of 113
    slab_mask = make_mask("spectral_slabs", WL, 8, generator(8), native_ratio=True)
    # 36 candidate slabs (40 complete, 4 touch the gap); keep floor(3.6) = 3, mask 33 of 36 = 0.917
    assert slab_mask.sum(1).unique().tolist() == [33 * 3]
    assert abs(33 / 36 - NATIVE_RATIOS["spectral_slabs"]) < 1 / 36
    assert NATIVE_RATIOS["random"] == 0.75 and NATIVE_RATIOS["spectral_slabs"] == 0.90


def test_correlation_groups_recover_known_blocks_and_respect_the_gap():
    # blocks 0-29, 30-69, 70-99 (gap 70-78 inside), 100-121: four groups, the gap bands labelled -1
    labels = correlation_groups(block_spectra(), n_groups=4)
    assert (labels[GAP.numpy()] == -1).all()
    assert labels.tolist() == [0] * 30 + [1] * 40 + [-1] * 9 + [2] * 21 + [3] * 22
    assert group_edges(labels, WL)[0] == (415.0, 415.0 + 2.5 * 29)


def test_correlation_groups_rejects_too_few_groups_for_the_gap():
    with pytest.raises(ValueError, match="gap"):
        correlation_groups(block_spectra(), n_groups=1)


def test_grouped_masks_whole_groups_except_one_trimmed_run(groups):
    mask = grouped(WL, 50, generator(9), groups)
    labels = torch.from_numpy(groups)
    n_trimmed = 0
    for row in mask:
        partial = [g for g in range(labels.max() + 1) if 0 < row[labels == g].sum() < (labels == g).sum()]
        assert len(partial) <= 1
        if partial:
            assert len(runs(row[labels == partial[0]])) == 1  # the trimmed part is one contiguous run
            n_trimmed += 1
    assert n_trimmed > 0


def test_grouped_whole_overshoots_by_less_than_a_group(groups):
    mask = grouped(WL, 50, generator(10), groups, overshoot="whole")
    largest = np.bincount(groups[groups >= 0]).max()
    assert (mask.sum(1) >= 28).all() and (mask.sum(1) < 28 + largest).all()


def test_grouped_needs_groups():
    with pytest.raises(ValueError, match="correlation_groups"):
        make_mask("grouped", WL, 2, generator())


def test_unknown_family_is_named_in_the_error():
    with pytest.raises(ValueError, match="blockwise"):
        make_mask("blockwise", WL, 2, generator())
