"""Feature sets (the factorised 78) and the nested baseline grid, on a small synthetic matchup table."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from spectm.bands import diagnostic_mask, gap_mask, wavelength_grid
from spectm.data.weather import WEATHER_FEATURES, attach_weather
from spectm.evaluate import baselines, features, protocol


def _table(n=100, n_weeks=20, seed=0, lead=0):
    """A matchup-shaped table: Rrs with the gap bands missing, weekly dates, weather, censored MC.

    log10 MC follows the first weather feature (and nothing spectral), so weather-only can score."""
    rng = np.random.default_rng(seed)
    wl = wavelength_grid("paper122")
    shape = np.exp(-(((wl.values - 560.0) / 80.0) ** 2))
    rrs = 0.004 * shape[None, :] * rng.uniform(0.5, 1.5, size=(n, 1)) + 0.0002 * rng.uniform(
        size=(n, wl.size)
    )
    rrs[:, gap_mask(wl).values] = np.nan
    week = np.arange(n) % n_weeks
    dates = np.datetime64("2024-06-03") + (7 * week).astype("timedelta64[D]")
    weather = rng.normal(size=(n, len(WEATHER_FEATURES)))
    log_mc = 0.9 * weather[:, 0] + 0.1 * rng.normal(size=n)
    mc = 10**log_mc
    censored = mc < 0.3
    table = xr.Dataset(
        {
            "Rrs": (("sample", "wavelength"), rrs.astype(np.float32)),
            "particulate_microcystin": ("sample", np.where(censored, 0.3, mc)),
            "mc_censored": ("sample", censored),
            "date": ("sample", dates.astype("datetime64[ns]")),
        },
        coords={"wavelength": wl},
        attrs={"lead_days": lead},
    )
    frame = pd.DataFrame(weather, columns=list(WEATHER_FEATURES))
    return attach_weather(table, frame)


def test_paper_profile_has_78_distinct_feature_sets_from_the_factorisation():
    sets = features.feature_sets("paper")
    assert len(sets) == len(features.FEATURE_SETS) == 78
    # 5 band choices x ratios x indices x weather, non-empty, x season: (5*2*2*2 - 1) * 2
    assert len(sets) == (5 * 2 * 2 * 2 - 1) * 2
    assert len({tuple(sorted(vars(fs).items())) for fs in sets.values()}) == 78
    assert not any(fs.embedding for fs in sets.values())
    assert "weather" in sets and "bands_all+ratios+indices+weather+doy" in sets
    for name, fs in sets.items():
        assert features.parse_feature_set(name) == fs
    quick = features.feature_sets("quick")
    assert len(quick) == 6 and set(quick) <= set(sets) and "weather" in quick
    assert len(features.feature_set_table("paper")) == 78


def test_bad_feature_set_names_are_rejected():
    for bad in ("bands_red", "ratios+colour", "bands_all+bands_key"):
        with pytest.raises(ValueError, match="feature set"):
            features.parse_feature_set(bad)


def test_feature_groups_have_the_documented_columns():
    table = _table()
    wl = table["wavelength"].values
    n_gap = int(gap_mask(wl).sum())
    assert features.band_features(table, "all").shape[1] == 122 - n_gap == 113
    assert features.band_features(table, "diagnostic").shape[1] == int(diagnostic_mask(wl).sum()) == 28
    assert features.band_features(table, "context").shape[1] == 113 - 28
    key = features.band_features(table, "key")
    assert key.shape[1] == 12 and not key.isna().any().any()
    ratios = features.ratio_features(table)
    assert ratios.shape[1] == 66
    np.testing.assert_allclose(ratios["ratio_620_665"], key["Rrs_620"] / key["Rrs_665"])
    assert features.index_features(table).shape[1] == 9
    frame = features.feature_matrix(table, "bands_key+weather+doy")
    assert frame.shape == (100, 12 + 52 + 2)
    emb = np.ones((100, 4))
    assert features.feature_matrix(table, "embedding+weather", embedding=emb).shape == (100, 56)
    with pytest.raises(ValueError, match="embedding"):
        features.feature_matrix(table, "embedding")


def test_paper_grids_have_24_settings_and_26208_configurations():
    for name in baselines.ALGORITHMS:
        assert baselines.grid_size(baselines.param_grid(name, "paper")) == 24, name
    count = baselines.count_configurations("paper")
    assert (count["algorithms"], count["feature_sets"], count["total"]) == (7, 78, 26_208)


def test_pipeline_drops_gap_columns_and_fits_every_algorithm():
    table = _table()
    X = features.feature_matrix(table, "bands_all").to_numpy()
    X = np.column_stack([X, np.full(len(X), np.nan)])  # a column empty in training
    y, _ = protocol.table_target(table)
    for name in baselines.ALGORITHMS:
        settings = {k: v[-1] for k, v in baselines.param_grid(name, "paper").items()}  # paper: all 7
        model = baselines.make_pipeline(name, **settings).fit(X, y)
        assert model.named_steps["drop_empty"].keep_.sum() == 113
        assert np.isfinite(model.predict(X)).all()


def test_nested_search_scores_weather_above_spectra_on_a_weather_driven_target():
    table = _table(lead=8)
    results = baselines.run_grid(
        ["weather", "bands_key"],
        ["ridge", "knn"],
        table,
        profile="quick",
        n_jobs=1,
        settings={"n_repeats": 1, "n_boot": 100},
    )
    assert len(results) == 4 and set(results["task"]) == {"8_day_ahead"}
    assert {"r2", "r2_low", "r2_high", "rmse", "mae", "best_params"} <= set(results.columns)
    assert (results["r2_low"] <= results["r2_high"]).all()
    best = baselines.best_baseline(results)
    assert len(best) == 1 and best["feature_set"].iloc[0] == "weather" and best["r2"].iloc[0] > 0.5
    aux = baselines.aux_only(results)
    assert aux["feature_set"].iloc[0] == "weather"
    # spectra carry no signal here: out-of-fold R2 near or below zero
    assert results.loc[results.feature_set == "bands_key", "r2"].max() < 0.2


def test_run_grid_parallel_equals_serial():
    table = _table(n=40, n_weeks=8)
    kwargs = {"profile": "quick", "settings": {"n_repeats": 1, "n_boot": 50}}
    serial = baselines.run_grid(["indices"], ["ridge", "svr"], table, n_jobs=1, **kwargs)
    parallel = baselines.run_grid(["indices"], ["ridge", "svr"], table, n_jobs=2, **kwargs)
    pd.testing.assert_series_equal(serial["r2"], parallel["r2"])
