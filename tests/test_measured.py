"""Chapter 9's tables beyond the headline claims, and the best-of-N selection effect chapter 6 saves."""

import pandas as pd
import pytest

from spectm.evaluate import measured, selection


def _scored() -> pd.DataFrame:
    """Four configurations of one task: the winner by CV (d) drops by 0.5 on the other season, the rest by 0.1."""
    return pd.DataFrame({"task": "current_week", "feature_set": ["a", "b", "c", "d"], "algorithm": "ridge",
                         "r2": [0.1, 0.2, 0.3, 0.9], "r2_other_season": [0.0, 0.1, 0.2, 0.4]})


def test_selection_effect_is_the_winners_drop_beyond_the_median_drop():
    [row] = selection.selection_effect(_scored())
    assert row["winner"] == "ridge on d" and row["configurations"] == 4
    assert row["winner_drop"] == pytest.approx(0.5)
    assert row["median_drop"] == pytest.approx(0.1)
    assert row["selection_effect"] == pytest.approx(0.4)
    assert row["winner_rank_other_season"] == 1


def test_a_winner_that_others_beat_on_the_other_season_has_their_rank():
    scored = _scored().assign(r2_other_season=[0.0, 0.7, 0.6, 0.4])
    assert selection.selection_effect(scored)[0]["winner_rank_other_season"] == 3


def test_other_season_scores_needs_a_table_for_every_task():
    with pytest.raises(ValueError, match=r"no matchup table for tasks \['current_week'\]"):
        selection.other_season_scores(_scored(), {}, {}, n_jobs=1)


def test_selection_table_prints_counts_as_integers_and_says_when_nothing_was_measured():
    [row] = selection.selection_effect(_scored())
    frame = selection.selection_frame([row], 2024, 2025)
    cells = dict(zip(frame["quantity"], frame["current week"]))
    assert cells["configurations compared (N)"] == "4"
    assert cells["winner's rank on 2025 (1 = best of N)"] == "1"
    assert "not measured" in selection.selection_frame([], 2024, None).iloc[0, 0]


@pytest.mark.parametrize("width, words", [(1.0, "10 times"), (2.0, "100 times"), (2.45, "282 times")])
def test_an_interval_width_in_log10_units_is_said_as_a_factor(width, words):
    assert words in measured.width_words(width)
    assert measured.width_words(None) == measured.NOT_MEASURED


def _fair(n_samples=240.0) -> dict:
    score = {"features": "climatology", "r2": 0.6, "r2_low": 0.5, "r2_high": 0.7, "r2_detected": -0.2,
             "auroc_1ug": 0.9, "n_samples": n_samples}
    budget = {"seeds": 1, "epochs": 1, "seasons": [2024, 2025], "pixels": 8000}
    return {task: {"scores": [score], "budget": budget} for task in ("current", "ahead")}


def test_detected_table_counts_are_integers_even_when_json_held_floats():
    frame = measured.detected_frame(_fair(n_samples=240.0))
    assert set(frame["samples (all)"]) == {"240"}
    assert measured.detected_counts(_fair()) == {"current week": (1, 1), "8 days ahead": (1, 1)}


def test_a_trust_record_without_robustness_says_so():
    frame = measured.robustness_frame({"samples": 10, "weeks": 3})
    assert frame.iloc[0, 0] == measured.NOT_MEASURED
    assert "not measured" in measured.interval_frame({"samples": 10, "weeks": 3}).iloc[1, 1]


def test_budget_names_every_setting_with_integers():
    frame = measured.budget_frame("quick", 0, "twin", _fair(), {"tasks": [{"configurations": 24}]}, 4, (117, 102))
    cells = dict(zip(frame["budget"], frame["this book"]))
    assert cells["training pixels per pretraining run, fair test"] == "8,000"
    assert cells["matched samples, current week / 8 days ahead, fair test (all seasons)"] == "240 / 240"
    assert not any(cell.endswith(".0") for cell in frame["this book"])
