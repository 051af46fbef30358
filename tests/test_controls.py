"""The fair test's controls: persistence knows only the past, and every control is scored on the same folds."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from spectm.evaluate import controls, protocol


def _samples(stations=("WE2", "WE4"), start="2024-06-03", weeks=12, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(weeks):
        for s in stations:
            local = pd.Timestamp(start) + pd.Timedelta(days=7 * w, hours=10)
            mc = float(10 ** rng.normal(-0.3, 0.6))
            rows.append({"station": s, "time": local.tz_localize("America/New_York").tz_convert("UTC").tz_localize(None),
                         "depth_category": "Surface", "particulate_microcystin": max(mc, 0.1),
                         "mc_censored": mc < 0.1, "chlorophyll_a": 10 ** rng.normal(1, 0.3),
                         "phycocyanin": 10 ** rng.normal(0.5, 0.4)})
    return pd.DataFrame(rows)


def _table(samples, image_lag_days=0):
    surface = samples.reset_index(drop=True)
    times = surface["time"].to_numpy("datetime64[ns]")
    return xr.Dataset({
        "station": ("sample", surface["station"].to_numpy(str)),
        "particulate_microcystin": ("sample", surface["particulate_microcystin"].to_numpy(float)),
        "mc_censored": ("sample", surface["mc_censored"].to_numpy(bool)),
        "chlorophyll_a": ("sample", surface["chlorophyll_a"].to_numpy(float)),
        "phycocyanin": ("sample", surface["phycocyanin"].to_numpy(float)),
        "pixel_time": ("sample", times - np.timedelta64(image_lag_days, "D")),
    }, coords={"time": ("sample", times)})


def test_persistence_uses_the_previous_visit_at_the_same_station_and_never_the_sample_itself():
    samples = _samples()
    table = _table(samples)
    previous = controls.previous_visit(table, samples)
    log_mc = np.log10(samples["particulate_microcystin"].to_numpy())
    for i in range(len(samples)):
        station = samples.loc[i, "station"]
        earlier = samples.index[(samples["station"] == station) & (samples["time"] < samples.loc[i, "time"])]
        if len(earlier) == 0:
            assert np.isnan(previous.loc[i, "previous_log_mc"])
        else:
            assert previous.loc[i, "previous_log_mc"] == pytest.approx(log_mc[earlier[-1]])
            assert previous.loc[i, "days_since"] == 7
    assert np.isnan(previous["previous_log_mc"]).sum() == 2  # the first visit of each station


def test_eight_days_ahead_persistence_knows_nothing_after_the_image_date():
    samples = _samples()
    table = _table(samples, image_lag_days=8)
    previous = controls.previous_visit(table, samples, lead_days=8)
    # the image is 8 days before the sample: the visit 7 days before the sample is in the image's future
    assert (previous["days_since"].dropna() >= 14).all()


def test_every_control_is_scored_on_the_same_folds():
    samples = _samples(stations=("WE2", "WE4", "WE8"), weeks=16)
    table = _table(samples)
    features = {"persistence": controls.previous_visit(table, samples),
                "bucket": controls.bucket_features(table),
                "noise": np.random.default_rng(1).normal(size=(len(samples), 3))}
    seen = []
    real = protocol.RepeatedGroupKFold.repeat_splits

    def spy(self, groups, repeat):
        folds = [tuple(test) for _, test in real(self, groups, repeat)]
        seen.append((repeat, tuple(folds)))
        yield from ((np.setdiff1d(np.arange(len(groups)), t), np.asarray(t)) for t in folds)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(protocol.RepeatedGroupKFold, "repeat_splits", spy)
        frame = controls.score_controls(table, features, n_splits=4, n_repeats=2, n_boot=50)
    assert list(frame["features"]) == ["persistence", "bucket", "noise"]
    per_control = [seen[i:i + 2] for i in range(0, len(seen), 2)]
    assert len(per_control) == 3 and per_control[0] == per_control[1] == per_control[2]
    assert set(frame.attrs["oof"]) == {"persistence", "bucket", "noise"}


def test_leave_one_season_out_never_puts_a_season_on_both_sides():
    seasons = np.array([2024] * 5 + [2025] * 7)
    splitter = protocol.LeaveOneSeasonOut(seasons)
    folds = list(splitter.repeat_splits(np.arange(12)))
    assert len(folds) == 2
    for train, test in folds:
        assert set(seasons[train]).isdisjoint(seasons[test])
    with pytest.raises(ValueError, match="two seasons"):
        protocol.LeaveOneSeasonOut([2024, 2024])


def test_pca_inside_the_fold_keeps_at_most_the_components_the_fold_allows():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 40)), rng.normal(size=8)
    model = controls.downstream_model(n_components=10).fit(X, y)
    pca = model.estimator_.steps[2][1]
    assert pca.n_components_ <= 7


def test_across_seasons_each_held_out_season_uses_the_features_built_without_it():
    first = _samples(start="2024-06-03", weeks=10, seed=1)
    second = _samples(start="2025-06-02", weeks=10, seed=2)
    table = xr.concat([_table(first), _table(second)], dim="sample")
    n = table.sizes["sample"]
    season = protocol.sample_season(table["time"].values)
    y, _ = protocol.table_target(table)
    # the features "built without 2025" carry the target only for 2024 rows: a leak would show as a high R^2
    leaky = np.where(season == 2025, y, 0.0)[:, None] + np.random.default_rng(0).normal(0, 1e-3, (n, 1))
    honest = np.random.default_rng(1).normal(size=(n, 1))
    frame = controls.score_across_seasons(table, {"per_season": {2024: honest, 2025: honest},
                                                  "leak": {2024: honest, 2025: leaky}}, n_boot=50)
    rows = frame.set_index("features")
    assert rows.loc["per_season", "r2"] < 0.2
    # 'leak' trains on 2024 rows (zeros) and cannot use the 2025 values it is handed at test time
    assert rows.loc["leak", "r2_2025"] < 0.2
    assert {"r2_2024", "r2_2025"} <= set(frame.columns)


def test_across_seasons_with_a_tobit_model_and_the_views_that_do_not_lean_on_substitutes():
    from spectm import fair_test

    first = _samples(start="2024-06-03", weeks=10, seed=1)
    second = _samples(start="2025-06-02", weeks=10, seed=2)
    table = xr.concat([_table(first), _table(second)], dim="sample")
    y, _ = protocol.table_target(table)
    informative = (y + np.random.default_rng(0).normal(0, 0.2, y.size))[:, None]
    features = {"informative": informative, "noise": np.random.default_rng(1).normal(size=(y.size, 1))}
    ridge = controls.score_across_seasons(table, features, n_boot=20)
    tobit = controls.score_across_seasons(table, features, n_boot=20, censored_at=-1.0)
    assert tobit.set_index("features").loc["informative", "r2"] > 0.5
    views = fair_test.other_views(ridge).set_index("features")
    assert views.loc["informative", "auroc_1ug"] > 0.8 > views.loc["noise", "auroc_1ug"]
    assert views.loc["informative", "r2_detected"] > views.loc["noise", "r2_detected"]


def test_neighbourhood_takes_the_pixels_around_the_match_in_the_same_granule_only():
    wavelengths = np.array([620.0, 665.0, 709.0])
    cells = [(g, l, c) for g in (0, 1) for l in range(4) for c in range(4)]
    rrs = np.array([[g * 100 + l * 10 + c, 0, 0] for g, l, c in cells], float)
    pixels = xr.Dataset({"Rrs": (("pixel", "wavelength"), rrs)},
                        coords={"wavelength": wavelengths,
                                "granule_index": ("pixel", [g for g, _, _ in cells]),
                                "line": ("pixel", [l for _, l, _ in cells]),
                                "column": ("pixel", [c for _, _, c in cells])})
    corner = cells.index((0, 0, 0))
    inner = cells.index((1, 2, 2))
    table = xr.Dataset({"pixel_index": ("sample", [corner, inner])})
    spectra, counts = controls.neighbourhood(table, pixels)
    assert counts.tolist() == [4, 9]  # a corner has 4 pixels of its 3 x 3 in the granule
    assert sorted(np.nan_to_num(spectra[0, :, 0], nan=-1).tolist()) == [-1] * 5 + [0, 1, 10, 11]
    assert sorted(spectra[1, :, 0].tolist()) == [111, 112, 113, 121, 122, 123, 131, 132, 133]


def test_the_ridge_penalty_is_chosen_by_whole_weeks_inside_the_training_fold():
    # features that only say which week a sample is from: week-mates reveal each other's target, so
    # leave-one-sample-out rewards a weak penalty, while held-out weeks show the features are worthless
    rng = np.random.default_rng(0)
    weeks = np.repeat(np.arange(30), 6)
    week_signature = rng.normal(size=(30, 20))
    X = week_signature[weeks] + rng.normal(0, 0.05, (weeks.size, 20))
    y = rng.normal(size=30)[weeks] + rng.normal(0, 0.1, weeks.size)
    train = weeks < 20
    by_weeks = protocol.fit_with_weeks(controls.downstream_model(), X[train], y[train], weeks[train])
    by_samples = controls.downstream_model().fit(X[train], y[train])  # no weeks: leave-one-out
    alpha = lambda model: model.estimator_.steps[-1][1].alpha_  # noqa: E731
    assert alpha(by_weeks) > 10 * alpha(by_samples)
    assert repr(by_weeks)  # a parameter sklearn can print


def test_across_seasons_every_control_and_every_encoder_is_scored_on_the_same_folds():
    first = _samples(start="2024-06-03", weeks=10, seed=1)
    second = _samples(start="2025-06-02", weeks=10, seed=2)
    table = xr.concat([_table(first), _table(second)], dim="sample")
    n = table.sizes["sample"]
    rng = np.random.default_rng(3)
    features = {"persistence": controls.previous_visit(table, pd.concat([first, second], ignore_index=True)),
                "bucket": controls.bucket_features(table),
                "targeted seed 0": {2024: rng.normal(size=(n, 4)), 2025: rng.normal(size=(n, 4))}}
    seen = []
    real = protocol.LeaveOneSeasonOut.repeat_splits

    def spy(self, groups, repeat=0):
        folds = [(tuple(train), tuple(test)) for train, test in real(self, groups, repeat)]
        seen.append(tuple(folds))
        yield from ((np.asarray(train), np.asarray(test)) for train, test in folds)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(protocol.LeaveOneSeasonOut, "repeat_splits", spy)
        frame = controls.score_across_seasons(table, features, n_boot=20)
    assert len(seen) == len(features) and all(folds == seen[0] for folds in seen)
    season = protocol.sample_season(table["time"].values)
    for train, test in seen[0]:
        assert set(season[list(train)]).isdisjoint(season[list(test)])
        weeks = protocol.table_groups(table)
        assert set(weeks[list(train)]).isdisjoint(weeks[list(test)])  # no sampling week on both sides
    assert set(frame.attrs["oof"]) == set(features)


def test_the_alpha_search_scores_every_penalty_as_one_ridge_fit_per_penalty_would(monkeypatch):
    """The search's errors from one SVD per fold equal those of a fitted Ridge per penalty (rank-deficient
    folds included), and the search fits no Ridge but the final one."""
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    for n, p in ((60, 5), (40, 64)):  # more samples than features, and fewer
        X, y = rng.normal(size=(n, p)), rng.normal(size=n)
        train, test = np.arange(n) < 0.75 * n, np.arange(n) >= 0.75 * n
        expected = [np.sum((Ridge(alpha=a).fit(X[train], y[train]).predict(X[test]) - y[test]) ** 2)
                    for a in controls.RIDGE_ALPHAS]
        got = controls.ridge_path_errors(X[train], y[train], X[test], y[test], controls.RIDGE_ALPHAS)
        np.testing.assert_allclose(got, expected, rtol=1e-8)
    fits = []
    real_fit = Ridge.fit
    monkeypatch.setattr(Ridge, "fit", lambda self, *a, **k: (fits.append(self.alpha), real_fit(self, *a, **k))[1])
    model = controls.WeekGroupedRidgeCV().fit(X, y, np.repeat(np.arange(8), 5))
    assert fits == [model.alpha_]
