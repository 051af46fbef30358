"""Pixel datasets: item contents, index targets from the unmasked spectrum, the date split, synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectm.bands import diagnostic_mask, gap_mask, wavelength_grid
from spectm.datasets import (INDEX_NAMES, PixelSpectra, index_targets, load_pixel_table,
                             split_by_date, synthetic_spectra)
from spectm.model import nan_mean_std

WL = wavelength_grid("paper122").values


def band(rrs, nm):
    return rrs[:, int(np.flatnonzero(np.isclose(WL, nm))[0])]


@pytest.fixture(scope="module")
def table():
    return synthetic_spectra(200, seed=3)


def test_items_are_dicts_of_tensors_with_missing_bands_unobserved(table):
    pixels = PixelSpectra(table["Rrs"], table["time"], table["future"])
    item = pixels[7]
    assert set(item) == {"values", "observed", "future", "future_observed", "has_future", "indices"}
    assert item["values"].shape == (122,) and item["values"].dtype == torch.float32
    assert item["indices"].shape == (len(INDEX_NAMES),)
    gap = torch.from_numpy(gap_mask(WL).values)
    assert not item["observed"][gap].any() and item["observed"][~gap].all()
    has = torch.from_numpy(np.isfinite(table["future"]).any(1))
    assert torch.equal(pixels.has_future, has) and 0 < has.sum() < len(pixels)
    batch = pixels[torch.tensor([0, 5, 9])]
    assert batch["values"].shape == (3, 122)
    torch.testing.assert_close(batch["values"][1], pixels[5]["values"], rtol=0, atol=0, equal_nan=True)


def test_index_targets_come_from_the_unmasked_spectrum(table):
    """CI and NDCI by hand from the full spectrum. paper122 has no 681, 708 or 709 nm band; the index
    module's rule interpolates between neighbours when both lie within 1.5 nm, else takes the nearest."""
    rrs = table["Rrs"].astype(np.float64)
    r665 = band(rrs, 665.0)
    r681 = 0.6 * band(rrs, 680.0) + 0.4 * band(rrs, 682.5)
    r709 = 0.4 * band(rrs, 707.5) + 0.6 * band(rrs, 710.0)
    r708 = band(rrs, 707.5)  # 710 nm is 2 nm away, beyond the 1.5 nm tolerance: the nearest band is used
    ci = -(r681 - (r665 + (r709 - r665) * (681 - 665) / (709 - 665)))
    ndci = (r708 - r665) / (r708 + r665)
    pixels = PixelSpectra(table["Rrs"], table["time"])
    names = list(pixels.index_names)
    np.testing.assert_allclose(pixels.indices[:, names.index("ci")].numpy(), ci, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(pixels.indices[:, names.index("ndci")].numpy(), ndci, rtol=1e-4)
    # from the spectrum the encoder sees under targeted masking (D hidden) these indices are undefined
    masked = table["Rrs"].copy()
    masked[:, diagnostic_mask(WL).values] = np.nan
    assert np.isnan(index_targets(masked, WL)[:, names.index("ci")]).all()
    assert np.isfinite(pixels.indices.numpy()).all()


def test_index_statistics_are_nan_aware_hand_values():
    mean, std = nan_mean_std(np.array([[1.0, np.nan], [3.0, 5.0], [np.nan, np.nan]]), min_std=1e-12)
    assert mean.tolist() == [2.0, 5.0] and std[0].item() == pytest.approx(np.sqrt(2.0)) and std[1].item() == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_split_by_date_never_puts_one_date_on_both_sides(seed):
    rng = np.random.default_rng(seed)
    times = np.datetime64("2024-07-01T15:00") + rng.integers(0, 30 * 24 * 60, 500) * np.timedelta64(1, "m")
    train_rows, val_rows = split_by_date(times, 0.25, seed=seed)
    days = times.astype("datetime64[D]")
    assert not set(days[train_rows]) & set(days[val_rows])
    assert sorted(np.concatenate([train_rows, val_rows])) == list(range(500))
    assert len(set(days[val_rows])) == round(0.25 * len(set(days)))
    assert np.array_equal(split_by_date(times, 0.25, seed=seed)[1], val_rows)


def test_split_by_date_with_one_date_keeps_everything_for_training():
    train_rows, val_rows = split_by_date(np.full(4, np.datetime64("2024-07-01")), 0.5)
    assert list(train_rows) == [0, 1, 2, 3] and val_rows.size == 0


def test_synthetic_spectra_are_reproducible_and_physical(table):
    again = synthetic_spectra(200, seed=3)
    assert np.array_equal(table["Rrs"], again["Rrs"], equal_nan=True)
    gap = gap_mask(WL).values
    assert np.isnan(table["Rrs"][:, gap]).all()
    observed = table["Rrs"][:, ~gap]
    assert np.isfinite(observed).all() and np.median(observed) > 0
    assert not np.array_equal(synthetic_spectra(200, seed=4)["Rrs"], table["Rrs"], equal_nan=True)


def test_bad_shapes_and_missing_fields_are_named(tmp_path, table):
    with pytest.raises(ValueError, match="121 bands"):
        PixelSpectra(table["Rrs"][:, :121])
    with pytest.raises(ValueError, match="future"):
        PixelSpectra(table["Rrs"], future=table["Rrs"][:3])
    path = tmp_path / "pixels.npz"
    np.savez(path, Rrs=table["Rrs"])
    with pytest.raises(ValueError, match="'time' missing"):
        load_pixel_table(path)
    np.savez(path, Rrs=table["Rrs"], time=table["time"])
    assert np.array_equal(load_pixel_table(path)["Rrs"], table["Rrs"], equal_nan=True)
    np.savez(path, rrs=table["Rrs"], time=table["time"])  # written before the field was spelled Rrs
    assert np.array_equal(load_pixel_table(path)["Rrs"], table["Rrs"], equal_nan=True)
