"""Perturbations of spectra (noise, wavelength shift) and the R^2-versus-level procedure."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, Ridge

from spectm.bands import gap_mask, wavelength_grid
from spectm.evaluate.robustness import (
    add_relative_noise,
    band_drop_perturbation,
    drop_band,
    noise_perturbation,
    robustness_curve,
    shift_perturbation,
    shift_wavelengths,
    transfer_scores,
)

WL = wavelength_grid("paper122").values


def _spectra(n=50, seed=0):
    rng = np.random.default_rng(seed)
    base = 0.01 + 0.005 * np.sin(WL / 40.0)
    return base * np.exp(rng.normal(0, 0.3, (n, 1))) + rng.normal(0, 1e-4, (n, WL.size))


@pytest.mark.parametrize("percent", [1.0, 5.0, 10.0])
def test_noise_level_is_the_requested_percent_of_rrs(percent):
    rrs = _spectra(400)
    noisy = add_relative_noise(rrs, percent, np.random.default_rng(1))
    relative = (noisy - rrs) / np.abs(rrs)
    assert abs(relative.std() - percent / 100) < 0.03 * percent / 100  # 48,800 draws: SE of the SD ~0.3 %
    assert abs(relative.mean()) < 0.01 * percent / 100 * 10
    correlation = np.corrcoef(relative[:, :-1].ravel(), relative[:, 1:].ravel())[0, 1]
    assert abs(correlation) < 0.02  # independent between bands


def test_noise_keeps_nan_and_zero_percent_is_identity():
    rrs = _spectra(5)
    rrs[:, gap_mask(WL).values] = np.nan
    noisy = add_relative_noise(rrs, 5.0, np.random.default_rng(0))
    assert np.array_equal(np.isnan(noisy), np.isnan(rrs))
    np.testing.assert_array_equal(add_relative_noise(rrs, 0.0, np.random.default_rng(0)), rrs)
    with pytest.raises(ValueError, match="noise level"):
        add_relative_noise(rrs, -1.0, np.random.default_rng(0))


def test_shift_of_zero_is_the_identity_even_next_to_the_gap():
    rrs = _spectra(7)
    rrs[:, gap_mask(WL).values] = np.nan
    np.testing.assert_array_equal(shift_wavelengths(rrs, WL, 0.0), rrs)


def test_shift_of_one_band_spacing_is_a_roll_away_from_the_edges():
    rrs = _spectra(6)
    spacing = WL[1] - WL[0]
    up = shift_wavelengths(rrs, WL, spacing)
    np.testing.assert_array_equal(up[:, :-1], rrs[:, 1:])  # band i now reads band i+1
    np.testing.assert_array_equal(up[:, -1], rrs[:, -1])  # one spacing past the red end: the end band held
    down = shift_wavelengths(rrs, WL, -2 * spacing)
    np.testing.assert_array_equal(down[:, 2:], rrs[:, :-2])
    np.testing.assert_array_equal(down[:, 1], rrs[:, 0])  # one spacing below the blue end: held
    assert np.isnan(down[:, 0]).all()  # two spacings below: unknown


def test_key_band_features_survive_the_shifts_of_chapter_8():
    """A baseline on the key bands (415 and 717.5 nm are the grid's ends) can be scored at every shift."""
    from spectm.evaluate.features import KEY_BANDS_NM
    from spectm.evaluate.robustness import SHIFT_NM

    rrs = _spectra(4)
    rrs[:, gap_mask(WL).values] = np.nan
    key = np.isin(WL, KEY_BANDS_NM)
    for shift in SHIFT_NM:
        assert np.isfinite(shift_wavelengths(rrs, WL, shift)[:, key]).all(), shift


def test_fractional_shift_interpolates_linearly_and_spreads_the_gap():
    line = np.tile(3.0 + 0.5 * WL, (2, 1))  # a straight line in wavelength: interpolation is exact
    np.testing.assert_allclose(shift_wavelengths(line, WL, 1.0)[:, :-1], np.tile(3.0 + 0.5 * (WL[:-1] + 1.0), (2, 1)))
    gap = gap_mask(WL).values
    line[:, gap] = np.nan
    shifted = shift_wavelengths(line, WL, 1.0)
    first_gap = np.flatnonzero(gap)[0]
    assert np.isnan(shifted[:, gap]).all()  # the gap stays unobserved
    assert np.isnan(shifted[:, first_gap - 1]).all()  # 587.5 + 1 nm lies between 587.5 and the gap
    assert np.isfinite(shifted[:, np.flatnonzero(gap)[-1] + 1]).all()  # 612.5 + 1 nm is observed on both sides


def test_shift_on_a_non_uniform_grid_and_bad_input():
    wl = np.array([400.0, 410.0, 415.0, 430.0])
    rrs = np.array([[1.0, 2.0, 4.0, 7.0]])
    np.testing.assert_allclose(shift_wavelengths(rrs, wl, 2.5), [[1.25, 3.0, 4.5, 7.0]])  # 417.5 nm: 4 + (2.5/15) * 3
    assert np.isnan(shift_wavelengths(rrs, wl, 16.0)[0, -1])  # more than one spacing (15 nm) past the end
    with pytest.raises(ValueError, match="increasing"):
        shift_wavelengths(rrs, wl[::-1], 1.0)
    with pytest.raises(ValueError, match="match"):
        shift_wavelengths(rrs, wl[:3], 1.0)


def test_drop_band_removes_exactly_one_band():
    rrs = _spectra(4)
    dropped = drop_band(rrs, 7)
    assert np.isnan(dropped[:, 7]).all() and np.isnan(dropped).sum() == rrs.shape[0]
    np.testing.assert_array_equal(np.delete(dropped, 7, axis=1), np.delete(rrs, 7, axis=1))
    np.testing.assert_array_equal(drop_band(rrs, -1), rrs)
    with pytest.raises(ValueError, match="bands"):
        drop_band(rrs, WL.size)


def _toy(n=240, seed=0):
    """Twelve weeks of spectra whose target is a linear function of a few bands."""
    rrs = _spectra(n, seed)
    y = 100.0 * (rrs[:, 60] - rrs[:, 20]) + 300.0 * rrs[:, 90]
    return rrs, y, np.repeat(np.arange(12), n // 12)


def _three_bands(rrs):
    return rrs[:, [20, 60, 90]]


def test_r2_falls_as_noise_grows_and_level_zero_is_the_clean_score():
    rrs, y, groups = _toy()
    levels = [0.0, 1.0, 5.0, 20.0, 50.0]
    curve = robustness_curve(rrs, y, groups, _three_bands, LinearRegression, noise_perturbation, levels,
                             n_splits=4, n_repeats=2, n_draws=2, level_name="noise_percent")  # fmt: skip
    assert list(curve["noise_percent"]) == levels
    assert curve["r2"].iloc[0] > 0.99
    assert np.all(np.diff(curve["r2"]) < 0)  # strictly worse with every step of noise
    assert curve["r2"].iloc[-1] < 0.5
    assert (curve["r2_low"] <= curve["r2"] + 1e-9).all() and (curve["r2"] <= curve["r2_high"] + 1e-9).all()


def test_models_are_fitted_on_clean_data_only():
    rrs, y, groups = _toy()
    fitted_on = []

    class Recording(Ridge):
        def fit(self, X, y):
            fitted_on.append(X.copy())
            return super().fit(X, y)

    robustness_curve(rrs, y, groups, _three_bands, Recording, shift_perturbation(WL), [-2.0, 2.0], n_splits=3,
                     n_repeats=1)  # fmt: skip
    assert len(fitted_on) == 3  # once per fold, not once per level
    clean = _three_bands(rrs)
    assert all(np.isin(X, clean).all() for X in fitted_on)  # every training value is a clean one


def test_losing_a_band_the_model_needs_costs_more_than_losing_one_it_ignores():
    rrs, y, groups = _toy()

    def imputed(spectra):  # a missing band reads zero
        return np.nan_to_num(spectra[:, [20, 60, 90, 100]], nan=0.0)

    curve = robustness_curve(rrs, y, groups, imputed, LinearRegression, band_drop_perturbation, [-1, 60, 100],
                             n_splits=4, n_repeats=1, level_name="band")  # fmt: skip
    by_band = curve.set_index("band")["r2"]
    assert by_band[-1] > 0.99 and by_band[100] > 0.99  # band 100 carries no weight in y
    assert by_band[60] < 0.5


def test_transfer_scores_show_a_drop_under_a_shifted_target():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, -0.5, 0.2] + rng.normal(0, 0.1, 200)
    X_far = rng.normal(size=(150, 3))
    y_far = X_far @ [0.3, -0.5, 1.0] + rng.normal(0, 0.1, 150)  # another relation in the other water
    result = transfer_scores(X, y, X_far, y_far, LinearRegression, np.arange(200) % 10, np.arange(150) % 10)
    assert result["r2_source"] > 0.95 and result["r2_target_refit"] > 0.95
    assert result["r2_target"] < 0.5 and result["r2_drop"] == pytest.approx(result["r2_source"] - result["r2_target"])
    same = transfer_scores(X, y, X[:100], y[:100], LinearRegression, np.arange(200) % 10)
    assert same["r2_drop"] < 0.05
