"""The fair test's splits hold: no held-out season's image reaches pretraining, every arm on the same folds."""

import numpy as np
import pandas as pd
import xarray as xr

from spectm import fair_test


def _pixels(year, n=6):
    times = pd.date_range(f"{year}-07-01", periods=n, freq="D").to_numpy("datetime64[ns]")
    return xr.Dataset({"Rrs": (("pixel", "wavelength"), np.full((n, 3), 0.01))},
                      coords={"time": ("pixel", times), "wavelength": [500.0, 600.0, 700.0]})


def test_pretraining_for_a_held_out_season_sees_only_the_other_seasons(monkeypatch):
    seen = []
    monkeypatch.setattr(fair_test.experiments, "pretrain", lambda table, config: seen.append((table, config)))
    data = {year: {"pixels": _pixels(year)} for year in (2023, 2024, 2025)}
    for held_out in data:
        fair_test.pretrain_without(data, held_out, "quick", "targeted", seed=1, epochs=1)
        table, config = seen[-1]
        years = set(pd.DatetimeIndex(table["time"].values).year)
        assert held_out not in years and years == set(data) - {held_out}
        assert config["masking"] == "targeted" and config["seed"] == 1 and config["epochs"] == 1


def test_week_paired_difference_of_identical_arms_is_zero_with_a_zero_width_interval():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 5)
    y = rng.normal(size=groups.size)
    prediction = y + rng.normal(0, 0.7, y.size)
    scores = pd.DataFrame({"features": ["a seed 0", "b seed 0"]})
    scores.attrs.update(oof={"a seed 0": prediction, "b seed 0": prediction.copy()}, y=y, groups=groups)
    result = fair_test.week_paired_difference(scores, fair_test.seeded("a", [0]), fair_test.seeded("b", [0]),
                                         effect=0.037, n_boot=200)
    assert result["difference"] == 0 and result["low"] == 0 and result["high"] == 0
    assert result["samples_for_80pct"] == float(result["power_curve"]["samples"].iloc[0])


def test_score_table_joins_tasks_whose_out_of_fold_arrays_differ_in_length():
    frames = {}
    for task, n in (("current", 240), ("ahead", 212)):
        frame = pd.DataFrame({"features": ["a", "b"], "r2": [0.1, 0.2], "r2_low": [0.0, 0.1], "r2_high": [0.2, 0.3]})
        frame.attrs.update(oof={"a": np.zeros(n), "b": np.ones(n)}, y=np.zeros(n))
        frames[task] = frame
    table = fair_test.score_table(frames)
    assert table.loc[("8 days ahead", "b"), "r2"] == 0.2 and table.shape == (4, 3)
    assert frames["current"].attrs["y"].size == 240  # the inputs keep their arrays


def _spectral_pixels(year, days=6, per_day=5):
    from spectm.bands import oci_rrs_nominal

    wavelengths = oci_rrs_nominal()
    n = days * per_day
    times = np.repeat(pd.date_range(f"{year}-07-01 17:00", periods=days, freq="D").to_numpy("datetime64[ns]"), per_day)
    rrs = 0.005 + 0.002 * np.random.default_rng(year).random((n, wavelengths.size))
    return xr.Dataset({"Rrs": (("pixel", "wavelength"), rrs.astype(np.float32)),
                       "latitude": ("pixel", np.full(n, 41.7) + 0.01 * np.arange(n)),
                       "longitude": ("pixel", np.full(n, -83.2))},
                      coords={"time": ("pixel", times), "wavelength": wavelengths})


def test_a_pixel_budget_draws_the_same_pixels_of_the_other_seasons_for_every_arm_and_seed(monkeypatch):
    seen = []
    monkeypatch.setattr(fair_test.experiments, "pretrain",
                        lambda table, config, train=None, validation=None, data_tag="": seen.append(
                            (config, train, validation, data_tag)))
    data = {year: {"pixels": _spectral_pixels(year)} for year in (2023, 2024, 2025)}
    for arm, seed in (("targeted", 0), ("random", 0), ("targeted", 3)):
        fair_test.pretrain_without(data, 2024, "quick", arm, seed=seed, epochs=1, max_pixels=20)
    first = seen[0]
    for config, train, validation, tag in seen:
        assert len(train) == 20 and len(validation) == 5 and tag == "fair-pixels20-validation5"
        for part in (train, validation):
            assert set(pd.DatetimeIndex(part.time).year) <= {2023, 2025}  # no held-out season's image
        np.testing.assert_array_equal(train.values.numpy(), first[1].values.numpy())
        np.testing.assert_array_equal(validation.values.numpy(), first[2].values.numpy())


def test_a_pixel_budget_keeps_the_training_draw_of_every_earlier_fair_run(monkeypatch):
    """Capping the validation pixels changes the runs' diagnostics only: the training pixels are the draw
    the fair test always made, so the trained encoders and the book's numbers stay as they were."""
    seen = []
    monkeypatch.setattr(fair_test.experiments, "pretrain",
                        lambda table, config, train=None, validation=None, data_tag="": seen.append(train))
    data = {year: {"pixels": _spectral_pixels(year)} for year in (2023, 2024, 2025)}
    fair_test.pretrain_without(data, 2024, "quick", "targeted", seed=0, epochs=1, max_pixels=20)
    pixels = xr.concat([data[2023]["pixels"], data[2025]["pixels"]], dim="pixel")
    train, _, _, _ = fair_test.experiments.pretraining_data(pixels, seed=0)
    rows = np.sort(np.random.default_rng(0).choice(len(train), size=20, replace=False))
    np.testing.assert_array_equal(seen[0].values.numpy(), train.values.numpy()[rows])


def test_family_differences_pair_each_family_with_targeted_seed_by_seed():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 5)
    y = rng.normal(size=groups.size)
    good, poor = (y + rng.normal(0, sd, y.size) for sd in (0.3, 1.5))
    names = {"targeted seed 0": good, "targeted seed 1": good, "random seed 0": poor, "random seed 1": poor,
             "contiguous seed 0": good, "contiguous seed 1": good}
    scores = pd.DataFrame({"features": list(names)})
    scores.attrs.update(oof=names, y=y, groups=groups)
    table = fair_test.family_differences(scores, [0, 1], ["targeted", "random", "contiguous"], n_boot=200)
    rows = table.set_index("comparison")
    assert list(rows.index) == ["targeted - random", "targeted - contiguous"]
    assert rows.loc["targeted - random", "low"] > 0
    assert rows.loc["targeted - contiguous", "difference"] == 0 == rows.loc["targeted - contiguous", "high"]


def test_the_study_profile_is_quick_with_a_fair_test_of_at_least_five_seeds_and_more_seasons():
    from spectm.evaluate import baselines, features
    from spectm.model import model_config

    budget = fair_test.fair_budget("study")
    quick = fair_test.fair_budget("quick")
    assert budget["seeds"] >= 5 and len(budget["seasons"]) > len(quick["seasons"]) and budget["pixels"] > 0
    assert model_config("study") == model_config("quick")
    assert features.feature_sets("study").keys() == features.feature_sets("quick").keys()
    assert baselines.count_configurations("study") == baselines.count_configurations("quick")


def test_a_budgeted_validation_set_is_a_fixed_share_of_the_training_pixels():
    """Chapter 7's ablation runs and the fair test's runs validate on the same kind of fixed draw."""
    from spectm.datasets import PixelSpectra

    rng = np.random.default_rng(0)
    validation = PixelSpectra(rng.random((1000, 12)).astype(np.float32), None, rng.random((1000, 12)).astype(np.float32),
                              np.linspace(400.0, 700.0, 12), (), None, indices=np.zeros((1000, 0), np.float32))
    first = fair_test.validation_for_budget(validation, 2000)
    assert len(first) == int(fair_test.VALIDATION_SHARE * 2000)
    np.testing.assert_array_equal(first.values.numpy(), fair_test.validation_for_budget(validation, 2000).values.numpy())
    assert len(fair_test.validation_for_budget(validation, 10**6)) == 1000  # never more than there is
