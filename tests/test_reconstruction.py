"""Reconstruction of the masked bands: interpolation baselines, metrics, and the held-out evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from scipy.interpolate import CubicSpline, PchipInterpolator, interp1d

from spectm.bands import diagnostic_mask, gap_mask, wavelength_grid, window_name
from spectm.evaluate.reconstruction import (
    compare_methods,
    evaluate_reconstruction,
    extrapolated,
    interpolate_masked,
    metrics_frame,
    reconstruction_metrics,
)
from spectm.masking import make_mask
from spectm.model import SpecTM, model_config
from spectm.physics import simulate_rrs

WL = wavelength_grid("paper122").values
D = diagnostic_mask(WL).values
GAP = gap_mask(WL).values
WINDOW = window_name(WL).values


def spectra(n: int = 40, seed: int = 0) -> np.ndarray:
    """Physically shaped Rrs on paper122 with NaN in the OCI gap."""
    rng = np.random.default_rng(seed)
    rrs = simulate_rrs(np.exp(rng.normal(2.0, 1.0, n)), np.exp(rng.normal(0.5, 1.0, n)),
                       np.exp(rng.normal(-0.5, 0.5, n)), np.exp(rng.normal(1.5, 0.5, n)), WL)
    rrs[:, GAP] = np.nan
    return rrs


def random_masks(n: int, seed: int = 0) -> np.ndarray:
    return make_mask("random", WL, n, torch.Generator().manual_seed(seed)).numpy()


# --------------------------------------------------------------------------------------- interpolation


def test_linear_is_exact_on_a_straight_spectrum_including_the_extrapolated_red_edge():
    line = np.stack([0.002 + 1e-5 * (WL - 415), 0.01 - 2e-5 * (WL - 415)])
    line[:, GAP] = np.nan
    rebuilt = interpolate_masked(line, WL, D, "linear")
    np.testing.assert_allclose(rebuilt[:, D], line[:, D], rtol=1e-12)
    assert np.isnan(rebuilt[:, GAP]).all()  # unmasked values, NaN included, are passed through


def test_linear_is_exact_under_many_random_patterns():
    line = np.tile(3.0 - 0.004 * WL, (25, 1))
    mask = random_masks(25)
    rebuilt = interpolate_masked(line, WL, mask, "linear")
    np.testing.assert_allclose(rebuilt[:, ~GAP], line[:, ~GAP], rtol=1e-12)


def test_cubic_spline_is_exact_on_a_cubic_polynomial_inside_the_grid():
    x = (WL - 560.0) / 100.0
    cubic = np.stack([0.5 * x**3 - x**2 + 0.2 * x + 3.0, -x**3 + 0.1 * x + 1.0])
    cubic[:, GAP] = np.nan
    rebuilt = interpolate_masked(cubic, WL, D, "cubic")
    interior = np.isin(WINDOW, ["phycocyanin", "chlorophyll_a"])
    np.testing.assert_allclose(rebuilt[:, interior], cubic[:, interior], rtol=1e-9)
    # a straight line through the same bands misses the curvature: the check can fail
    assert np.abs(interpolate_masked(cubic, WL, D, "linear")[:, interior] - cubic[:, interior]).max() > 1e-3


@pytest.mark.parametrize("method", ["cubic", "linear", "pchip"])
def test_batched_patterns_match_a_pixel_by_pixel_scipy_fit(method):
    rrs = spectra(30, seed=1)
    rrs[3, 10] = rrs[7, 50] = np.nan  # pixel-level missing bands make extra patterns
    mask = random_masks(30, seed=2)
    mask[:5] = D  # a few targeted rows share one pattern
    rebuilt = interpolate_masked(rrs, WL, mask, method)
    assert rebuilt.shape == rrs.shape
    for i in range(30):
        fit = np.isfinite(rrs[i]) & ~mask[i]
        if method == "cubic":
            curve = CubicSpline(WL[fit], rrs[i, fit])
        elif method == "pchip":
            curve = PchipInterpolator(WL[fit], rrs[i, fit])
        else:
            curve = interp1d(WL[fit], rrs[i, fit], fill_value="extrapolate")
        np.testing.assert_allclose(rebuilt[i, mask[i]], curve(WL[mask[i]]), rtol=1e-9, atol=1e-15)
        np.testing.assert_array_equal(rebuilt[i, ~mask[i]], rrs[i, ~mask[i]])


@pytest.mark.parametrize("method", ["cubic", "linear", "pchip"])
def test_hold_extrapolation_repeats_the_last_visible_band_at_the_red_edge(method):
    rrs = spectra(5)
    rebuilt = interpolate_masked(rrs, WL, D, method, extrapolation="hold")
    last_visible = np.flatnonzero(~D & ~GAP)[-1]
    assert WL[last_visible] == 692.5
    red = WINDOW == "red_edge"
    np.testing.assert_array_equal(rebuilt[:, red], np.repeat(rrs[:, [last_visible]], red.sum(), axis=1))
    polynomial = interpolate_masked(rrs, WL, D, method)
    np.testing.assert_array_equal(rebuilt[:, WINDOW == "phycocyanin"], polynomial[:, WINDOW == "phycocyanin"])


@pytest.mark.parametrize("method", ["cubic", "linear", "pchip"])
def test_a_pixel_with_fewer_than_two_visible_bands_gets_nan(method):
    rrs = spectra(3)
    mask = np.tile(D, (3, 1))
    mask[1] = True
    mask[2] = True
    mask[2, 0] = False  # one visible band only
    rebuilt = interpolate_masked(rrs, WL, mask, method)
    assert np.isfinite(rebuilt[0, D]).all()
    assert np.isnan(rebuilt[1:, ~GAP & (np.arange(WL.size) > 0)]).all()


def test_interpolation_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown method"):
        interpolate_masked(spectra(2), WL, D, "quintic")
    with pytest.raises(ValueError, match="shape"):
        interpolate_masked(spectra(2)[:, :100], WL, D)
    with pytest.raises(ValueError, match="extrapolation"):
        interpolate_masked(spectra(2), WL, D, extrapolation="zero")


def test_only_the_red_edge_is_extrapolated_under_the_targeted_mask():
    beyond = extrapolated(np.tile(D, (4, 1)), ~np.tile(GAP, (4, 1)))
    np.testing.assert_array_equal(beyond[0], WINDOW == "red_edge")


# --------------------------------------------------------------------------------------------- metrics


def test_identical_reconstruction_scores_r_one_and_rmse_zero():
    rrs = spectra(20)
    scores = reconstruction_metrics(rrs, rrs, D, None, WL)
    np.testing.assert_allclose(scores["r"], 1.0)
    np.testing.assert_allclose(scores["rmse"], 0.0, atol=1e-18)
    np.testing.assert_allclose(scores["spectral_r"], 1.0)


def test_windows_count_ten_eight_ten_bands_and_the_gap_is_never_scored():
    n = 12
    rrs = spectra(n)
    predicted = rrs + 1e-4
    predicted[:, GAP] = 1e6  # garbage where the truth is missing ...
    mask = np.tile(D | GAP, (n, 1))  # ... even when those bands are masked
    scores = reconstruction_metrics(rrs, predicted, mask, None, WL)
    assert list(scores["window"].values) == ["overall", "phycocyanin", "chlorophyll_a", "red_edge"]
    assert scores["n"].values.tolist() == [28 * n, 10 * n, 8 * n, 10 * n]
    np.testing.assert_allclose(scores["rmse"], 1e-4, rtol=1e-9)  # a constant offset: RMSE = offset
    np.testing.assert_allclose(scores["r"], 1.0)
    assert (scores["n_by_wavelength"].values[GAP] == 0).all()
    assert np.isnan(scores["r_by_wavelength"].values[GAP]).all()
    assert scores["extrapolated"].sel(window="red_edge") == 1.0
    assert scores["extrapolated"].sel(window="chlorophyll_a") == 0.0


def test_a_missing_true_value_drops_out_of_the_count():
    rrs = spectra(4)
    rrs[2, np.flatnonzero(WINDOW == "phycocyanin")[0]] = np.nan
    scores = reconstruction_metrics(rrs, rrs, D, None, WL)
    assert int(scores["n"].sel(window="phycocyanin")) == 4 * 10 - 1


def test_metrics_match_a_hand_computation():
    wl = np.array([600.0, 620.0, 630.0, 650.0])  # bands 1 and 2 in the phycocyanin window
    true = np.array([[1.0, 2.0, 4.0, 9.0], [1.0, 3.0, 5.0, 9.0]])
    pred = np.array([[0.0, 2.5, 4.0, 0.0], [0.0, 2.0, 6.0, 0.0]])
    mask = np.array([False, True, True, False])
    scores = reconstruction_metrics(true, pred, mask, None, wl)
    t, p = np.array([2.0, 4.0, 3.0, 5.0]), np.array([2.5, 4.0, 2.0, 6.0])
    dt, dp = t - t.mean(), p - p.mean()
    r_hand = np.sum(dt * dp) / np.sqrt(np.sum(dt**2) * np.sum(dp**2))
    rmse_hand = np.sqrt((0.25 + 0 + 1 + 1) / 4)
    row = scores.sel(window="phycocyanin")
    assert row["n"] == 4
    np.testing.assert_allclose([row["r"], row["rmse"]], [r_hand, rmse_hand], rtol=1e-12)
    rmse_by_band = [np.sqrt((0.25 + 1) / 2), np.sqrt((0 + 1) / 2)]  # 620 nm: errors .5, 1; 630 nm: 0, 1
    np.testing.assert_allclose(scores["rmse_by_wavelength"].values[1:3], rmse_by_band)
    assert np.isnan(scores["r_by_wavelength"].values[0])


def test_pooled_r_is_dominated_by_brightness_while_spectral_r_sees_the_shape():
    rng = np.random.default_rng(3)
    n = 200
    shape = np.where(WINDOW == "phycocyanin", np.linspace(1.0, 2.0, WL.size), 1.0)
    brightness = np.exp(rng.normal(0.0, 1.0, (n, 1)))
    true = brightness * shape
    wrong = brightness * np.where(WINDOW == "phycocyanin", 3.0 - shape, 1.0)  # shape flipped
    mask = WINDOW == "phycocyanin"
    scores = reconstruction_metrics(true, wrong, mask, None, WL).sel(window="phycocyanin")
    assert scores["r"] > 0.8  # looks good pooled over pixels ...
    np.testing.assert_allclose(scores["spectral_r"], -1.0)  # ... yet every spectrum's trough is upside down
    assert scores["n_spectra"] == n


def test_non_finite_predictions_at_scored_values_are_an_error():
    rrs = spectra(3)
    predicted = rrs.copy()
    predicted[0, np.flatnonzero(D)[0]] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        reconstruction_metrics(rrs, predicted, D, None, WL)


def test_compare_methods_stacks_methods_in_a_tidy_frame():
    rrs = spectra(10)
    predictions = {name: interpolate_masked(rrs, WL, D, name) for name in ("cubic", "linear")}
    frame = metrics_frame(compare_methods(rrs, predictions, D, None, WL))
    assert frame.shape[0] == 8
    assert list(frame.columns[:5]) == ["method", "window", "r", "rmse", "n"]
    lin = frame.query("method == 'linear' and window == 'red_edge'")
    expected = reconstruction_metrics(rrs, predictions["linear"], D, None, WL).sel(window="red_edge")
    np.testing.assert_allclose(lin["rmse"].item(), float(expected["rmse"]))


# ---------------------------------------------------------------------------------------- held-out run


def pixel_table(n: int = 48) -> xr.Dataset:
    rrs = spectra(n, seed=5).astype(np.float32)
    time = np.datetime64("2024-07-01T16:00") + np.arange(n) % 4 * np.timedelta64(1, "D")
    return xr.Dataset({"Rrs": (("pixel", "wavelength"), rrs, {"units": "sr^-1"})},
                      coords={"wavelength": WL, "time": ("pixel", time)})


def test_an_untrained_quick_model_runs_through_evaluate_reconstruction():
    torch.manual_seed(0)
    table = pixel_table()
    model = SpecTM(model_config("quick"))
    model.normalizer.fit(torch.as_tensor(table["Rrs"].values))
    held_out = np.flatnonzero(table["time"].values.astype("datetime64[D]") == np.datetime64("2024-07-03"))
    frame = evaluate_reconstruction(model, table, held_out, batch_size=5)
    assert frame["method"].unique().tolist() == ["spectm", "cubic", "linear"]
    assert set(frame["window"]) == {"overall", "phycocyanin", "chlorophyll_a", "red_edge"}
    counts = frame.set_index(["method", "window"])["n"]
    assert counts["spectm", "overall"] == counts["cubic", "overall"] == 28 * held_out.size
    assert counts["linear", "chlorophyll_a"] == 8 * held_out.size
    assert np.isfinite(frame[["r", "rmse", "spectral_r", "seconds"]].to_numpy()).all()
    # the interpolators' rows are the same scores as scoring them by hand on those pixels
    rrs = table["Rrs"].values[held_out].astype(np.float64)
    cubic = reconstruction_metrics(rrs, interpolate_masked(rrs, WL, D, "cubic"), D, None, WL)
    np.testing.assert_allclose(frame.query("method == 'cubic'")["r"].to_numpy(), cubic["r"].values)


def test_evaluate_reconstruction_accepts_a_mapping_table_and_random_masks():
    table = {"Rrs": pixel_table(16)["Rrs"].values, "wavelength": WL}
    frame = evaluate_reconstruction(None, table, None, masking="random", methods=("pchip",), seed=4)
    assert frame["method"].unique().tolist() == ["pchip"]
    assert frame.set_index("window")["n"]["overall"] == 28 * 16
    with pytest.raises(ValueError, match="'wavelength' missing"):
        evaluate_reconstruction(None, {"Rrs": table["Rrs"]}, None)


def test_a_flat_prediction_has_no_spectral_r():
    rrs = spectra(30, seed=7)
    held = interpolate_masked(rrs, WL, D, "linear", extrapolation="hold")  # flat across the red edge
    scores = reconstruction_metrics(rrs, held, D, None, WL).sel(window="red_edge")
    assert scores["n_spectra"] == 0 and np.isnan(scores["spectral_r"])
    assert np.isfinite(scores["r"])  # pooled over pixels the flat lines still follow the brightness
