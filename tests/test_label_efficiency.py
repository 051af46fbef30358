"""Label-efficiency curves and the efficiency factor."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from spectm.evaluate import ablations, label_efficiency


def toy(n=200, noise=0.5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = X @ np.array([1.0, -0.5, 0.3, 0.0, 0.2]) + rng.normal(scale=noise, size=n)
    groups = np.repeat(np.arange(20), n // 20)
    return X, y, groups


def test_more_labels_give_higher_r2_and_label_counts_are_right():
    X, y, groups = toy()
    curve = label_efficiency.learning_curve(X, y, groups, LinearRegression, fractions=(0.05, 0.25, 1.0),
                                            n_draws=8, seed=1)
    summary = label_efficiency.summarise(curve)
    assert summary["r2"].is_monotonic_increasing
    assert summary.loc[1.0, "r2"] > 0.7
    assert summary.loc[1.0, "labels"] == pytest.approx(160, abs=1)
    assert summary.loc[0.05, "labels"] == pytest.approx(8, abs=1)


class RecordingModel:
    """Remembers which rows (stored in column 0) it was trained on."""

    seen: list = []

    def fit(self, X, y):
        RecordingModel.seen.append(set(X[:, 0].astype(int)))
        return self

    def predict(self, X):
        RecordingModel.seen.append(("test", set(X[:, 0].astype(int))))
        return np.zeros(len(X))


def test_training_rows_never_come_from_the_held_out_weeks():
    X, y, groups = toy(n=100)
    X[:, 0] = np.arange(100)
    RecordingModel.seen = []
    label_efficiency.learning_curve(X, y, groups, RecordingModel, fractions=(0.5,), n_draws=3, n_splits=4)
    events = RecordingModel.seen
    for trained, (tag, tested) in zip(events[::2], events[1::2]):
        assert tag == "test"
        assert not ({groups[i] for i in trained} & {groups[i] for i in tested})


def table(r2s, fractions=label_efficiency.FRACTIONS):
    return pd.DataFrame({"r2": r2s}, index=pd.Index(fractions, name="fraction"))


def test_efficiency_factor_interpolates_in_log_fraction():
    reference = table([0.1, 0.2, 0.3, 0.4, 0.5])
    method = table([0.25, 0.3, 0.4, 0.5, 0.6])
    # 0.25 lies half-way between the reference at 10 % and 25 %: sqrt(0.10 * 0.25) / 0.05
    assert label_efficiency.efficiency_factor(method, reference) == pytest.approx(np.sqrt(0.025) / 0.05)


def test_efficiency_factor_edges():
    reference = table([0.1, 0.2, 0.3, 0.4, 0.5])
    assert label_efficiency.efficiency_factor(table([0.9] * 5), reference) == float("inf")
    assert label_efficiency.efficiency_factor(table([0.05] * 5), reference) == 1.0


def test_paired_difference_over_seeds():
    results = pd.DataFrame({"family": ["a", "b"] * 3, "seed": [0, 0, 1, 1, 2, 2],
                            "r2": [0.5, 0.4, 0.6, 0.5, 0.55, 0.45]})
    out = ablations.paired_difference(results, "family", "a", "b")
    assert out["difference"] == pytest.approx(0.1)
    assert out["seeds"] == 3
    assert out["low"] == pytest.approx(0.1) and out["high"] == pytest.approx(0.1)
    results.loc[5, "r2"] = 0.35
    wider = ablations.paired_difference(results, "family", "a", "b")
    assert wider["low"] < wider["difference"] < wider["high"]


def test_the_ablation_ridge_never_predicts_outside_the_training_range():
    X, y, _ = toy(n=60)
    model = ablations.ridge().fit(X[:40], y[:40])
    far = X[40:] * 100.0
    predicted = model.predict(far)
    assert predicted.min() >= y[:40].min() and predicted.max() <= y[:40].max()
    assert np.ptp(model.predict(X[40:])) > 0


def test_describe_factor_words():
    reference = table([0.1, 0.2, 0.3, 0.4, 0.5])
    assert label_efficiency.describe_factor(table([0.25] * 5), reference) == "3.16x"
    assert label_efficiency.describe_factor(table([0.9] * 5), reference).startswith("more than 20x")
    assert label_efficiency.describe_factor(table([0.05] * 5), reference).startswith("at most 1x")
