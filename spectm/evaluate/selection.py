"""What reporting the best of N configurations does to the number reported.

The paper's baseline is the best of many configurations, each scored by cross-validation on the same
samples; the best score of many noisy scores is biased upward (the winner's curse). The book measures
the bias directly: every configuration of the grid is also fitted on all of one season's samples and
scored on another season's, which no configuration was chosen on. The drop of the winner, beyond the
drop every configuration shares (the change of season), is what the choice itself added.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from spectm.evaluate import baselines, protocol
from spectm.evaluate import features as feats


def _other_season_r2(table, other, feature_set: str, algorithm: str, profile: str, seed: int) -> float:
    """R^2 on ``other``'s samples of one configuration fitted (with its nested search) on ``table``'s."""
    y, keep = protocol.table_target(table)
    y_other, keep_other = protocol.table_target(other)
    X = feats.feature_matrix(table, feature_set).to_numpy(np.float64)[keep]
    X_other = feats.feature_matrix(other, feature_set).to_numpy(np.float64)[keep_other]
    model = protocol.fit_with_weeks(baselines.make_search(algorithm, profile, seed), X, y,
                                    protocol.table_groups(table)[keep])
    return protocol.scores(y_other, model.predict(X_other))["r2"]


def other_season_scores(grid: pd.DataFrame, tables: dict, others: dict, profile: str = "quick", seed: int = 0,
                        n_jobs: int = 2) -> pd.DataFrame:  # fmt: skip
    """``grid`` (one row per task, feature set, algorithm) with ``r2_other_season`` added.

    ``tables`` and ``others`` map the grid's task names to this season's and another season's matchup
    tables; each configuration is fitted on the first and scored on the second.
    """
    missing = sorted(set(grid["task"]) - set(tables) | set(grid["task"]) - set(others))
    if missing:
        raise ValueError(f"no matchup table for tasks {missing}: tables and others need every task of the grid")
    r2 = Parallel(n_jobs=n_jobs)(
        delayed(_other_season_r2)(tables[row.task], others[row.task], row.feature_set, row.algorithm, profile, seed)
        for row in grid.itertuples())
    return grid.assign(r2_other_season=r2)


def selection_effect(scored: pd.DataFrame) -> list[dict]:
    """Per task: the best of N configurations by cross-validated R^2, and what it scores on another season.

    ``selection_effect`` is the winner's drop minus the median drop of all configurations: the part of
    the winner's cross-validated R^2 that came from being chosen, not from the change of season.
    """
    rows = []
    for task, frame in scored.groupby("task", sort=False):
        winner = frame.loc[frame["r2"].idxmax()]
        drops = frame["r2"] - frame["r2_other_season"]
        winner_drop = float(winner["r2"] - winner["r2_other_season"])
        rank = int((frame["r2_other_season"] > winner["r2_other_season"]).sum()) + 1
        rows.append({"task": task, "configurations": int(len(frame)), "winner": f"{winner['algorithm']} on "
                     f"{winner['feature_set']}", "winner_r2_cv": float(winner["r2"]),
                     "winner_r2_other_season": float(winner["r2_other_season"]),
                     "winner_rank_other_season": rank, "median_r2_cv": float(frame["r2"].median()),
                     "median_r2_other_season": float(frame["r2_other_season"].median()),
                     "best_r2_other_season": float(frame["r2_other_season"].max()),
                     "median_drop": float(drops.median()), "winner_drop": winner_drop,
                     "selection_effect": winner_drop - float(drops.median())})
    return rows


TASK_LABELS = {"current_week": "current week", "8_day_ahead": "8 days ahead"}


def selection_frame(rows: list[dict], season, other_season) -> pd.DataFrame:
    """:func:`selection_effect`'s rows as a reader's table: one row per quantity (its unit in its name),
    one column per task; counts print as integers, R² to 3 decimals."""
    if not rows:
        return pd.DataFrame({"best of N": [f"not measured: no season besides {season} to score the winner on"]})
    cv, out = f"R², CV within {season}", f"R², fitted on {season}, scored on {other_season}"
    lines = [("configurations compared (N)", "configurations", "{:d}"),
             ("the winner (highest CV R²)", "winner", "{}"),
             (f"winner's {cv}", "winner_r2_cv", "{:.3f}"),
             (f"winner's {out}", "winner_r2_other_season", "{:.3f}"),
             (f"winner's rank on {other_season} (1 = best of N)", "winner_rank_other_season", "{:d}"),
             (f"median configuration's {cv}", "median_r2_cv", "{:.3f}"),
             (f"median configuration's {out}", "median_r2_other_season", "{:.3f}"),
             ("selection effect (R²): the winner's drop minus the median drop", "selection_effect", "{:+.3f}")]
    return pd.DataFrame({"quantity": [label for label, _, _ in lines],
                         **{TASK_LABELS.get(r["task"], r["task"]): [form.format(r[key]) for _, key, form in lines]
                            for r in rows}})


def selection_table(rows: list[dict], season, other_season):
    """:func:`selection_frame` for a page, without an index column."""
    return selection_frame(rows, season, other_season).style.hide(axis="index")
