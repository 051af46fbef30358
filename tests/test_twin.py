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


def test_granule_has_every_variable_of_the_real_product(quick):
    import netCDF4

    with netCDF4.Dataset(quick.paths("pace")[100]) as nc:
        geo, bands, lines = nc["geophysical_data"], nc["sensor_band_parameters"], nc["scan_line_attributes"]
        assert {"Rrs", "Rrs_unc", "aot_865", "angstrom", "avw", "nflh", "l2_flags"} <= set(geo.variables)
        assert {"vcal_gain", "vcal_offset", "F0", "aw", "bbw", "k_oz", "k_no2", "Tau_r"} <= set(bands.variables)
        for name in ("time", "detnum", "mside"):
            assert "_FillValue" in lines[name].ncattrs(), name
        assert nc["navigation_data"]["tilt"].units == "degree" and lines["csol_z"].units == "degree"
        assert geo["nflh"].units == "W m^-2 um^-1 sr^-1" and geo["avw"].units == "nm"
        wl = bands["wavelength"][:]
        i443 = int(np.argmin(np.abs(wl - 443)))
        assert bands["Tau_r"][i443] == pytest.approx(0.236, abs=0.01)  # Rayleigh optical thickness at 443 nm
        assert 1500 < bands["F0"][i443] < 2000  # W m^-2 um^-1
        assert bands["aw"][i443] == pytest.approx(0.0106, abs=0.002)
        valid = ~np.ma.getmaskarray(geo["avw"][:])
        assert valid.any()
        assert np.all((geo["avw"][:][valid] >= 400) & (geo["avw"][:][valid] <= 700))
        aot = geo["aot_865"][:]
        assert aot.count() and float(aot.min()) > 0 and float(aot.max()) < 1
        assert "avw" in nc["processing_control"]["input_parameters"].l2prod


def test_twin_files_say_they_are_simulated_in_the_real_attributes(quick):
    """Title, institution and DOI of a granule, and gridMET's author, name the twin; no attribute is added."""
    import netCDF4

    from spectm.data.glerl import DATASHARE_COLUMNS
    from spectm.twin.writers.labels import SIMULATED_BY

    with netCDF4.Dataset(quick.paths("pace")[0]) as nc:
        assert len(nc.ncattrs()) == 47  # the real product's root attributes, no more
        for name in ("title", "institution", "identifier_product_doi"):
            assert SIMULATED_BY in nc.getncattr(name), name
        assert nc.title.startswith("OCI Level-2 Data AOP") and not nc.institution.startswith("NASA")
        assert not nc.identifier_product_doi.startswith("10.")
    for path in quick.paths("gridmet"):
        with netCDF4.Dataset(path) as nc:
            assert SIMULATED_BY in nc.author and not {"title", "institution"} & set(nc.ncattrs())
    header = quick.paths("glerl")[0].read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == list(DATASHARE_COLUMNS)  # no comment line, no extra column


def test_noise_is_white_and_small_while_correction_error_is_smooth():
    from spectm.bands import oci_rrs_centers
    from spectm.twin.atmosphere import aerosol_fields, noise_sd, observe, plan_overpass

    wl = oci_rrs_centers()
    rng = np.random.default_rng(0)
    overpass = plan_overpass("2024-08-01", 3.6, rng)
    water = is_water(overpass.longitude, overpass.latitude)
    truth = np.broadcast_to(np.interp(wl, [400, 560, 700, 719], [0.004, 0.02, 0.008, 0.006]), water.shape + wl.shape).copy()
    rrs, unc, _ = observe(truth, overpass, water, 0.0, 3.0, wl, 3.6, rng, aerosol_fields(water.shape, 3.6, rng))
    error = (rrs - truth)[water]
    curvature = error[:, 2:] - 2 * error[:, 1:-1] + error[:, :-2]  # removes any spectrally smooth error
    white = curvature.std(axis=0) / np.sqrt(6.0)
    red = (wl[1:-1] > 620) & (wl[1:-1] < 700)
    assert np.all(white[red] < 5e-5) and np.median(white) > 5e-6
    assert np.all(noise_sd(truth[water][:5], wl)[:, (wl > 620) & (wl < 700)] < 5e-5)
    from scipy import ndimage

    offshore = (ndimage.distance_transform_edt(water) * 3.6)[water] > 8.0  # beyond the shore's adjacency
    blue, nir = error[offshore, np.argmin(np.abs(wl - 443))], error[offshore, np.argmin(np.abs(wl - 717))]
    assert np.corrcoef(blue, error[offshore, np.argmin(np.abs(wl - 490))])[0, 1] > 0.9  # correlated across bands
    assert blue.std() > 1.5 * nir.std()  # the aerosol misfit grows toward the blue ((443/717)^-1.3 = 1.9)
    near = ~offshore
    assert error[near, np.argmin(np.abs(wl - 717))].mean() > nir.mean()  # adjacency brightens the shore's NIR
    assert np.nanstd(unc[water][:, 10]) > 0 and np.all(unc[water] > 0)  # Rrs_unc per pixel


def test_2025_season_has_its_own_weather_timing_and_schedule(tmp_path):
    from spectm.twin.samples import sampling_dates

    dates_2024, dates_2025 = sampling_dates(2024), sampling_dates(2025)
    assert len(dates_2025) == len(dates_2024) and (dates_2025.year == 2025).all()
    assert list(dates_2025.day_name()) == list(dates_2024.day_name())
    a = simulate_twin(tmp_path / "y24", size="tiny", seed=0, year=2024, progress=False)
    b = simulate_twin(tmp_path / "y25", size="tiny", seed=0, year=2025, progress=False)
    assert all(".2025" in p.name for p in b.paths("pace")) and b.paths("glerl")[0].name.startswith("2025_")
    import xarray as xr

    with xr.open_dataset(a.paths("truth")[0]) as ta, xr.open_dataset(b.paths("truth")[0]) as tb:
        assert ta["toxin_quota"].attrs["peak_day_of_year"] != tb["toxin_quota"].attrs["peak_day_of_year"]
        assert not np.allclose(ta["water_temperature"].values[:30], tb["water_temperature"].values[:30], equal_nan=True)


def test_station_spectra_have_a_red_edge_in_summer(quick):
    from spectm.data.glerl import STATION_POSITIONS

    ratios = []
    for path in quick.paths("pace"):
        if int(path.name[13:15]) not in (7, 8, 9):
            continue
        ds = open_l2_aop(path)
        wl, lat, lon = ds["wavelength"].values, ds["latitude"].values, ds["longitude"].values
        r665, r709 = np.argmin(np.abs(wl - 665)), np.argmin(np.abs(wl - 709))
        for station_lat, station_lon in STATION_POSITIONS.values():
            km = np.hypot((lat - station_lat) * 111.0, (lon - station_lon) * 82.8)
            i = np.unravel_index(np.nanargmin(km), km.shape)
            if km[i] < 2.0 and bool(ds["valid"].values[i]):
                ratios.append(ds["Rrs"].values[i][r709] / ds["Rrs"].values[i][r665])
    assert len(ratios) > 50
    assert np.median(ratios) >= 1.0  # the red-edge peak rivals R665 in bloom season (old twin: 0.86)


def test_writer_refuses_an_aerosol_field_of_the_wrong_shape(tmp_path):
    from spectm.bands import oci_rrs_centers
    from spectm.twin.writers.pace import write_l2_aop

    rrs = np.full((4, 5, oci_rrs_centers().size), 0.01)
    lat, lon = np.full((4, 5), 41.7), np.full((4, 5), -83.2)
    with pytest.raises(ValueError, match=r"aot_865 has shape \(3, 5\)"):
        write_l2_aop(tmp_path / "g.nc", rrs, lat, lon, np.zeros((4, 5), int), pd.Timestamp("2024-08-01T17:30"),
                     aot_865=np.full((3, 5), 0.05))  # fmt: skip
    assert not (tmp_path / "g.nc").exists()  # refused before anything is written


#: Every variable of a real L2 AOP granule (V3.1 layout A; V3.2 adds the geophysical ``wavelength`` and
#: ``band_index``): group/name -> (dtype, fill, scale_factor, add_offset, valid_min, valid_max, units);
#: None = the attribute is absent. From NASA's product (a real V3.1 subset) and l2gen's l2_generic.c.
PRODUCT_VARIABLES = {
    "geophysical_data/Rrs": (np.int16, -32767, 2e-06, 0.05, -30000, 25000, "sr^-1"),
    "geophysical_data/Rrs_unc": (np.int16, -32767, 5e-08, 0.0015, -30000, 30000, "sr^-1"),
    "geophysical_data/aot_865": (np.int16, -32767, 1e-04, 0.0, 0, 30000, None),
    "geophysical_data/angstrom": (np.int16, -32767, 1e-04, 2.5, -30000, 5000, None),
    "geophysical_data/avw": (np.float32, -32767.0, None, None, 400.0, 700.0, "nm"),
    "geophysical_data/nflh": (np.int16, -32767, 8.5e-05, 2.25, -26471, 32353, "W m^-2 um^-1 sr^-1"),
    "geophysical_data/l2_flags": (np.int32, None, None, None, -(2**31), 2**31 - 1, None),
    "navigation_data/longitude": (np.float32, -999.0, None, None, -180.0, 180.0, "degrees_east"),
    "navigation_data/latitude": (np.float32, -999.0, None, None, -90.0, 90.0, "degrees_north"),
    "navigation_data/tilt": (np.float32, -999.0, None, None, -25.0, 25.0, "degree"),
    "sensor_band_parameters/wavelength": (np.int32, -32767, None, None, 0, 20000, "nm"),
    "sensor_band_parameters/wavelength_3d": (np.int32, -32767, None, None, 0, 20000, "nm"),
    **{f"sensor_band_parameters/{name}": (np.float32, -32767.0, None, None, None, None, False)
       for name in ("vcal_gain", "vcal_offset", "F0", "aw", "bbw", "k_oz", "k_no2", "Tau_r")},
    **{f"scan_line_attributes/{name}": (dtype, False, None, None, None, None, False)
       for name, dtype in (("year", np.int32), ("day", np.int32), ("msec", np.int32), ("time", np.float64),
                           ("detnum", np.int8), ("mside", np.int8), ("slon", np.float32), ("clon", np.float32),
                           ("elon", np.float32), ("slat", np.float32), ("clat", np.float32), ("elat", np.float32),
                           ("csol_z", np.float32))},
}  # fmt: skip
LAYOUT_B_VARIABLES = {"geophysical_data/wavelength": np.float32, "geophysical_data/band_index": np.int32,
                      "sensor_band_parameters/fwave": np.float32}  # fmt: skip


def _check_variable(nc, path, expected):
    dtype, fill, scale, offset, vmin, vmax, units = expected
    var = nc[path]
    assert var.dtype == dtype, path
    attrs = var.ncattrs()
    if fill is None:
        assert "_FillValue" not in attrs, path
    elif fill is not False:
        assert var._FillValue == dtype(fill), path
    else:
        assert "_FillValue" in attrs, path  # present; the value is the product's per-type fill
    for name, value in (("scale_factor", scale), ("add_offset", offset)):
        if value is None:
            assert name not in attrs, (path, name)
        else:
            assert getattr(var, name) == np.float32(value) and getattr(var, name).dtype == np.float32, (path, name)
    if vmin is not None:
        assert (var.valid_min, var.valid_max) == (vmin, vmax) and var.valid_min.dtype == dtype, path
    if units:
        assert var.units == units, path
    if var.ndim >= 2 and not path.startswith("navigation_data/l"):
        assert var.coordinates == "longitude latitude", path


@pytest.mark.parametrize("layout", ["3.1", "3.2"])
def test_twin_granule_holds_every_variable_dtype_and_packing_of_the_product(tmp_path, layout):
    import netCDF4

    manifest = simulate_twin(tmp_path, size="tiny", seed=0, layout=layout, progress=False)
    with netCDF4.Dataset(manifest.paths("pace")[0]) as nc:
        for path, expected in PRODUCT_VARIABLES.items():
            _check_variable(nc, path, expected)
        for path, dtype in LAYOUT_B_VARIABLES.items():
            assert (path.split("/")[1] in nc[path.split("/")[0]].variables) == (layout == "3.2"), path
            if layout == "3.2":
                assert nc[path].dtype == dtype and "_FillValue" in nc[path].ncattrs(), path
        bands = nc["sensor_band_parameters"]
        wl = bands["wavelength"][:].astype(float)
        k_oz = np.ma.filled(bands["k_oz"][:].astype(float), np.nan)
        # ozone: the Chappuis band peaks near 600 nm (~0.13 cm^-1), is ~0.003 at 443 nm, fill beyond 1000 nm
        assert k_oz[np.argmin(np.abs(wl - 600))] == pytest.approx(0.13, abs=0.01)
        assert k_oz[np.argmin(np.abs(wl - 443))] == pytest.approx(0.0033, abs=0.001)
        assert np.isfinite(k_oz[wl <= 1000]).all() and np.isnan(k_oz[wl > 1000]).all()
        assert nc["navigation_data"].gringpointsequence.tolist() == [1, 2, 3, 4]
        assert nc.processing_version == layout and len(nc.ncattrs()) == 47
