"""Conformal intervals: nominal coverage on synthetic Gaussian noise, width tracks the noise."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from spectm.evaluate import conformal


def _linear(n, sigma, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, X @ np.array([1.0, -2.0]) + sigma * rng.normal(size=n)


def test_conformal_quantile_rank():
    scores = np.arange(1.0, 10.0)  # n = 9
    assert conformal.conformal_quantile(scores, 0.8) == 8.0  # ceil(10 * 0.8) = 8th smallest
    assert conformal.conformal_quantile(scores, 0.95) == np.inf  # ceil(9.5) = 10 > 9
    with pytest.raises(ValueError, match="level"):
        conformal.conformal_quantile(scores, 1.5)


@pytest.mark.parametrize("method", ["split", "cv+"])
def test_nominal_coverage_on_gaussian_noise(method):
    X, y = _linear(1000, 1.0, seed=1)
    X_test, y_test = _linear(5000, 1.0, seed=2)
    model = conformal.ConformalRegressor(LinearRegression, method=method, seed=0).fit(X, y)
    _, lower, upper = model.predict_interval(X_test, 0.9)
    assert 0.87 <= conformal.coverage(y_test, lower, upper) <= 0.93
    # a Gaussian 90% interval has half-width 1.645 sigma
    assert np.mean(upper - lower) / 2 == pytest.approx(1.645, rel=0.1)
    curve = conformal.reliability_curve(model, X_test, y_test, levels=(0.5, 0.8, 0.95))
    assert np.all(np.abs(curve["coverage"] - curve["level"]) < 0.03)
    assert curve["mean_width"].is_monotonic_increasing


def test_width_scales_with_noise():
    widths = []
    for sigma in (0.2, 1.0):
        X, y = _linear(600, sigma, seed=3)
        model = conformal.ConformalRegressor(LinearRegression, method="cv+").fit(X, y)
        _, lower, upper = model.predict_interval(X[:200], 0.9)
        widths.append(np.mean(upper - lower))
    assert widths[1] / widths[0] == pytest.approx(5.0, rel=0.15)


def test_grouped_reliability_near_nominal_with_week_groups():
    X, y = _linear(400, 0.5, seed=4)
    groups = np.repeat(np.arange(40), 10)
    curve = conformal.grouped_reliability(X, y, groups, LinearRegression, levels=(0.5, 0.9), n_splits=5)
    assert curve["level"].tolist() == [0.5, 0.9]
    assert np.all(np.abs(curve["coverage"] - curve["level"]) < 0.07)
    assert (curve["n"] == 400).all()


def test_split_calibration_uses_whole_groups():
    X, y = _linear(200, 1.0, seed=5)
    groups = np.repeat(np.arange(20), 10)
    model = conformal.ConformalRegressor(LinearRegression, method="split", calibration_fraction=0.3).fit(
        X, y, groups
    )
    assert model.residuals_.size == 60  # 6 of 20 weeks, 10 samples each
