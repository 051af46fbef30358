"""Ablations: the same model, loss and budget with one thing changed, scored the same way downstream.

Two families of runs: the five masking families at the matched budget (does *where* the bands are hidden
matter?), and each self-supervised head removed in turn (what does each task add?). Every run is
pretrained with several seeds; downstream, one fixed model (:func:`ridge` on the frozen embeddings,
predictions clipped to the training range) is scored by the week-grouped protocol, and differences are
taken seed by seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from spectm.evaluate import protocol
from spectm.profiles import get_profile

#: Loss weights (reconstruction, indices, temporal) of the head ablations; the paper's are 1.0/0.5/0.3.
HEAD_ABLATIONS = {
    "all heads": (1.0, 0.5, 0.3),
    "no index head": (1.0, 0.0, 0.3),
    "no temporal head": (1.0, 0.5, 0.0),
    "reconstruction only": (1.0, 0.0, 0.0),
}


def ablation_budget(profile: str) -> dict:
    """Chapter 7's budget under ``profile``: pretraining ``seeds`` and ``epochs`` per ablation run, the
    ``fraction`` of training pixels the runs see, and ``label_draws`` per label fraction."""
    section = get_profile(profile)["ablation"]
    return {"seeds": int(section["seeds"]), "epochs": int(section["epochs"]),
            "fraction": float(section["fraction"]), "label_draws": int(section["label_draws"])}


class ClippedToTrainingRange(RegressorMixin, BaseEstimator):
    """A regressor whose predictions are clipped to the range of the targets it was fitted on.

    log10 microcystin is bounded below by the reporting limit and, in practice, above by the largest
    bloom seen; a linear model fed a held-out week's unusual spectrum can otherwise extrapolate to
    absurd values (10^5 ug/L was seen on the twin) and one such point dominates R².
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, **fit_params):
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.range_ = (float(np.min(y)), float(np.max(y)))
        return self

    def predict(self, X):
        return np.clip(self.estimator_.predict(X), *self.range_)


def ridge():
    """The fixed downstream model of the ablations: standardise, ridge with alpha >= 1 by leave-one-out,
    predictions clipped to the training range (:class:`ClippedToTrainingRange`)."""
    return ClippedToTrainingRange(make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(0, 5, 26))))


def downstream_r2(embedding, table, n_repeats: int = 5, seed: int = 0) -> dict:
    """R² of :func:`ridge` on ``embedding`` for one matchup table under the protocol (with its interval)."""
    y, keep = protocol.table_target(table)
    groups = protocol.table_groups(table)[keep]
    result = protocol.evaluate_features(np.asarray(embedding)[keep], y, groups, ridge, n_repeats=n_repeats,
                                        seed=seed, n_boot=300)
    return {"r2": result.r2, "r2_low": result.interval[0], "r2_high": result.interval[1]}


def paired_difference(results: pd.DataFrame, column: str, treatment: str, reference: str, level: float = 0.95,
                      value: str = "r2") -> dict:
    """Mean of ``value[treatment] - value[reference]`` over seeds, with a t interval over the seeds.

    ``results`` has one row per (``column`` value, seed, ...). With few seeds the interval is wide; it
    says how much of a difference the pretraining seed alone can make.
    """
    pivot = results.pivot_table(index="seed", columns=column, values=value)
    differences = (pivot[treatment] - pivot[reference]).dropna().to_numpy()
    n = differences.size
    mean = float(differences.mean()) if n else float("nan")
    if n > 1:
        half = float(stats.t.ppf(0.5 + level / 2, n - 1) * differences.std(ddof=1) / np.sqrt(n))
    else:
        half = float("nan")
    return {"treatment": treatment, "reference": reference, "seeds": n, "difference": mean,
            "low": mean - half, "high": mean + half}
