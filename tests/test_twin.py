"""The Lake Erie twin: determinism, real file names, readers, label statistics and physics sanity."""

from __future__ import annotations

import filecmp
import re

import numpy as np
import pandas as pd
import pytest

from spectm.data.glerl import read_glerl_csv
from spectm.data.gridmet import open_gridmet
from spectm.data.pace import any_flag, open_l2_aop, water_pixels
from spectm.twin import simulate_twin
from spectm.twin.blooms import maumee_discharge
from spectm.twin.config import MAUMEE_MOUTH, DETROIT_MOUTH
from spectm.twin.lake import is_water


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("twin_quick")
    return simulate_twin(out, size="quick", seed=0, progress=False)


@pytest.fixture(scope="module")
def truth(quick):
    import xarray as xr

    with xr.open_dataset(quick.paths("truth")[0]) as ds:
        return ds.load()


def _surface_samples(manifest):
    table = read_glerl_csv(manifest.paths("glerl")[0])
    return table[table["depth_category"] == "Surface"]


def test_files_have_real_names(quick):
    pace = quick.paths("pace")
    assert len(pace) == 184  # one granule per day, May-October
    assert all(re.fullmatch(r"PACE_OCI\.2024\d{4}T\d{6}\.L2\.OC_AOP\.V3_1\.nc", p.name) for p in pace)
    hours = [int(p.name[18:20]) for p in pace]
    assert set(hours) <= {17, 18}
    assert [p.name for p in quick.paths("glerl")] == ["2024_WLE_Weekly_Datashare_CSV.csv"]
    assert {p.name for p in quick.paths("gridmet")} >= {"tmmx_2024.nc", "tmmn_2024.nc", "pr_2024.nc", "vs_2024.nc", "srad_2024.nc"}
    assert all(p.exists() for p in quick.paths()) and quick.total_bytes < 100e6


def test_rerun_reuses_complete_manifest(quick):
    again = simulate_twin(quick.out_dir, size="quick", seed=0, progress=False)
    assert again.reused and again.files == quick.files


def test_deterministic_for_a_seed_and_seeds_differ(tmp_path):
    a = simulate_twin(tmp_path / "a", size="tiny", seed=3, progress=False)
    b = simulate_twin(tmp_path / "b", size="tiny", seed=3, progress=False)
    c = simulate_twin(tmp_path / "c", size="tiny", seed=4, progress=False)
    assert [f["path"] for f in a.files] == [f["path"] for f in b.files]
    for pa, pb in zip(a.paths(), b.paths()):
        assert filecmp.cmp(pa, pb, shallow=False), pa.name
    rrs_a = open_l2_aop(a.paths("pace")[0])["Rrs"].values
    rrs_c = open_l2_aop(c.paths("pace")[0])["Rrs"].values
    assert rrs_a.shape != rrs_c.shape or not np.array_equal(rrs_a, rrs_c, equal_nan=True)
    assert not filecmp.cmp(a.paths("glerl")[0], c.paths("glerl")[0], shallow=False)


def test_granules_read_back_with_valid_water_pixels(quick):
    counts = []
    for path in quick.paths("pace")[::15]:
        ds = open_l2_aop(path)
        flags = ds["l2_flags"].values
        land = any_flag(flags, ["LAND"])
        lat, lon = ds["latitude"].values, ds["longitude"].values
        assert np.array_equal(land, ~is_water(lon, lat))  # LAND set exactly where the twin has no water
        assert not ds["valid"].values[land].any()
        counts.append(int(ds["valid"].sum()))
    assert sum(counts) > 100


def test_cloud_cover_is_about_half_and_flags_are_honest(quick):
    cloudy, glint = [], []
    for path in quick.paths("pace")[::4]:
        ds = open_l2_aop(path)
        flags = ds["l2_flags"].values
        water = ~any_flag(flags, ["LAND"])
        cloud = any_flag(flags, ["CLDICE"])
        cloudy.append(cloud[water].mean())
        glint.append(any_flag(flags, ["HIGLINT", "MODGLINT"])[water].mean())
        assert np.isnan(ds["Rrs"].values[cloud]).all()  # l2gen writes masked pixels as fill
    assert 0.3 < np.mean(cloudy) < 0.7
    assert 0 < np.mean(glint) < 0.5  # glint on some pixels, not everywhere


def test_rrs_of_clear_water_pixels_in_physical_range(quick):
    pixels = [water_pixels(open_l2_aop(p))["Rrs"] for p in quick.paths("pace")[60:120:6]]
    rrs = np.concatenate([p.values for p in pixels if p.sizes["pixel"]])
    wl = pixels[0]["wavelength"].values
    green = rrs[:, np.argmin(np.abs(wl - 560))]
    assert np.isfinite(rrs).all()
    assert np.all((green > 0.001) & (green < 0.06))  # turbid lake water, sr^-1
    assert np.quantile(rrs, 0.999) < 0.08 and np.quantile(rrs, 0.001) > -0.01


def test_sample_statistics_match_glerl_targets(quick):
    s = _surface_samples(quick)
    assert 140 <= len(s) <= 180  # 2024: 168 routine surface samples on 22 dates
    assert s["date"].nunique() == 22
    mc = np.where(s["mc_censored"], 0.01, s["particulate_microcystin"])  # HAB-F's 0.01 floor
    chl = s["chlorophyll_a"].to_numpy()
    assert 0.2 <= s["mc_censored"].mean() <= 0.6
    assert 0.05 <= np.median(mc) <= 1.0
    assert 0.4 <= np.corrcoef(np.log10(mc), np.log10(chl))[0, 1] <= 0.8
    month = pd.DatetimeIndex(s["date"]).month
    high = mc >= 1.0
    assert high.sum() > 10 and np.isin(month[high], [7, 8, 9]).mean() >= 0.9
    assert (mc[np.isin(month, [4, 5, 6])] < 1.0).all()
    assert 5 <= np.median(chl) <= 60 and np.quantile(chl, 0.95) > 50


def test_blooms_peak_in_july_to_september(truth):
    chl = truth["chl_surface"].median(("lat", "lon")).to_series()
    monthly = chl.groupby(chl.index.month).median()
    assert monthly.idxmax() in (7, 8, 9)
    assert monthly.loc[[7, 8, 9]].max() > 2 * monthly.loc[[4, 5]].max()


def test_maumee_plume_raises_cdom_and_sediment_after_rain(truth):
    lat, lon = truth["lat"], truth["lon"]
    dist = np.hypot((lat - MAUMEE_MOUTH[1]) * 111.0, (lon - MAUMEE_MOUTH[0]) * 82.8)
    far = np.hypot((lat - DETROIT_MOUTH[1]) * 111.0, (lon - DETROIT_MOUTH[0]) * 82.8)
    near_mouth = (dist < 8) & (truth["water"] == 1)
    north = (far < 12) & (truth["water"] == 1)
    ag_near, ag_north = truth["ag440"].where(near_mouth).mean(("lat", "lon")), truth["ag440"].where(north).mean(("lat", "lon"))
    assert float((ag_near - ag_north).mean()) > 0.5  # the plume is more coloured than Detroit River water
    q = truth["maumee_discharge"].to_series()
    tss_near = truth["tss"].where(near_mouth).mean(("lat", "lon")).to_series()
    wet = q > q.quantile(0.9)
    dry = q < q.quantile(0.3)
    assert tss_near[wet].mean() > 1.5 * tss_near[dry].mean()


def test_weather_files_follow_gridmet(quick):
    ds = open_gridmet(quick.paths("gridmet"))
    assert ds.sizes["time"] == 366
    summer = ds["tmmx"].sel(time="2024-07").mean()
    winter = ds["tmmx"].sel(time="2024-01").mean()
    assert float(summer) - float(winter) > 15  # a seasonal cycle, in kelvin
    lake = ds["tmmx"].isel(time=0).sel(lat=41.75, lon=-83.0, method="nearest")
    assert np.isnan(float(lake))  # open lake water is fill, as in real gridMET
    assert float(ds["pr"].sum("time").mean()) > 400  # mm per year, a wet climate


def test_maumee_discharge_follows_rain():
    from spectm.twin.weather import simulate_weather

    weather = simulate_weather(2024, np.random.default_rng(1))
    q = maumee_discharge(weather)
    rain = weather.basin["precip_mm"]
    assert np.corrcoef(rain.rolling(3).sum().shift(1).fillna(0), q)[0, 1] > 0.3
