"""The twin's labels against the real GLERL statistics, and the toxin not built into any band."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spectm.twin.writers.glerl import write_weekly_datashare
from spectm.physics import all_indices, simulate_rrs_dataarray
from spectm.twin.calibration import (
    TARGETS, calibration_table, out_of_range, sample_statistics, season_samples, statistics_table, twin_ceiling_r2,
    twin_statistics,
)  # fmt: skip

#: Six seasons of the quick twin: the real targets pool 13 GLERL seasons, so one twin season is
#: compared with them only through its pooled neighbours (a single season scatters like a real year).
SEEDS = (0, 1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def pooled():
    return season_samples(SEEDS, year=2024, size="quick")


def test_every_pooled_statistic_lies_in_its_real_target_range(pooled):
    statistics = sample_statistics(pooled)
    assert out_of_range(statistics) == {}
    assert statistics_table(statistics)["within"].all()


def test_no_samples_is_a_clear_error(pooled):
    with pytest.raises(ValueError, match="at least one samples file"):
        twin_statistics()
    with pytest.raises(ValueError, match="no surface samples at the GLERL core stations"):
        sample_statistics(pooled[pooled["station"] == "nowhere"])


def test_statistics_of_a_written_csv_match_the_table(pooled, tmp_path):
    one = pooled[pooled["season"] == 0]
    path = tmp_path / "2024_WLE_Weekly_Datashare_CSV.csv"
    write_weekly_datashare(path, one.drop(columns=[c for c in one if c.startswith("true_") or c == "season"]))
    from_file = twin_statistics(path)
    table = calibration_table(path)
    assert set(table.index) == {t.name for t in TARGETS}
    assert table.loc["non_detect_fraction", "twin"] == pytest.approx(from_file["non_detect_fraction"], abs=1e-3)
    assert "GLERL" in table.attrs["source"]


def test_out_of_range_names_a_bad_statistic():
    values = {t.name: t.real for t in TARGETS}
    assert out_of_range(values) == {}
    values["spearman_mc_pc"] = 0.86  # the old twin: phycocyanin tracked toxin too faithfully
    assert set(out_of_range(values)) == {"spearman_mc_pc"}


def test_toxin_peak_moves_between_seasons(pooled):
    surface = pooled[pooled["depth_category"] == "Surface"]
    peaks = set()
    for _, season in surface.groupby("season"):
        quota = season.groupby("date")["true_toxin_quota"].first()
        peaks.add(quota.idxmax().day_of_year)
    assert len(peaks) >= 3 and min(peaks) >= 195 and max(peaks) <= 255


@pytest.fixture(scope="module")
def pooled_2025():
    return season_samples(SEEDS, year=2025, size="quick")


SEASON, SUMMER = (4, 5, 6, 7, 8, 9, 10), (7, 8, 9)
KNOWN_2025 = pytest.mark.xfail(strict=True, reason=(
    "known: the 2025 seasons' blooms are larger and their MC-chl rank correlation is 0.73 (target 0.65, range "
    "0.50-0.78), so error-free NDCI reaches rho 0.75 over the whole season (July-September stays below)"))


@pytest.mark.parametrize("year, months", [
    pytest.param(2024, SEASON, id="2024-season"), pytest.param(2024, SUMMER, id="2024-july-september"),
    pytest.param(2025, SEASON, id="2025-season", marks=KNOWN_2025), pytest.param(2025, SUMMER, id="2025-july-september"),
])  # fmt: skip
def test_microcystin_is_not_a_function_of_any_band_or_index(request, year, months):
    """Even error-free water-leaving Rrs at the stations leaves much of the toxin's rank unexplained."""
    pooled = request.getfixturevalue("pooled" if year == 2024 else "pooled_2025")
    s = pooled[(pooled["depth_category"] == "Surface") & pd.DatetimeIndex(pooled["date"]).month.isin(months)]
    mc = np.maximum(s["particulate_microcystin"].to_numpy(float), 0.1)
    rrs = simulate_rrs_dataarray(s["true_chl_surface"].to_numpy(), s["true_pc_surface"].to_numpy(),
                                 s["true_ag440"].to_numpy(), s["true_tss"].to_numpy(), "oci_rrs172")  # fmt: skip
    indices = all_indices(rrs)
    rhos = {name: abs(stats.spearmanr(mc, indices[name].values, nan_policy="omit")[0]) for name in indices}
    rhos.update({f"Rrs{w:.0f}": abs(stats.spearmanr(mc, rrs.sel(wavelength=w).values)[0])
                 for w in rrs["wavelength"].values})  # fmt: skip
    best = max(rhos, key=rhos.get)
    assert rhos[best] < 0.74, (best, rhos[best])  # below the real MC-PC rank correlation
    assert rhos[best] ** 2 < 0.5, (best, rhos[best])  # no band or index explains the toxin nearly perfectly


def test_twin_ceiling_is_below_one_and_above_chlorophyll(pooled):
    surface = pooled[pooled["depth_category"] == "Surface"]
    ceiling = twin_ceiling_r2(surface)
    log_mc = np.log10(np.maximum(surface["particulate_microcystin"], 0.1))
    r_chl = np.corrcoef(log_mc, np.log10(surface["chlorophyll_a"]))[0, 1]
    assert r_chl**2 < ceiling["all_surface"] < 0.95


def test_single_seasons_miss_targets_by_year_to_year_variation_not_sampling(pooled):
    """The module's statement: a single season's misses of the toxin-level targets come from the spread
    between seasons, which is much wider than one season's own (station-bootstrap) sampling interval."""
    from spectm.twin.calibration import between_season_table, single_season_table

    table = between_season_table(pooled, reps=30)
    assert (table["seasons"] == len(SEEDS)).all()
    for name in ("mc_q50", "october_non_detect_fraction", "fraction_mc_ge_6"):
        spread = table.loc[name, "season_q95"] - table.loc[name, "season_q05"]
        assert spread > 2.0 * table.loc[name, "sampling_interval_width"], name
    august = table.loc["august_mc_median"]  # ~40 August samples: one season's interval spans much of the range
    assert august["sampling_interval_width"] > 0.5 * (august["high"] - august["low"])
    one = single_season_table(pooled[pooled["season"] == 0], reps=30)
    assert (one["season_q05"] <= one["twin"] + 1e-9).all() and (one["twin"] <= one["season_q95"] + 1e-9).all()


def test_ceiling_has_an_interval_around_it_below_one(pooled):
    from spectm.twin.calibration import twin_ceiling_interval

    table = twin_ceiling_interval(pooled[pooled["depth_category"] == "Surface"], reps=40)
    assert set(table.index) == {"all_surface", "july_september"}
    assert (table["q05"] <= table["r2"]).all() and (table["r2"] <= table["q95"]).all() and (table["q95"] < 1).all()
    assert (table["q95"] - table["q05"] > 0).all()  # a measured ceiling scatters with the samples
    from spectm.data.glerl import CORE_STATIONS

    routine = pooled[(pooled["depth_category"] == "Surface") & pooled["station"].isin(CORE_STATIONS)]
    summer = routine[routine["date"].dt.month.isin([7, 8, 9])]
    assert table.loc["july_september", "n"] == len(summer) < table.loc["all_surface", "n"]  # each row's own count


def test_station_spectra_have_a_red_edge_in_summer_water_leaving(pooled):
    from spectm.twin.calibration import station_spectra_summary

    summary = station_spectra_summary(pooled)
    assert summary["spectra"] > 500 and summary["r709_r665_jas"] >= 1.0
    assert 500 <= summary["green_max_median"] <= 600


def test_green_maximum_sensitivity_starts_at_the_twin_and_moves_blue_with_less_cdom(pooled):
    from spectm.twin.calibration import green_maximum_sensitivity, station_spectra_summary

    table = green_maximum_sensitivity(pooled, cdom_scales=(1.0, 0.25), tss_scales=(1.0,))
    as_built = station_spectra_summary(pooled)
    assert table.loc[0, "green_max_median"] == as_built["green_max_median"]
    assert table.loc[0, "green_max_545_570"] == pytest.approx(as_built["green_max_545_570"])
    assert table.loc[1, "ag440_median"] == pytest.approx(0.25 * table.loc[0, "ag440_median"])
    assert table.loc[1, "green_max_median"] < table.loc[0, "green_max_median"]
