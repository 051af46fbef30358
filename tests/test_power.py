"""The power analysis: more weeks, more power; a null difference is detected at about the error rate."""

import numpy as np
import pytest

from spectm.evaluate import power


def _arms(n_weeks=20, per_week=6, seed=0, gap=0.0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_weeks), per_week)
    week_effect = rng.normal(0, 0.5, n_weeks)[groups]
    y = week_effect + rng.normal(0, 0.5, groups.size)
    a = y + rng.normal(0, 0.5 - gap, groups.size)
    b = y + rng.normal(0, 0.5, groups.size)
    return y, a, b, groups


def test_power_grows_with_the_number_of_weeks_and_agrees_with_the_normal_approximation():
    y, a, b, groups = _arms()
    curve = power.power_curve(y, a, b, groups, effect=0.037, weeks=[5, 20, 80, 320], n_draws=800)
    assert curve["sd"].is_monotonic_decreasing
    assert curve["power"].iloc[-1] > curve["power"].iloc[0]
    assert np.allclose(curve["power"], curve["power_normal"], atol=0.08)
    assert curve["samples"].tolist() == [30.0, 120.0, 480.0, 1920.0]


def test_a_zero_effect_is_resolved_about_as_often_as_the_one_sided_error_rate():
    y, a, b, groups = _arms()
    curve = power.power_curve(y, a, b, groups, effect=0.0, weeks=[40], n_draws=2000)
    assert curve["power"].iloc[0] == pytest.approx(0.025, abs=0.02)


def test_samples_for_power_interpolates_and_says_inf_when_never_reached():
    import pandas as pd
    curve = pd.DataFrame({"samples": [100.0, 400.0], "power": [0.5, 0.9]})
    assert 100 < power.samples_for_power(curve) < 400
    assert power.samples_for_power(curve.assign(power=[0.1, 0.2])) == float("inf")
