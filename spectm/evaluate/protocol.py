"""The downstream evaluation protocol, stated once: how every microcystin score in the book is made.

1. **Target.** ``y = log10(particulate microcystin, ug/L)``. Microcystin is log-normal above its
   reporting floor, and the paper's R^2 only makes sense on a log scale.
2. **Non-detects** (40% of GLERL routine samples sit at the floor; the value stored is the detection
   limit with ``mc_censored`` True) are treated by one named choice of :data:`NONDETECT_CHOICES`:

   - ``"substitute_limit"`` (default): the non-detect takes its detection limit. Simple, and what the
     paper's "0.10-10.70 ug/L" range suggests it did (0.10 is the NCEI limit).
   - ``"half_limit"``: limit / 2, the common environmental-statistics substitute.
   - ``"limit_over_sqrt2"``: limit / sqrt(2), the substitute for a log-normal below the limit.
   - ``"drop"``: non-detects leave the data set (train and test alike); R^2 then measures only how well
     detected concentrations are ranked, on fewer samples.

   Substitutes move R^2 a lot because a pile of identical values far below the rest adds variance that
   is easy to explain (bloom or no bloom). :func:`nondetect_sensitivity` shows by how much.
3. **Cross-validation grouped by sampling week.** A group is the ISO week (year*100 + week) of the
   sample's *local* date (GLERL samples a cruise per week, so samples of one week share weather, one
   image and one bloom state; splitting them would leak). No week sits on both sides of a split.
4. **Repeats.** :class:`RepeatedGroupKFold`: each repeat shuffles the weeks with its own seed and cuts
   the shuffled order into ``n_splits`` folds of about equal *sample* count. Every configuration
   evaluated with the same ``seed`` sees the same splits, so configurations are compared paired.
5. **Scores.** In each repeat the out-of-fold predictions of all folds are pooled and R^2, RMSE and MAE
   computed once on all samples (pooled, not averaged over folds: folds of a few weeks have tiny and
   unequal target variance). The point estimate is the mean over repeats.
6. **Interval.** A percentile **bootstrap over weeks** (cluster bootstrap: resample weeks with
   replacement, every sample of a drawn week enters with that week's count), applied to the pooled
   out-of-fold predictions of every repeat and averaged over repeats, at ``level`` (default 95%). It
   expresses how much the score would move with another season of the same sampling programme; the
   spread over repeats (``repeat_min``/``repeat_max``) only says how much the split choice matters.
   Models are not refitted inside the bootstrap, so the interval ignores refit variance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Named treatments of non-detects; the first is the default.
NONDETECT_CHOICES = ("substitute_limit", "half_limit", "limit_over_sqrt2", "drop")

_SUBSTITUTE_FACTOR = {"substitute_limit": 1.0, "half_limit": 0.5, "limit_over_sqrt2": 1.0 / np.sqrt(2.0)}


def log10_target(values, censored, nondetects: str = "substitute_limit") -> tuple[np.ndarray, np.ndarray]:
    """``(y, keep)``: log10 concentration of the kept samples and the boolean mask of kept samples.

    ``values`` are concentrations (ug/L) with non-detects at their detection limit; ``censored`` flags
    them. NaN values are always dropped; so are censored ones under ``nondetects="drop"``.
    """
    if nondetects not in NONDETECT_CHOICES:
        raise ValueError(f"nondetects={nondetects!r}: expected one of {', '.join(NONDETECT_CHOICES)}")
    values = np.asarray(values, np.float64)
    censored = np.asarray(censored, bool)
    if values.shape != censored.shape:
        raise ValueError(f"values {values.shape} and censored {censored.shape} differ in shape")
    if np.any(values[np.isfinite(values)] <= 0):
        raise ValueError("microcystin values must be > 0 ug/L (non-detects carry their detection limit)")
    keep = np.isfinite(values)
    if nondetects == "drop":
        keep &= ~censored
        factor = np.ones_like(values)
    else:
        factor = np.where(censored, _SUBSTITUTE_FACTOR[nondetects], 1.0)
    return np.log10(values[keep] * factor[keep]), keep


def table_target(table, nondetects: str = "substitute_limit", label: str = "particulate_microcystin",
                 censored: str = "mc_censored") -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`log10_target` of a matchup table (``match_samples(...).table``)."""
    for name in (label, censored):
        if name not in table:
            raise ValueError(f"matchup table lacks the variable {name!r} (expected match_samples(...).table)")
    return log10_target(np.asarray(table[label].values), np.asarray(table[censored].values), nondetects)


def sampling_week(dates) -> np.ndarray:
    """ISO sampling week ``year * 100 + week`` of each (local) date: the CV group."""
    iso = pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[ns]")).isocalendar()
    if iso["week"].isna().any():
        raise ValueError("sampling_week: some dates are missing (NaT); every sample needs a date")
    return iso["year"].to_numpy(np.int64) * 100 + iso["week"].to_numpy(np.int64)


def table_groups(table) -> np.ndarray:
    """Sampling week of each sample of a matchup table, from its local ``date`` (else its UTC ``time``)."""
    dates = table["date"].values if "date" in table else table["time"].values
    return sampling_week(dates)


class RepeatedGroupKFold:
    """Repeated K-fold over groups, shuffled per repeat, folds balanced by sample count.

    Repeat ``r`` permutes the unique groups with ``numpy.random.default_rng([seed, r])`` and cuts the
    permuted sequence where the cumulative sample count crosses ``k * n / n_splits``, so every fold is a
    contiguous run of whole groups. ``split`` yields ``(train_index, test_index)`` like scikit-learn's
    splitters (repeat after repeat); :meth:`repeat_splits` yields the folds of one repeat.
    """

    def __init__(self, n_splits: int = 5, n_repeats: int = 5, seed: int = 0):
        if n_splits < 2:
            raise ValueError(f"n_splits={n_splits}: expected at least 2")
        if n_repeats < 1:
            raise ValueError(f"n_repeats={n_repeats}: expected at least 1")
        self.n_splits, self.n_repeats, self.seed = int(n_splits), int(n_repeats), int(seed)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits * self.n_repeats

    def fold_ids(self, groups, repeat: int) -> np.ndarray:
        """Fold number (0 ... n_splits-1) of every sample in repeat ``repeat``."""
        groups = np.asarray(groups)
        unique, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        if unique.size < self.n_splits:
            raise ValueError(f"{unique.size} groups cannot fill {self.n_splits} folds; lower n_splits")
        order = np.random.default_rng([self.seed, repeat]).permutation(unique.size)
        cumulative = np.cumsum(counts[order]) - counts[order] / 2.0  # centre of each group in the run
        fold_of_ordered = np.minimum(
            (cumulative * self.n_splits / groups.size).astype(np.int64), self.n_splits - 1
        )
        # guarantee non-empty folds when a few big groups dominate: fall back to an even cut of groups
        if np.unique(fold_of_ordered).size < self.n_splits:
            fold_of_ordered = np.arange(unique.size) * self.n_splits // unique.size
        fold_of_group = np.empty(unique.size, np.int64)
        fold_of_group[order] = fold_of_ordered
        return fold_of_group[inverse]

    def repeat_splits(self, groups, repeat: int):
        folds = self.fold_ids(groups, repeat)
        index = np.arange(folds.size)
        for k in range(self.n_splits):
            yield index[folds != k], index[folds == k]

    def split(self, X=None, y=None, groups=None):
        if groups is None:
            raise ValueError("RepeatedGroupKFold needs groups (the sampling week of each sample)")
        for repeat in range(self.n_repeats):
            yield from self.repeat_splits(groups, repeat)


class LeaveOneSeasonOut:
    """Train on every other season, test on one: the split a forecaster would accept.

    A season is a year of samples (and of imagery: pretraining must see only the training seasons, which
    :func:`spectm.experiments.season_pretraining_data` enforces). It has one "repeat" whose folds are the
    seasons, in sorted order, so it can stand in for :class:`RepeatedGroupKFold` in
    :func:`evaluate_features`; weeks stay the unit of the bootstrap.
    """

    n_repeats = 1

    def __init__(self, seasons):
        self.seasons = np.asarray(seasons)
        if np.unique(self.seasons).size < 2:
            raise ValueError("leave-one-season-out needs at least two seasons; got "
                             f"{np.unique(self.seasons).tolist()}")

    @property
    def n_splits(self) -> int:
        return int(np.unique(self.seasons).size)

    def repeat_splits(self, groups, repeat: int = 0):
        if np.asarray(groups).size != self.seasons.size:
            raise ValueError(f"{np.asarray(groups).size} samples but {self.seasons.size} season labels")
        index = np.arange(self.seasons.size)
        for season in np.unique(self.seasons):
            yield index[self.seasons != season], index[self.seasons == season]


def sample_season(dates) -> np.ndarray:
    """The season (calendar year of the local date) of each sample."""
    return pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[ns]")).year.to_numpy(np.int64)


def scores(y_true, y_pred, weights=None) -> dict[str, float]:
    """R^2 (1 - SSE/SST about the weighted mean of ``y_true``), RMSE and MAE, optionally weighted."""
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    w = np.ones_like(y_true) if weights is None else np.asarray(weights, np.float64)
    residual = y_true - y_pred
    mean = np.sum(w * y_true) / np.sum(w)
    sst = np.sum(w * (y_true - mean) ** 2)
    sse = np.sum(w * residual**2)
    return {"r2": float(1.0 - sse / sst) if sst > 0 else float("nan"),
            "rmse": float(np.sqrt(sse / np.sum(w))), "mae": float(np.sum(w * np.abs(residual)) / np.sum(w))}  # fmt: skip


def _r2_rows(y, predictions, weights) -> np.ndarray:
    """R^2 of each row of ``predictions`` (repeat, n) under each row of ``weights`` (draw, n): (draw, repeat)."""
    total = weights.sum(axis=1, keepdims=True)
    mean = (weights @ y)[:, None] / total
    sst = weights @ (y**2) - total[:, 0] * mean[:, 0] ** 2
    sse = weights @ ((y[None, :] - predictions) ** 2).T
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - sse / sst[:, None]


def week_bootstrap_r2(y, predictions, groups, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """R^2 averaged over repeats, under ``n_boot`` resamplings of the weeks (cluster bootstrap).

    ``predictions`` is (repeat, n) or (n,). Vectorised: a draw is a multinomial count per week, and each
    sample is weighted by its week's count. Draws with zero target variance give NaN (dropped later).
    """
    y = np.asarray(y, np.float64)
    predictions = np.atleast_2d(np.asarray(predictions, np.float64))
    unique, inverse = np.unique(np.asarray(groups), return_inverse=True)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(unique.size, np.full(unique.size, 1.0 / unique.size), size=n_boot).astype(
        np.float64
    )
    return np.nanmean(_r2_rows(y, predictions, counts[:, inverse]), axis=1)


@dataclass
class EvaluationResult:
    """Scores of one model on one feature set under the protocol."""

    r2: float
    rmse: float
    mae: float
    interval: tuple[float, float]
    level: float
    per_repeat: pd.DataFrame
    oof: np.ndarray  # (repeat, sample) out-of-fold predictions of log10 MC
    y: np.ndarray
    groups: np.ndarray
    fold_params: list = field(default_factory=list)  # best hyper-parameters per outer fold (nested search)

    @property
    def repeat_min(self) -> float:
        return float(self.per_repeat["r2"].min())

    @property
    def repeat_max(self) -> float:
        return float(self.per_repeat["r2"].max())

    def summary(self) -> dict:
        return {"r2": self.r2, "r2_low": self.interval[0], "r2_high": self.interval[1], "rmse": self.rmse,
                "mae": self.mae, "r2_repeat_min": self.repeat_min, "r2_repeat_max": self.repeat_max,
                "n_samples": int(self.y.size), "n_weeks": int(np.unique(self.groups).size)}  # fmt: skip


def fit_with_weeks(model, X, y, groups):
    """Fit, handing the training samples' weeks to whatever chooses hyper-parameters inside the fold: a
    search (``GridSearchCV``) or the last step of a pipeline (possibly wrapped, as by
    ``ClippedToTrainingRange``) whose ``fit`` takes ``groups``. Its inner CV is then grouped by week too."""
    import inspect

    from sklearn.model_selection._search import BaseSearchCV
    from sklearn.pipeline import Pipeline

    if isinstance(model, BaseSearchCV):
        return model.fit(X, y, groups=groups)
    inner = getattr(model, "estimator", model)
    if isinstance(inner, Pipeline) and "groups" in inspect.signature(inner.steps[-1][1].fit).parameters:
        return model.fit(X, y, **{f"{inner.steps[-1][0]}__groups": groups})
    return model.fit(X, y)


_fit = fit_with_weeks  # the name spectm.evaluate.robustness imports


def evaluate_features(X, y, groups, model_factory: Callable[[], object], n_splits: int = 5, n_repeats: int = 5,
                      seed: int = 0, level: float = 0.95, n_boot: int = 1000,
                      splitter=None) -> EvaluationResult:  # fmt: skip
    """Out-of-fold scores of ``model_factory()`` on ``(X, y)`` under week-grouped repeated K-fold.

    ``model_factory`` returns a fresh unfitted scikit-learn regressor (a ``GridSearchCV`` is fitted with
    the groups, so its inner search is grouped by week as well). Returns per-repeat pooled scores, the
    out-of-fold predictions, the mean over repeats and the week-bootstrap interval at ``level``.
    ``splitter`` replaces the week-grouped K-fold (e.g. :class:`LeaveOneSeasonOut`); the bootstrap still
    resamples weeks.
    """
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    groups = np.asarray(groups)
    if X.ndim != 2 or X.shape[0] != y.size or groups.size != y.size:
        raise ValueError(f"X {X.shape}, y {y.shape} and groups {groups.shape} must agree on the sample count")
    if not 0 < level < 1:
        raise ValueError(f"level={level}: expected a fraction in (0, 1)")
    splitter = splitter or RepeatedGroupKFold(n_splits, n_repeats, seed)
    n_repeats = splitter.n_repeats
    oof = np.full((n_repeats, y.size), np.nan)
    rows, fold_params = [], []
    for repeat in range(n_repeats):
        for train, test in splitter.repeat_splits(groups, repeat):
            model = fit_with_weeks(model_factory(), X[train], y[train], groups[train])
            oof[repeat, test] = model.predict(X[test])
            fold_params.append(getattr(model, "best_params_", None))
        rows.append({"repeat": repeat, **scores(y, oof[repeat])})
    per_repeat = pd.DataFrame(rows)
    boot = week_bootstrap_r2(y, oof, groups, n_boot=n_boot, seed=seed)
    alpha = (1.0 - level) / 2.0
    interval = tuple(float(v) for v in np.nanquantile(boot, [alpha, 1.0 - alpha]))
    return EvaluationResult(r2=float(per_repeat["r2"].mean()), rmse=float(per_repeat["rmse"].mean()),
                            mae=float(per_repeat["mae"].mean()), interval=interval, level=level,
                            per_repeat=per_repeat, oof=oof, y=y, groups=groups, fold_params=fold_params)  # fmt: skip


def nondetect_sensitivity(X, values, censored, groups, model_factory, choices=NONDETECT_CHOICES,
                          **protocol) -> pd.DataFrame:  # fmt: skip
    """How R^2 moves under each non-detect treatment, same model, same features, same seeds.

    One row per choice: n samples, fraction censored among them, R^2 with interval, RMSE, and
    ``r2_detected``: R^2 of the same out-of-fold predictions on the detected samples only (how much of
    the score is the easy bloom / no-bloom separation).
    """
    X = np.asarray(X, np.float64)
    censored = np.asarray(censored, bool)
    groups = np.asarray(groups)
    rows = []
    for choice in choices:
        y, keep = log10_target(values, censored, choice)
        result = evaluate_features(X[keep], y, groups[keep], model_factory, **protocol)
        detected = ~censored[keep]
        r2_detected = (
            np.mean([scores(y[detected], p[detected])["r2"] for p in result.oof])
            if detected.sum() > 1
            else np.nan
        )
        rows.append({"nondetects": choice, "n_samples": int(keep.sum()), "censored_fraction": float(censored[keep].mean()),
                     "r2": result.r2, "r2_low": result.interval[0], "r2_high": result.interval[1],
                     "rmse": result.rmse, "r2_detected": float(r2_detected)})  # fmt: skip
    return pd.DataFrame(rows)
