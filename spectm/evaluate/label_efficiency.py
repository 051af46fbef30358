"""Label efficiency: how R² grows with the share of labels, and how many labels one method saves.

The paper reports a 2.2x label efficiency at 5 % of the labels. With ~100-150 matched samples, 5 % is a
handful, so one subset says little: every fraction is drawn many times, always inside the training
weeks of a week-grouped split, and scored on the held-out weeks.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from spectm.evaluate.protocol import RepeatedGroupKFold, scores

FRACTIONS = (0.05, 0.10, 0.25, 0.50, 1.00)


def learning_curve(X, y, groups, model_factory: Callable[[], object], fractions=FRACTIONS, n_draws: int = 30,
                   n_splits: int = 5, min_labels: int = 3, seed: int = 0) -> pd.DataFrame:
    """R² on held-out weeks when training on a random ``fraction`` of the training weeks' samples.

    For each draw, one week-grouped split into ``n_splits`` folds; in every fold the model is fitted on
    ``max(min_labels, round(fraction * n_train))`` samples drawn at random from the training weeks and
    predicts the held-out weeks; R² is pooled over the folds. One row per (fraction, draw).
    """
    X, y, groups = np.asarray(X, np.float64), np.asarray(y, np.float64), np.asarray(groups)
    rows = []
    rng = np.random.default_rng(seed)
    for draw in range(n_draws):
        splitter = RepeatedGroupKFold(n_splits=n_splits, n_repeats=1, seed=seed + 1000 * draw)
        folds = list(splitter.split(X, y, groups))
        for fraction in fractions:
            predicted = np.full(y.shape, np.nan)
            labels = []
            for train, test in folds:
                n = min(train.size, max(min_labels, int(round(fraction * train.size))))
                chosen = rng.choice(train, size=n, replace=False)
                predicted[test] = model_factory().fit(X[chosen], y[chosen]).predict(X[test])
                labels.append(n)
            rows.append({"fraction": fraction, "draw": draw, "labels": float(np.mean(labels)),
                         **scores(y, predicted)})
    return pd.DataFrame(rows)


def summarise(curve: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Median R² per fraction with a percentile band over draws."""
    tail = (1 - level) / 2
    grouped = curve.groupby("fraction")
    return pd.DataFrame({
        "labels": grouped["labels"].mean(),
        "r2": grouped["r2"].median(),
        "r2_low": grouped["r2"].quantile(tail),
        "r2_high": grouped["r2"].quantile(1 - tail),
    })


def efficiency_factor(method: pd.DataFrame, reference: pd.DataFrame, at: float = 0.05) -> float:
    """How many times more labels ``reference`` needs to match ``method``'s R² at fraction ``at``.

    Both are :func:`summarise` tables. The reference's median R² curve is interpolated linearly in
    log(fraction); if it never reaches the target the factor is ``inf`` (reported as "more than
    1/at"); if it already beats the method at ``at`` the factor is below 1 (the method is *less*
    label-efficient); below the smallest fraction there is no curve, so the factor is then an upper bound,
    ``fractions[0] / at`` (1.0 when the curves start at ``at``).
    """
    target = float(method.loc[at, "r2"])
    fractions = reference.index.to_numpy(float)
    r2 = reference["r2"].to_numpy(float)
    if r2[0] >= target:  # the reference already matches at its smallest fraction: an upper bound
        return float(fractions[0] / at)
    above = np.flatnonzero(r2 >= target)
    if above.size == 0:
        return float("inf")
    i = above[0]
    lo, hi = np.log(fractions[i - 1]), np.log(fractions[i])
    t = (target - r2[i - 1]) / (r2[i] - r2[i - 1])
    return float(np.exp(lo + t * (hi - lo)) / at)


def describe_factor(method: pd.DataFrame, reference: pd.DataFrame, at: float = 0.05) -> str:
    """:func:`efficiency_factor` in words: ``"3.16x"``, ``"more than 20x"`` or ``"at most 1x"``."""
    factor = efficiency_factor(method, reference, at)
    if np.isinf(factor):
        return f"more than {1 / at:.0f}x (the reference never reaches it)"
    if float(reference["r2"].iloc[0]) >= float(method.loc[at, "r2"]):
        return f"at most {factor:.2g}x (the reference is as good or better with the fewest labels)"
    return f"{factor:.2f}x"
