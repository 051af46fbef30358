"""Scores that respect what a non-detect is, and the thresholds that advisories use.

About 40 % of GLERL's routine samples are below the reporting limit (0.1 ug/L). Substituting the limit
(the protocol's default) makes a pile of equal values that a model separates easily from blooms, which
inflates R^2. Three views that do not lean on the substitute:

- :func:`r2_detected`: R^2 of the same out-of-fold predictions on the detected samples only;
- :class:`TobitRegressor`: a linear model fitted by the likelihood of a left-censored normal (Tobin
  1958), so a non-detect says "below the limit", not "at the limit";
- :func:`exceedance_auroc`: how well predictions rank samples above an advisory threshold: 1 ug/L (the
  lower end of drinking-water advisory levels, e.g. the WHO's provisional 1 ug/L guideline for
  lifetime exposure) and 6 ug/L (Ohio's recreational advisory level).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import roc_auc_score

from spectm.evaluate.protocol import scores

#: Advisory thresholds, ug/L: drinking water (WHO provisional lifetime guideline) and recreation (Ohio).
ADVISORY_THRESHOLDS_UG_L = (1.0, 6.0)


def r2_detected(y, predictions, censored) -> float:
    """R^2 on detected samples only, averaged over the rows of ``predictions`` (repeat, n) or (n,)."""
    y = np.asarray(y, np.float64)
    detected = ~np.asarray(censored, bool)
    if detected.sum() < 3:
        return float("nan")
    rows = np.atleast_2d(np.asarray(predictions, np.float64))
    return float(np.mean([scores(y[detected], p[detected])["r2"] for p in rows]))


def exceedance_auroc(y_log10, predictions, threshold_ug_l: float) -> float:
    """AUROC of ``predictions`` (log10 ug/L) for "the sample exceeds ``threshold_ug_l``"; NaN if one class."""
    exceeds = np.asarray(y_log10, np.float64) > np.log10(threshold_ug_l)
    if exceeds.all() or not exceeds.any():
        return float("nan")
    rows = np.atleast_2d(np.asarray(predictions, np.float64))
    return float(np.mean([roc_auc_score(exceeds, p) for p in rows]))


class TobitRegressor(RegressorMixin, BaseEstimator):
    """Linear regression for a left-censored target (``y`` at or below ``limit`` means "not detected").

    Maximises sum(log phi((y - Xb)/s) - log s) over detected samples plus sum(log Phi((limit - Xb)/s))
    over non-detects, with an L2 penalty ``alpha * |b|^2`` (features are standardised inside). ``predict``
    returns the latent mean Xb, which may lie below the limit: that is the model's honest guess.
    """

    def __init__(self, limit: float = -1.0, alpha: float = 1.0):
        self.limit = limit
        self.alpha = alpha

    def _negative_log_likelihood(self, theta, X, y, censored):
        beta, log_sigma = theta[:-1], theta[-1]
        sigma = np.exp(log_sigma)
        mu = X @ beta
        z_detected = (y[~censored] - mu[~censored]) / sigma
        ll = np.sum(stats.norm.logpdf(z_detected) - log_sigma)
        ll += np.sum(stats.norm.logcdf((self.limit - mu[censored]) / sigma))
        return -ll + self.alpha * np.sum(beta[1:] ** 2)

    def fit(self, X, y):
        X = np.asarray(X, np.float64)
        y = np.asarray(y, np.float64)
        self.mean_ = np.nanmean(X, axis=0)
        self.scale_ = np.where(np.nanstd(X, axis=0) > 0, np.nanstd(X, axis=0), 1.0)
        design = np.column_stack([np.ones(len(y)), (X - self.mean_) / self.scale_])
        censored = y <= self.limit + 1e-12
        start = np.zeros(design.shape[1] + 1)
        start[0], start[-1] = y.mean(), np.log(max(y.std(), 1e-3))
        solution = optimize.minimize(self._negative_log_likelihood, start, args=(design, y, censored),
                                     method="L-BFGS-B")
        self.coef_, self.sigma_ = solution.x[:-1], float(np.exp(solution.x[-1]))
        self.converged_ = bool(solution.success)
        return self

    def predict(self, X):
        X = (np.asarray(X, np.float64) - self.mean_) / self.scale_
        return self.coef_[0] + X @ self.coef_[1:]
