"""Prediction intervals with a coverage guarantee: split conformal and CV+, in log10 microcystin space.

Why: the paper calls its model trustworthy but reports no uncertainty. A conformal interval says "the
true log10 concentration lies in [lo, hi] for a fraction ``level`` of new samples", and that can be
checked: :func:`grouped_reliability` measures the coverage out of fold, week by week, at several
levels, the data of a reliability plot (nominal level against empirical coverage).

Methods (absolute-residual score ``|y - mu(x)|``; Vovk et al. 2005, Lei et al. 2018, Barber et al. 2021):

- ``"split"``: fit mu on one part, take the residuals of the other (the calibration part, whole weeks
  when groups are given); the interval is ``mu(x) +- q`` with ``q`` the ``ceil((n+1) level)``-th
  smallest calibration residual (``+inf`` when that exceeds n). Coverage >= level for exchangeable data.
- ``"cv+"``: K-fold CV+ (grouped by week when groups are given): K models ``mu_-k``; for a test x the
  interval runs from the ``floor(alpha (n+1))``-th smallest of ``mu_-k(i)(x) - R_i`` to the
  ``ceil((1-alpha)(n+1))``-th smallest of ``mu_-k(i)(x) + R_i`` (alpha = 1 - level), with ``R_i`` the
  out-of-fold residual of sample i. Uses every sample for both fitting and calibration (n is small);
  guarantee >= 1 - 2 alpha, close to 1 - alpha in practice.

Week groups make the calibration honest when samples of one week are alike; the guarantee then holds
for a new *week* drawn like the others, not for a new season with a different bloom.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from spectm.evaluate.protocol import RepeatedGroupKFold

#: Levels of the reliability curve by default.
DEFAULT_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level={level}: expected a coverage fraction in (0, 1)")
    return float(level)


def conformal_quantile(scores, level: float) -> float:
    """The ``ceil((n+1) level)``-th smallest score (``inf`` when that rank exceeds n)."""
    scores = np.sort(np.asarray(scores, np.float64))
    rank = int(np.ceil((scores.size + 1) * _check_level(level)))
    return float(scores[rank - 1]) if rank <= scores.size else float("inf")


class ConformalRegressor:
    """A regressor with conformal intervals; fit once, ask for any level.

    ``model_factory()`` returns a fresh unfitted scikit-learn regressor. ``method`` is ``"split"`` or
    ``"cv+"``; ``calibration_fraction`` (split) and ``n_splits`` (cv+) size the calibration.
    """

    def __init__(self, model_factory: Callable[[], object], method: str = "cv+", n_splits: int = 5,
                 calibration_fraction: float = 0.3, seed: int = 0):  # fmt: skip
        if method not in ("split", "cv+"):
            raise ValueError(f"method={method!r}: expected 'split' or 'cv+'")
        if not 0 < calibration_fraction < 1:
            raise ValueError(f"calibration_fraction={calibration_fraction}: expected a fraction in (0, 1)")
        self.model_factory, self.method, self.n_splits = model_factory, method, int(n_splits)
        self.calibration_fraction, self.seed = float(calibration_fraction), int(seed)

    def fit(self, X, y, groups=None) -> ConformalRegressor:
        X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
        groups = np.arange(y.size) if groups is None else np.asarray(groups)
        if self.method == "split":
            unique = np.unique(groups)
            rng = np.random.default_rng(self.seed)
            n_cal = max(1, round(self.calibration_fraction * unique.size))
            calibration = np.isin(groups, rng.choice(unique, size=n_cal, replace=False))
            self.model_ = self.model_factory().fit(X[~calibration], y[~calibration])
            self.residuals_ = np.abs(y[calibration] - self.model_.predict(X[calibration]))
        else:
            folds = RepeatedGroupKFold(self.n_splits, 1, self.seed).fold_ids(groups, 0)
            self.models_, self.residuals_, self.fold_ = [], np.empty(y.size), folds
            for k in range(self.n_splits):
                model = self.model_factory().fit(X[folds != k], y[folds != k])
                self.models_.append(model)
                self.residuals_[folds == k] = np.abs(y[folds == k] - model.predict(X[folds == k]))
        return self

    def predict(self, X) -> np.ndarray:
        """Point prediction: the split model, or the mean of the K fold models (cv+)."""
        X = np.asarray(X, np.float64)
        if self.method == "split":
            return self.model_.predict(X)
        return np.mean([m.predict(X) for m in self.models_], axis=0)

    def predict_interval(self, X, level: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(prediction, lower, upper)`` at coverage ``level``."""
        level = _check_level(level)
        X = np.asarray(X, np.float64)
        if self.method == "split":
            centre = self.model_.predict(X)
            q = conformal_quantile(self.residuals_, level)
            return centre, centre - q, centre + q
        per_fold = np.stack([m.predict(X) for m in self.models_])  # (K, n_test)
        mu = per_fold[self.fold_].T  # (n_test, n_cal): mu_-k(i)(x)
        n = self.residuals_.size
        alpha = 1.0 - level
        low_rank, high_rank = int(np.floor(alpha * (n + 1))), int(np.ceil((1.0 - alpha) * (n + 1)))
        lower = np.full(X.shape[0], -np.inf)
        upper = np.full(X.shape[0], np.inf)
        if low_rank >= 1:
            lower = np.partition(mu - self.residuals_, low_rank - 1, axis=1)[:, low_rank - 1]
        if high_rank <= n:
            upper = np.partition(mu + self.residuals_, high_rank - 1, axis=1)[:, high_rank - 1]
        return per_fold.mean(axis=0), lower, upper


def coverage(y, lower, upper) -> float:
    """Fraction of ``y`` inside ``[lower, upper]``."""
    y = np.asarray(y, np.float64)
    return float(np.mean((y >= np.asarray(lower)) & (y <= np.asarray(upper))))


def reliability_curve(regressor: ConformalRegressor, X, y, levels=DEFAULT_LEVELS) -> pd.DataFrame:
    """Nominal level, empirical coverage and mean width of a fitted regressor's intervals on ``(X, y)``."""
    rows = []
    for level in levels:
        _, lower, upper = regressor.predict_interval(X, level)
        rows.append({"level": float(level), "coverage": coverage(y, lower, upper),
                     "mean_width": float(np.mean(upper - lower)), "n": int(np.size(y))})  # fmt: skip
    return pd.DataFrame(rows)


def grouped_reliability(X, y, groups, model_factory, levels=DEFAULT_LEVELS, method: str = "cv+",
                        n_splits: int = 5, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Out-of-fold reliability on a small labelled set, by sampling week.

    Outer folds of whole weeks (:class:`RepeatedGroupKFold`, one repeat); in each, a
    :class:`ConformalRegressor` is fitted and calibrated on the other weeks (grouped by week as well)
    and its intervals are checked on the held-out weeks. Coverage and width are pooled over folds.
    """
    X, y, groups = np.asarray(X, np.float64), np.asarray(y, np.float64), np.asarray(groups)
    inside = {level: np.zeros(y.size, bool) for level in levels}
    width = {level: np.zeros(y.size) for level in levels}
    for train, test in RepeatedGroupKFold(n_splits, 1, seed).repeat_splits(groups, 0):
        regressor = ConformalRegressor(model_factory, method, n_splits=n_splits, seed=seed).fit(
            X[train], y[train], groups[train]
        )
        for level in levels:
            _, lower, upper = regressor.predict_interval(X[test], level)
            inside[level][test] = (y[test] >= lower) & (y[test] <= upper)
            width[level][test] = upper - lower
    return pd.DataFrame([{"level": float(level), "coverage": float(inside[level].mean()),
                          "mean_width": float(np.mean(width[level])), "n": int(y.size)} for level in levels])  # fmt: skip
