"""How much skill survives a worse sensor: added noise and a shifted wavelength scale.

Why: a model that is trusted on one sensor's spectra meets others (a noisier instrument, a degraded
detector, a calibration whose band centres drifted by a nanometre). The question asked here is the
practical one: a downstream model fitted on *clean* spectra is handed *perturbed* spectra of samples it
never saw; how far does R^2 fall as the perturbation grows?

Procedure (:func:`robustness_curve`), for every perturbation level:

1. perturb all spectra once (``perturb(Rrs, level, rng)``) and featurise them (frozen-encoder
   embeddings, or band features for a spectra-only baseline);
2. under week-grouped repeated K-fold (:class:`spectm.evaluate.protocol.RepeatedGroupKFold`, the same
   splits for every level), fit the model on the *clean* features of the training weeks and predict
   the *perturbed* features of the held-out weeks;
3. pool the out-of-fold predictions of each repeat, score R^2 (mean over repeats) with a week-bootstrap
   interval, exactly as :func:`spectm.evaluate.protocol.evaluate_features` does.

Level 0 of either perturbation reproduces the clean out-of-fold score. Models are fitted once per fold,
not once per level, so a curve costs one ordinary evaluation plus one featurisation per level.

Perturbations (pure functions of arrays, NaN = band not observed):

- :func:`add_relative_noise`: independent Gaussian noise with a standard deviation of ``percent`` % of
  each value's |Rrs| (multiplicative, per band and pixel), on top of the noise the spectra already have;
- :func:`shift_wavelengths`: the spectrum the sensor would report if every band centre sat ``shift_nm``
  higher: band i reads ``Rrs(lambda_i + shift)``, linearly interpolated between the neighbouring bands.
  Positions past either end of the grid, or next to a missing band (the OCI 590-610 nm gap), become NaN;
  a band missing in the input stays missing;
- :func:`drop_band`: one band lost (set missing), the failure a shift causes next to a gap or an edge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from spectm.evaluate.protocol import RepeatedGroupKFold, _fit, scores, week_bootstrap_r2

#: Default levels: percent of Rrs for noise, nanometres for the shift.
NOISE_PERCENT = (0.0, 1.0, 2.0, 5.0, 10.0)
SHIFT_NM = (-2.0, -1.0, 0.0, 1.0, 2.0)


def _spectra(Rrs) -> np.ndarray:
    values = np.asarray(Rrs, np.float64)
    if values.ndim != 2:
        raise ValueError(f"spectra must be a 2-D array (pixel, wavelength), got shape {values.shape}")
    return values


def add_relative_noise(Rrs, percent: float, rng: np.random.Generator) -> np.ndarray:
    """``Rrs * (1 + percent/100 * N(0, 1))``: independent noise of ``percent`` % of each value (NaN kept)."""
    if percent < 0:
        raise ValueError(f"percent={percent}: expected a noise level >= 0 (% of Rrs)")
    values = _spectra(Rrs)
    if percent == 0:
        return values.copy()
    return values + np.abs(values) * (percent / 100.0) * rng.standard_normal(values.shape)


def shift_wavelengths(Rrs, wavelengths, shift_nm: float) -> np.ndarray:
    """Spectra as read by a sensor whose band centres sit ``shift_nm`` higher: band i gets
    ``Rrs(lambda_i + shift_nm)`` by linear interpolation in wavelength.

    Within one band spacing past either end of the grid the end band's value is held: a sensor whose
    first band sits 2 nm lower still has a first band, and its reading differs from the nominal one by two
    nanometres of a smooth spectrum. (Returning NaN there made every feature that reads the end bands,
    415 and 717.5 nm, impossible to compute at any shift, so chapter 8 stopped on such a baseline.) NaN
    further out, where the interpolation touches a missing band, and wherever the input was missing (an
    unobserved band stays unobserved). A position that falls exactly on a band takes that band's value,
    so a shift of 0 is the identity.
    """
    values = _spectra(Rrs)
    wl = np.asarray(wavelengths, np.float64)
    if wl.ndim != 1 or wl.size != values.shape[1]:
        raise ValueError(f"wavelengths {wl.shape} must be 1-D and match the spectra's {values.shape[1]} bands")
    if wl.size < 2 or np.any(np.diff(wl) <= 0):
        raise ValueError("wavelengths must be strictly increasing (nm)")
    position = wl + float(shift_nm)
    inside = (position >= wl[0] - (wl[1] - wl[0])) & (position <= wl[-1] + (wl[-1] - wl[-2]))
    position = np.clip(position, wl[0], wl[-1])  # held at the end band within one spacing of it
    left = np.clip(np.searchsorted(wl, position, side="right") - 1, 0, wl.size - 2)
    fraction = np.clip((position - wl[left]) / (wl[left + 1] - wl[left]), 0.0, 1.0)
    low, high = values[:, left], values[:, left + 1]
    on_low, on_high = np.isclose(fraction, 0.0, atol=1e-9), np.isclose(fraction, 1.0, atol=1e-9)
    out = np.where(on_low, low, np.where(on_high, high, low + fraction * (high - low)))
    out[:, ~inside] = np.nan
    out[np.isnan(values)] = np.nan
    return out


def drop_band(Rrs, band: int) -> np.ndarray:
    """The spectra with band ``band`` (column index) missing; ``band`` < 0 leaves them unchanged."""
    values = _spectra(Rrs).copy()
    if band >= values.shape[1]:
        raise ValueError(f"band={band}: the spectra have {values.shape[1]} bands")
    if band >= 0:
        values[:, band] = np.nan
    return values


def band_drop_perturbation(Rrs, band: int, rng: np.random.Generator) -> np.ndarray:
    """:func:`drop_band` in the ``perturb(Rrs, level, rng)`` form (level = band index, -1 = none)."""
    return drop_band(Rrs, int(band))


def noise_perturbation(Rrs, percent: float, rng: np.random.Generator) -> np.ndarray:
    """:func:`add_relative_noise` in the ``perturb(Rrs, level, rng)`` form of :func:`robustness_curve`."""
    return add_relative_noise(Rrs, percent, rng)


def shift_perturbation(wavelengths) -> Callable[[np.ndarray, float, np.random.Generator], np.ndarray]:
    """:func:`shift_wavelengths` on ``wavelengths`` in the ``perturb(Rrs, level, rng)`` form."""
    return lambda Rrs, shift_nm, rng: shift_wavelengths(Rrs, wavelengths, shift_nm)


def robustness_curve(Rrs, y, groups, featurize: Callable[[np.ndarray], np.ndarray],
                     model_factory: Callable[[], object], perturb: Callable, levels: Sequence[float],
                     n_splits: int = 5, n_repeats: int = 2, n_draws: int = 1, seed: int = 0,
                     level_name: str = "level", n_boot: int = 500, ci: float = 0.95) -> pd.DataFrame:  # fmt: skip
    """Out-of-fold R^2 of a model fitted on clean spectra and applied to perturbed ones, per level.

    ``Rrs`` (N, B) clean spectra; ``y`` (N,) target; ``groups`` (N,) sampling weeks; ``featurize(Rrs)``
    returns the (N, F) features of spectra (e.g. frozen embeddings); ``model_factory()`` a fresh
    scikit-learn regressor; ``perturb(Rrs, level, rng)`` the perturbation. With ``n_draws`` > 1 every
    level is drawn several times (fresh noise) and the scores are averaged over draws. One row per
    level: ``level_name``, r2 (mean over repeats and draws), r2_low / r2_high (week bootstrap at
    ``ci``), rmse, mae, n_samples.
    """
    Rrs = _spectra(Rrs)
    y, groups = np.asarray(y, np.float64), np.asarray(groups)
    if y.size != Rrs.shape[0] or groups.size != Rrs.shape[0]:
        raise ValueError(f"Rrs {Rrs.shape}, y {y.shape} and groups {groups.shape} must agree on the sample count")
    if n_draws < 1:
        raise ValueError(f"n_draws={n_draws}: expected at least 1")
    clean = np.asarray(featurize(Rrs), np.float64)
    rng = np.random.default_rng(seed)
    perturbed = [[np.asarray(featurize(perturb(Rrs, level, rng)), np.float64) for _ in range(n_draws)]
                 for level in levels]  # fmt: skip
    splitter = RepeatedGroupKFold(n_splits, n_repeats, seed)
    oof = np.full((len(levels), n_draws, n_repeats, y.size), np.nan)
    for repeat in range(n_repeats):
        for train, test in splitter.repeat_splits(groups, repeat):
            model = _fit(model_factory(), clean[train], y[train], groups[train])  # a search gets the weeks
            for i, per_draw in enumerate(perturbed):
                for d, features in enumerate(per_draw):
                    oof[i, d, repeat, test] = model.predict(features[test])
    alpha = (1.0 - ci) / 2.0
    rows = []
    for i, level in enumerate(levels):
        predictions = oof[i].reshape(-1, y.size)  # (draw x repeat, N)
        per = pd.DataFrame([scores(y, p) for p in predictions])
        boot = week_bootstrap_r2(y, predictions, groups, n_boot=n_boot, seed=seed)
        low, high = np.nanquantile(boot, [alpha, 1.0 - alpha])
        rows.append({level_name: float(level), "r2": float(per["r2"].mean()), "r2_low": float(low),
                     "r2_high": float(high), "rmse": float(per["rmse"].mean()), "mae": float(per["mae"].mean()),
                     "n_samples": int(y.size)})  # fmt: skip
    return pd.DataFrame(rows)


def transfer_scores(X_source, y_source, X_target, y_target, model_factory: Callable[[], object],
                    groups_source=None, groups_target=None, n_splits: int = 5, n_repeats: int = 2,
                    seed: int = 0) -> dict:  # fmt: skip
    """R^2 at home and abroad: the model's week-grouped out-of-fold R^2 on the source water, and the R^2
    of the same model, fitted on all source samples, on the target water (never fitted there).

    Also ``r2_target_refit``: out-of-fold R^2 of a model fitted on the target itself (when
    ``groups_target`` is given), the ceiling a transferred model is measured against. Out-of-fold
    scores are means over ``n_repeats`` shuffles of the weeks. ``r2_drop = r2_source - r2_target``.
    """
    X_source, X_target = np.asarray(X_source, np.float64), np.asarray(X_target, np.float64)
    y_source, y_target = np.asarray(y_source, np.float64), np.asarray(y_target, np.float64)
    groups_source = np.arange(y_source.size) if groups_source is None else np.asarray(groups_source)
    out = {"r2_source": _oof_r2(X_source, y_source, groups_source, model_factory, n_splits, n_repeats, seed)}
    model = _fit(model_factory(), X_source, y_source, groups_source)
    target = scores(y_target, model.predict(X_target))
    out.update({"r2_target": target["r2"], "rmse_target": target["rmse"],
                "bias_target": float(np.mean(model.predict(X_target) - y_target))})  # fmt: skip
    if groups_target is not None:
        out["r2_target_refit"] = _oof_r2(X_target, y_target, np.asarray(groups_target), model_factory, n_splits,
                                         n_repeats, seed)
    out["r2_drop"] = out["r2_source"] - out["r2_target"]
    out.update(n_source=int(y_source.size), n_target=int(y_target.size))
    return out


def _oof_r2(X, y, groups, model_factory, n_splits, n_repeats, seed) -> float:
    splitter, r2 = RepeatedGroupKFold(n_splits, n_repeats, seed), []
    for repeat in range(n_repeats):
        oof = np.full(y.size, np.nan)
        for train, test in splitter.repeat_splits(groups, repeat):
            oof[test] = _fit(model_factory(), X[train], y[train], groups[train]).predict(X[test])
        r2.append(scores(y, oof)["r2"])
    return float(np.mean(r2))
