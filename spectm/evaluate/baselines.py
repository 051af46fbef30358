"""The baseline grid: seven classical regressors on every feature set, scored by the protocol.

Each algorithm is a scikit-learn Pipeline ``drop all-NaN columns -> median imputation -> standardise ->
regressor``: the 9 OCI gap bands (and any column empty in a training fold) are dropped inside the
fold, a rare missing value takes the fold's median, and scaling is learned on the training fold only.

**Nested search.** The outer loop is :func:`spectm.evaluate.protocol.evaluate_features` (week-grouped,
repeated); inside each outer training fold a ``GridSearchCV`` with ``GroupKFold`` by week
(``inner_splits`` folds) picks the hyper-parameters on R^2 and refits. The reported score never sees
the data that chose the hyper-parameters.

**The paper's 26,208 configurations** = 7 algorithms x 78 feature sets x 48. This project reads the 48 as
2 tasks (current week, 8 days ahead) x 24 hyper-parameter settings per algorithm: every ``paper`` grid of
:data:`ALGORITHMS` has exactly 24 settings (:func:`count_configurations`). The ``quick`` profile keeps 4
algorithms with 2-3 settings each, 6 feature sets and 2 repeats, to run in about a minute on 2 cores.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from spectm.evaluate import features as feats
from spectm.evaluate import protocol


class DropAllNaNColumns(TransformerMixin, BaseEstimator):
    """Drop the columns that hold no value in the training data (the OCI gap bands)."""

    def fit(self, X, y=None):
        self.keep_ = ~np.all(np.isnan(np.asarray(X, np.float64)), axis=0)
        return self

    def transform(self, X):
        return np.asarray(X, np.float64)[:, self.keep_]


def _logspace(lo, hi, n):
    return [float(v) for v in np.logspace(lo, hi, n)]


#: name -> (estimator factory, {"quick": grid, "paper": grid}); paper grids have 24 settings each.
ALGORITHMS: dict[str, tuple] = {
    "ridge": (lambda seed: Ridge(), {
        "quick": {"alpha": [1.0, 10.0, 100.0]},
        "paper": {"alpha": _logspace(-3, 4, 24)},
    }),
    "lasso": (lambda seed: Lasso(max_iter=20_000), {
        "quick": {"alpha": [0.01, 0.1]},
        "paper": {"alpha": _logspace(-4, 1, 24)},
    }),
    "elasticnet": (lambda seed: ElasticNet(max_iter=20_000), {
        "quick": {"alpha": [0.01, 0.1], "l1_ratio": [0.5]},
        "paper": {"alpha": _logspace(-4, 1, 6), "l1_ratio": [0.1, 0.5, 0.7, 0.9]},
    }),
    "svr": (lambda seed: SVR(kernel="rbf"), {
        "quick": {"C": [1.0, 10.0], "gamma": ["scale"], "epsilon": [0.1]},
        "paper": {"C": [0.1, 1.0, 10.0, 100.0], "gamma": ["scale", 0.01, 0.001], "epsilon": [0.05, 0.2]},
    }),
    "random_forest": (lambda seed: RandomForestRegressor(n_estimators=300, random_state=seed), {
        "quick": {"n_estimators": [25], "max_depth": [4, None], "max_features": [0.33], "min_samples_leaf": [2]},
        "paper": {"max_depth": [None, 4, 8, 16], "max_features": [1.0, "sqrt", 0.33], "min_samples_leaf": [1, 5]},
    }),
    "gradient_boosting": (lambda seed: GradientBoostingRegressor(random_state=seed), {
        "quick": {"n_estimators": [50], "max_depth": [2, 3], "learning_rate": [0.1]},
        "paper": {"learning_rate": [0.03, 0.1], "max_depth": [2, 3, 4], "n_estimators": [100, 300],
                  "subsample": [0.7, 1.0]},
    }),
    "knn": (lambda seed: KNeighborsRegressor(), {
        "quick": {"n_neighbors": [5, 10], "weights": ["distance"]},
        "paper": {"n_neighbors": [3, 5, 7, 9, 11, 15], "weights": ["uniform", "distance"], "p": [1, 2]},
    }),
}  # fmt: skip

#: Algorithms of the quick profile (linear, kernel, tree ensemble, neighbours).
QUICK_ALGORITHMS = ("ridge", "svr", "random_forest", "knn")

#: Outer CV and inner search sizes per profile.
PROFILE_SETTINGS = {
    "quick": {"n_splits": 5, "n_repeats": 2, "inner_splits": 3, "n_boot": 500},
    "paper": {"n_splits": 5, "n_repeats": 10, "inner_splits": 4, "n_boot": 2000},
}
PROFILE_SETTINGS["study"] = PROFILE_SETTINGS["quick"]  # study: quick's grid, a larger fair test

#: Column name of the task (lead time) in result tables.
TASKS = {0: "current_week", 8: "8_day_ahead"}


def algorithms(profile: str = "quick") -> tuple[str, ...]:
    """Algorithm names of a profile: all 7 for ``paper``, :data:`QUICK_ALGORITHMS` for ``quick``."""
    if profile not in PROFILE_SETTINGS:
        raise ValueError(f"unknown profile {profile!r}: expected one of {', '.join(PROFILE_SETTINGS)}")
    return tuple(ALGORITHMS) if profile == "paper" else QUICK_ALGORITHMS


def param_grid(algorithm: str, profile: str = "quick") -> dict:
    """The hyper-parameter grid of ``algorithm`` (keys without the pipeline prefix)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}: expected one of {', '.join(ALGORITHMS)}")
    return ALGORITHMS[algorithm][1]["paper" if profile == "paper" else "quick"]


def grid_size(grid: dict) -> int:
    return int(np.prod([len(v) for v in grid.values()]))


def make_pipeline(algorithm: str, seed: int = 0, **params) -> Pipeline:
    """``DropAllNaNColumns -> SimpleImputer(median) -> StandardScaler -> regressor`` with ``params`` set."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}: expected one of {', '.join(ALGORITHMS)}")
    regressor = ALGORITHMS[algorithm][0](seed).set_params(**params)
    return Pipeline([("drop_empty", DropAllNaNColumns()), ("impute", SimpleImputer(strategy="median")),
                     ("scale", StandardScaler()), ("model", regressor)])  # fmt: skip


def make_search(
    algorithm: str, profile: str = "quick", seed: int = 0, inner_splits: int | None = None
) -> GridSearchCV:
    """The nested search of one algorithm: its pipeline in a ``GridSearchCV`` with ``GroupKFold`` by week."""
    inner = inner_splits or PROFILE_SETTINGS[profile]["inner_splits"]
    grid = {f"model__{k}": v for k, v in param_grid(algorithm, profile).items()}
    return GridSearchCV(make_pipeline(algorithm, seed), grid, cv=GroupKFold(n_splits=inner), scoring="r2",
                        n_jobs=1, error_score="raise")  # fmt: skip


def count_configurations(profile: str = "paper", n_tasks: int = 2) -> dict:
    """Configurations of a profile: algorithms x feature sets x tasks x hyper-parameter settings."""
    names = algorithms(profile)
    n_sets = len(feats.feature_sets(profile))
    settings = {name: grid_size(param_grid(name, profile)) for name in names}
    return {"algorithms": len(names), "feature_sets": n_sets, "tasks": n_tasks, "settings": settings,
            "total": int(sum(settings.values()) * n_sets * n_tasks)}  # fmt: skip


def _task_name(table) -> str:
    lead = int(table.attrs.get("lead_days", 0))
    return TASKS.get(lead, f"{lead}_day_ahead")


def _evaluate_one(X, y, groups, algorithm, profile, seed, settings) -> dict:
    start = time.perf_counter()
    result = protocol.evaluate_features(
        X,
        y,
        groups,
        lambda: make_search(algorithm, profile, seed, settings["inner_splits"]),
        n_splits=settings["n_splits"],
        n_repeats=settings["n_repeats"],
        seed=seed,
        n_boot=settings["n_boot"],
    )
    params = Counter(repr(sorted(p.items())) for p in result.fold_params if p)
    row = result.summary()
    row.update(
        {"best_params": params.most_common(1)[0][0] if params else "", "seconds": time.perf_counter() - start}
    )
    return row


def run_grid(feature_sets, algorithms_, table, target: str = "particulate_microcystin", profile: str = "quick",
             n_jobs: int = 2, nondetects: str = "substitute_limit", weather: pd.DataFrame | None = None,
             embedding=None, seed: int = 0, settings: dict | None = None) -> pd.DataFrame:  # fmt: skip
    """Every (feature set, algorithm) on one task's matchup table, scored by the nested protocol.

    ``feature_sets``: names or a ``{name: FeatureSet}`` dict (e.g. ``features.feature_sets(profile)``);
    ``algorithms_``: names of :data:`ALGORITHMS`. ``target`` is the concentration variable, censored
    as ``mc_censored`` and handled by ``nondetects`` (:data:`protocol.NONDETECT_CHOICES`). All
    configurations share the same outer splits (``seed``), so their scores are paired. Runs the
    configurations in parallel with joblib (``n_jobs`` processes). One row per configuration: task,
    feature_set, algorithm, n_features, r2 with its week-bootstrap interval, rmse, mae, ...
    """
    settings = {**PROFILE_SETTINGS[profile], **(settings or {})}
    names = list(feature_sets) if not isinstance(feature_sets, dict) else list(feature_sets.keys())
    unknown = [a for a in algorithms_ if a not in ALGORITHMS]
    if unknown:
        raise ValueError(f"unknown algorithms {unknown}: expected names of {', '.join(ALGORITHMS)}")
    censored = "mc_censored" if target == "particulate_microcystin" else f"{target}_censored"
    y, keep = protocol.table_target(table, nondetects, label=target, censored=censored)
    groups = protocol.table_groups(table)[keep]
    matrices = {}
    for name in names:
        frame = feats.feature_matrix(table, name, weather=weather, embedding=embedding)
        matrices[name] = frame.to_numpy(np.float64)[keep]
    jobs = [(name, algorithm) for name in names for algorithm in algorithms_]
    rows = Parallel(n_jobs=n_jobs)(
        delayed(_evaluate_one)(matrices[name], y, groups, algorithm, profile, seed, settings)
        for name, algorithm in jobs
    )
    task = _task_name(table)
    out = pd.DataFrame([{"task": task, "feature_set": name, "algorithm": algorithm,
                         "n_features": int(np.sum(~np.all(np.isnan(matrices[name]), axis=0))), **row}
                        for (name, algorithm), row in zip(jobs, rows)])  # fmt: skip
    out.attrs.update({"profile": profile, "nondetects": nondetects, "seed": seed, **settings})
    return out


def best_baseline(results: pd.DataFrame) -> pd.DataFrame:
    """The configuration with the highest R^2 of each task (one row per task)."""
    index = results.groupby("task")["r2"].idxmax()
    return results.loc[index].reset_index(drop=True)


def aux_only(results: pd.DataFrame, feature_set: str = "weather") -> pd.DataFrame:
    """The best weather-only (AUX-only) configuration of each task."""
    subset = results[results["feature_set"] == feature_set]
    if subset.empty:
        raise ValueError(
            f"results hold no {feature_set!r} feature set; include it in run_grid's feature_sets"
        )
    return best_baseline(subset)
