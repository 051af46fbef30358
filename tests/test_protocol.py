"""The downstream protocol: week-grouped repeated CV, non-detect choices, scores and the interval."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression

from spectm.evaluate import protocol


class Oracle(RegressorMixin, BaseEstimator):
    """Predicts the target exactly: column 0 of X holds it."""

    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.asarray(X)[:, 0]


def _data(n=120, n_weeks=20, noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    groups = np.sort(rng.integers(0, n_weeks, n))
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.0, -0.5, 0.0]) + noise * rng.normal(size=n)
    return X, y, groups


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(st.integers(0, 30), min_size=10, max_size=80),
    n_splits=st.integers(2, 5),
    seed=st.integers(0, 2**31 - 1),
    repeats=st.integers(1, 3),
)
def test_no_week_on_both_sides_and_every_sample_tested_once_per_repeat(groups, n_splits, seed, repeats):
    groups = np.asarray(groups)
    if np.unique(groups).size < n_splits:
        with pytest.raises(ValueError, match="groups cannot fill"):
            list(protocol.RepeatedGroupKFold(n_splits, repeats, seed).split(groups=groups))
        return
    splitter = protocol.RepeatedGroupKFold(n_splits, repeats, seed)
    splits = list(splitter.split(groups=groups))
    assert len(splits) == splitter.get_n_splits() == n_splits * repeats
    for r in range(repeats):
        tested = np.zeros(groups.size, int)
        for train, test in splits[r * n_splits : (r + 1) * n_splits]:
            assert test.size > 0 and train.size > 0
            assert not set(groups[train]) & set(groups[test])
            assert np.union1d(train, test).size == groups.size
            tested[test] += 1
        assert np.all(tested == 1)


def test_folds_balanced_by_samples_and_repeats_differ():
    groups = np.repeat(np.arange(25), 5)  # 125 samples, 25 weeks of 5
    splitter = protocol.RepeatedGroupKFold(5, 3, seed=1)
    sizes = [len(test) for _, test in splitter.split(groups=groups)]
    assert set(sizes) == {25}
    assert not np.array_equal(splitter.fold_ids(groups, 0), splitter.fold_ids(groups, 1))


def test_sampling_week_is_iso_week():
    dates = np.array(
        ["2024-07-01", "2024-07-07", "2024-07-08", "2024-12-30", "2025-01-01"], dtype="datetime64[D]"
    )
    # 1 July 2024 is a Monday (ISO week 27); Sunday 7 July is still week 27; 30 Dec 2024 is ISO 2025-W01
    assert protocol.sampling_week(dates).tolist() == [202427, 202427, 202428, 202501, 202501]


def test_log10_target_nondetect_choices():
    values = np.array([0.1, 1.0, 10.0, 0.1, np.nan])
    censored = np.array([True, False, False, True, False])
    y, keep = protocol.log10_target(values, censored)
    assert keep.tolist() == [True, True, True, True, False]
    np.testing.assert_allclose(y, [-1, 0, 1, -1])
    y, _ = protocol.log10_target(values, censored, "half_limit")
    np.testing.assert_allclose(y, [np.log10(0.05), 0, 1, np.log10(0.05)])
    y, keep = protocol.log10_target(values, censored, "drop")
    np.testing.assert_allclose(y, [0, 1])
    assert keep.tolist() == [False, True, True, False, False]
    with pytest.raises(ValueError, match="nondetects"):
        protocol.log10_target(values, censored, "zero")


def test_scores_by_hand():
    s = protocol.scores([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    # SST = 2, SSE = 1 -> R2 = 0.5; RMSE = sqrt(1/3); MAE = 1/3
    assert s["r2"] == pytest.approx(0.5)
    assert s["rmse"] == pytest.approx(np.sqrt(1 / 3))
    assert s["mae"] == pytest.approx(1 / 3)


def test_perfect_predictor_gives_r2_one():
    _, y, groups = _data()
    result = protocol.evaluate_features(y[:, None], y, groups, Oracle, n_splits=4, n_repeats=2, n_boot=200)
    assert result.r2 == pytest.approx(1.0)
    assert result.interval == pytest.approx((1.0, 1.0))
    assert result.rmse == pytest.approx(0.0)


def test_constant_predictor_gives_r2_at_most_zero():
    X, y, groups = _data()
    result = protocol.evaluate_features(X, y, groups, DummyRegressor, n_splits=5, n_repeats=3, n_boot=200)
    assert result.r2 <= 0.0
    assert (result.per_repeat["r2"] <= 0).all()


def test_deterministic_for_a_seed_and_interval_contains_estimate():
    X, y, groups = _data()
    a = protocol.evaluate_features(
        X, y, groups, LinearRegression, n_splits=5, n_repeats=3, seed=7, n_boot=300
    )
    b = protocol.evaluate_features(
        X, y, groups, LinearRegression, n_splits=5, n_repeats=3, seed=7, n_boot=300
    )
    c = protocol.evaluate_features(
        X, y, groups, LinearRegression, n_splits=5, n_repeats=3, seed=8, n_boot=300
    )
    np.testing.assert_array_equal(a.oof, b.oof)
    assert a.interval == b.interval
    assert not np.array_equal(a.oof, c.oof)
    assert a.interval[0] < a.r2 < a.interval[1]
    # the model is the truth up to noise 0.5 on var(y) = 1.25 + 0.25: R2 near 1 - 0.25/1.5 = 0.83
    assert 0.7 < a.r2 < 0.9
    assert np.isfinite(a.oof).all() and a.oof.shape == (3, y.size)


def test_week_bootstrap_matches_direct_weighting():
    rng = np.random.default_rng(3)
    y, pred, groups = rng.normal(size=30), rng.normal(size=30), np.repeat(np.arange(6), 5)
    boot = protocol.week_bootstrap_r2(y, pred, groups, n_boot=5, seed=11)
    counts = np.random.default_rng(11).multinomial(6, np.full(6, 1 / 6), size=5)
    for draw, c in zip(boot, counts):
        take = np.concatenate([np.flatnonzero(groups == g).repeat(k) for g, k in enumerate(c)])
        assert draw == pytest.approx(protocol.scores(y[take], pred[take])["r2"])


def test_nondetect_sensitivity_rows():
    rng = np.random.default_rng(0)
    n = 100
    x = rng.normal(size=n)
    mc = 10 ** (0.8 * x + 0.3 * rng.normal(size=n))
    censored = mc < 0.5
    values = np.where(censored, 0.5, mc)
    table = protocol.nondetect_sensitivity(
        x[:, None],
        values,
        censored,
        np.repeat(np.arange(20), 5),
        LinearRegression,
        n_splits=4,
        n_repeats=1,
        n_boot=100,
    )
    assert table["nondetects"].tolist() == list(protocol.NONDETECT_CHOICES)
    assert table.set_index("nondetects").loc["drop", "n_samples"] == int((~censored).sum())
    assert table.set_index("nondetects").loc["drop", "censored_fraction"] == 0.0
    assert table["r2"].between(-1, 1).all()
