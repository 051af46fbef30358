"""Non-detects as censored values: Tobit recovers a slope that substitution biases; AUROC at thresholds."""

import numpy as np
import pytest

from spectm.evaluate import censored


def test_tobit_recovers_the_slope_that_substituting_the_limit_flattens():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 1))
    latent = -0.5 + 0.8 * x[:, 0] + rng.normal(0, 0.4, 2000)
    limit = -1.0
    y = np.maximum(latent, limit)
    assert (y == limit).mean() > 0.05
    model = censored.TobitRegressor(limit=limit, alpha=0.0).fit(x, y)
    slope = model.coef_[1] / model.scale_[0]
    ols = np.polyfit(x[:, 0], y, 1)[0]
    assert slope == pytest.approx(0.8, abs=0.05)
    assert ols < 0.75  # substitution flattens the slope
    assert model.sigma_ == pytest.approx(0.4, abs=0.05)


def test_exceedance_auroc_is_one_for_a_perfect_ranking_and_nan_for_one_class():
    y = np.log10([0.1, 0.5, 2.0, 8.0])
    assert censored.exceedance_auroc(y, y, 1.0) == 1.0
    assert censored.exceedance_auroc(y, -y, 1.0) == 0.0
    assert np.isnan(censored.exceedance_auroc(y, y, 50.0))


def test_r2_on_detects_ignores_the_censored_pile():
    y = np.array([-1.0, -1.0, -1.0, 0.0, 0.5, 1.0])
    prediction = np.array([-1.0, -1.0, -1.0, 0.5, 0.0, 1.0])
    cens = y <= -1.0
    assert censored.r2_detected(y, prediction, cens) < 0.5
