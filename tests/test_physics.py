"""Tests of spectm.physics: tables against the spec, physical behaviour of the Rrs model, indices by hand."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import xarray as xr

from spectm.bands import gap_mask, wavelength_grid
from spectm.physics import (
    BAND_TOLERANCE_NM,
    all_indices,
    backscattering_from_rrs,
    band,
    bricaud_coefficients,
    cdom_absorption,
    ci_cyano,
    cyanobacteria_index,
    flh,
    iop_spectra,
    ndci,
    pc_baseline_depth,
    phycocyanin_absorption,
    phytoplankton_absorption,
    pure_water_absorption,
    pure_water_backscattering,
    red_edge_height,
    rrs_from_iops,
    simis_phycocyanin,
    simis_ratio,
    simulate_rrs,
    simulate_rrs_dataarray,
    ss665,
)

# --------------------------------------------------------------------------------------------------
# Tables against spot values of their sources (spectm/resources/optics/, each file naming its source)
# --------------------------------------------------------------------------------------------------

BRICAUD_SPEC = {  # nm: (Aphi m2/mg, Ephi), the spec's rounded rows
    440: (0.0378, 0.627),
    490: (0.0254, 0.607),
    550: (0.0070, 0.931),
    600: (0.0052, 0.841),
    620: (0.0061, 0.870),
    640: (0.0071, 0.852),
    664: (0.0135, 0.823),
    674: (0.0182, 0.813),
    676: (0.0180, 0.816),
    680: (0.0161, 0.828),
    700: (0.0025, 1.029),
}


def test_bricaud_table_matches_spec_rows():
    wavelengths = np.array(list(BRICAUD_SPEC), dtype=float)
    aphi, ephi = bricaud_coefficients(wavelengths)
    expected = np.array(list(BRICAUD_SPEC.values()))
    np.testing.assert_allclose(aphi, expected[:, 0], atol=5e-5)
    np.testing.assert_allclose(ephi, expected[:, 1], atol=5e-4)


def test_bricaud_table_is_the_full_2nm_table():
    text = resources.files("spectm.resources.optics").joinpath("bricaud1998_aphi.csv").read_text()
    rows = [line for line in text.splitlines() if line and not line.startswith("#")][1:]
    assert [float(row.split(",")[0]) for row in rows] == list(np.arange(400.0, 701.0, 2.0))


@pytest.mark.parametrize(
    "nm, aw",
    [(440, 0.0104), (490, 0.0181), (550, 0.0588), (600, 0.2224), (620, 0.281), (665, 0.405),
     (681, 0.435), (700, 0.572), (709, 0.72), (719, 1.03), (720, 1.07)],
)
def test_pure_water_absorption_matches_jerlov_table(nm, aw):
    assert pure_water_absorption([nm])[0] == pytest.approx(aw, rel=5e-3)


def test_pure_water_absorption_refuses_to_extrapolate():
    with pytest.raises(ValueError, match="300-800 nm"):
        pure_water_absorption([250.0, 500.0])


def test_pure_water_backscattering_fresh_water_matches_spec():
    wavelengths = [400, 440, 500, 550, 620, 665, 700]
    expected = [0.00291, 0.00193, 0.00111, 0.00073, 0.00044, 0.00032, 0.00026]
    np.testing.assert_allclose(pure_water_backscattering(wavelengths), expected, atol=5e-6)
    # salt raises bbw by 30 % at S = 37 (Morel's factor 1 + 0.3 S/37)
    assert pure_water_backscattering([500], salinity=37.0)[0] == pytest.approx(1.3 * 0.0011084, rel=2e-3)


def test_package_data_names_source_and_licence():
    folder = resources.files("spectm.resources.optics")
    aw_header = folder.joinpath("williamson2022_aw.csv").read_text().split("wavelength_nm")[0]
    for phrase in ("jerlov 0.22.0", "Open Government Licence", "Buiteveld"):
        assert phrase in aw_header
    assert "Bricaud" in folder.joinpath("bricaud1998_aphi.csv").read_text().splitlines()[0]


# --------------------------------------------------------------------------------------------------
# Constituent IOPs
# --------------------------------------------------------------------------------------------------


def test_aph_at_chl_20_matches_spec():
    aph = phytoplankton_absorption(20.0, [440.0, 665.0, 675.0])
    assert aph[0] == pytest.approx(0.25, abs=0.005)  # Bricaud in the blue
    assert aph[1] == pytest.approx(20 * 0.0161, rel=1e-6)  # Gons' turbid-lake a*chl(665) in the red
    assert 1.2 < aph[2] / aph[1] < 1.5  # the band still peaks near 675 nm, with Bricaud's shape


def test_red_chl_absorption_is_gons_not_half_of_it():
    chl = np.array([5.0, 25.0, 50.0, 200.0])
    a665 = phytoplankton_absorption(chl, [665.0])[:, 0] / chl
    np.testing.assert_allclose(a665, 0.0161, rtol=1e-6)  # the old model gave ~0.008 above 25 mg m-3


def test_red_edge_of_a_bloom_rivals_665():
    wl = np.arange(400.0, 720.0)
    rrs = simulate_rrs(50.0, 20.0, 1.0, 10.0, wl)
    r665, r709 = rrs[wl == 665.0][0], rrs[wl == 709.0][0]
    assert r709 > r665
    assert 0.17 < (r709 - r665) / (r709 + r665) < 0.33  # NDCI ~0.25 at chl 50 (Mishra & Mishra 2012)


def test_aph_is_linear_above_25_and_keeps_blue_above_green():
    wavelengths = [490.0, 550.0, 676.0]
    at_25, at_100 = phytoplankton_absorption(np.array([25.0, 100.0]), wavelengths)
    np.testing.assert_allclose(at_100, 4 * at_25, rtol=1e-12)
    assert at_100[1] < at_100[0]  # the unphysical aph(550) > aph(490) of the raw power law is avoided
    # below 25 and outside the red band it is Bricaud's power law
    aphi, ephi = bricaud_coefficients([550.0])
    assert phytoplankton_absorption(10.0, [550.0])[0] == pytest.approx(aphi[0] * 10 ** ephi[0], rel=1e-9)


def test_aph_extension_outside_400_700():
    aph = phytoplankton_absorption(10.0, [350.0, 400.0, 700.0, 710.0, 720.0])
    assert aph[0] == pytest.approx(aph[1])  # held below 400 nm
    assert aph[2] > aph[3] > aph[4] > 0  # decays above 700 nm
    assert aph[4] / aph[3] == pytest.approx(np.exp(-1.0), rel=1e-9)  # 10 nm e-folding beyond the red band


def test_phycocyanin_cdom_shapes():
    assert phycocyanin_absorption(100.0, [620.0])[0] == pytest.approx(0.95)
    apc = phycocyanin_absorption(1.0, [565.0, 600.0, 620.0, 640.0, 680.0])
    assert apc.argmax() == 2 and apc[4] == 0.0  # peak at 620 nm, nothing left at 680 nm
    assert 0.4 < apc[0] / apc[2] < 0.65  # Patel et al. 2005: a broad blue shoulder, half the peak at 565 nm
    assert apc[3] / apc[2] < apc[1] / apc[2]  # asymmetric: steeper on the red side
    np.testing.assert_allclose(cdom_absorption(2.0, [440.0, 540.0]), [2.0, 2.0 * np.exp(-1.76)])


def test_rrs_from_iops_by_hand():
    # a = 1, bb = 0.1: u = 1/11 = 0.0909091; rrs = u (0.089 + 0.125 u) = 0.0091240;
    # Rrs = 0.52 * 0.0091240 / (1 - 1.7 * 0.0091240) = 0.0048192
    assert rrs_from_iops(1.0, 0.1) == pytest.approx(0.0048192, rel=1e-4)
    bb = np.array([0.01, 0.1, 1.0])
    np.testing.assert_allclose(backscattering_from_rrs(rrs_from_iops(0.8, bb), 0.8), bb, rtol=1e-10)


# --------------------------------------------------------------------------------------------------
# Forward model: shapes, consistency, physical behaviour
# --------------------------------------------------------------------------------------------------


def _rrs_at(spectrum: np.ndarray, wavelengths: np.ndarray, nm: float) -> np.ndarray:
    return spectrum[..., int(np.argmin(np.abs(wavelengths - nm)))]


WL = wavelength_grid("oci_rrs172").values


def test_simulate_broadcasts_to_leading_dims_with_trailing_wavelength():
    chl = np.full((2, 3, 4), 10.0)
    rrs = simulate_rrs(chl, 5.0, np.array([0.3, 0.6, 0.9, 1.2]), 4.0, "oci_rrs172")
    assert rrs.shape == (2, 3, 4, 172)
    np.testing.assert_allclose(rrs[0, 0], rrs[1, 2])  # same inputs, same spectrum
    single = simulate_rrs(10.0, 5.0, 0.6, 4.0, WL, dtype=np.float32)
    assert single.dtype == np.float32 and single.shape == (172,)
    np.testing.assert_allclose(single, rrs[0, 0, 1], rtol=1e-5)


def test_simulate_equals_sum_of_constituents():
    """The fast blocked path and the per-constituent path of iop_spectra agree (two implementations)."""
    rng = np.random.default_rng(0)
    chl, pc = rng.uniform(0.5, 300, 50), rng.uniform(0, 300, 50)
    ag, tss = rng.uniform(0.1, 3, 50), rng.uniform(0.5, 80, 50)
    fast = simulate_rrs(chl, pc, ag, tss, WL, block_size=7)
    parts = iop_spectra(chl, pc, ag, tss, WL)
    np.testing.assert_allclose(fast, parts["Rrs"].values, rtol=1e-12)
    total_a = sum(parts[name] for name in ("aw", "aph", "apc", "ag", "anap"))
    np.testing.assert_allclose(parts["a"].values, total_a.values)
    assert parts["Rrs"].attrs["units"] == "sr-1" and parts["aph"].attrs["units"] == "m-1"


def test_simulate_rrs_range_is_plausible_over_erie_conditions():
    grid = np.meshgrid([0.5, 5, 50, 300], [0, 30, 300], [0.1, 1, 3], [0.5, 10, 80], indexing="ij")
    rrs = simulate_rrs(*grid, "oci_rrs172")
    assert np.all(rrs > 0) and np.all(rrs < 0.1)


def test_more_chlorophyll_deepens_675_trough_and_raises_red_edge():
    chl = np.array([5.0, 20.0, 80.0, 250.0])
    rrs = simulate_rrs(chl, 0.0, 0.5, 5.0, WL)
    trough = _rrs_at(rrs, WL, 675) / _rrs_at(rrs, WL, 650)
    red_edge = _rrs_at(rrs, WL, 705)
    assert np.all(np.diff(trough) < 0)
    assert np.all(np.diff(red_edge) > 0)


def test_more_phycocyanin_lowers_620_and_more_cdom_lowers_blue():
    pc_rrs = simulate_rrs(20.0, np.array([0.0, 20.0, 100.0]), 0.5, 5.0, WL)
    assert np.all(np.diff(_rrs_at(pc_rrs, WL, 620)) < 0)
    # beyond the phycocyanin band (zero above ~680 nm, Patel et al. 2005) nothing changes; in the blue
    # the pigment's weak Soret-side band changes Rrs by a few per cent at most
    np.testing.assert_allclose(_rrs_at(pc_rrs, WL, 705), _rrs_at(pc_rrs, WL, 705)[0], rtol=1e-3)
    np.testing.assert_allclose(_rrs_at(pc_rrs, WL, 450), _rrs_at(pc_rrs, WL, 450)[0], rtol=0.05)
    cdom_rrs = simulate_rrs(20.0, 10.0, np.array([0.1, 1.0, 3.0]), 5.0, WL)
    assert np.all(np.diff(_rrs_at(cdom_rrs, WL, 443)) < 0)


def test_fluorescence_is_an_added_bump_at_685():
    with_fl = simulate_rrs(20.0, 0.0, 0.5, 5.0, WL)
    without = simulate_rrs(20.0, 0.0, 0.5, 5.0, WL, fluorescence=False)
    difference = with_fl - without
    assert WL[difference.argmax()] == pytest.approx(685.0, abs=1.5)
    assert difference.max() == pytest.approx(5e-4 * 20 / 25, rel=0.01)
    assert difference.max() < 0.2 * with_fl.max()


def test_negative_concentration_is_rejected():
    with pytest.raises(ValueError, match="tss"):
        simulate_rrs(1.0, 1.0, 0.5, -1.0, WL)


def test_dataarray_wrapper_keeps_dims_and_cf_attrs():
    chl = xr.DataArray(np.array([[1.0, 50.0]]), dims=("y", "x"), coords={"y": [41.7], "x": [-83.3, -83.2]})
    rrs = simulate_rrs_dataarray(chl, 0.5 * chl, 0.5, 5.0, "paper122")
    assert rrs.dims == ("y", "x", "wavelength") and rrs.sizes["wavelength"] == 122
    assert rrs.attrs["units"] == "sr-1" and rrs["wavelength"].attrs["units"] == "nm"
    np.testing.assert_allclose(rrs["x"], [-83.3, -83.2])
    np.testing.assert_allclose(rrs.values[0, 1], simulate_rrs(50.0, 25.0, 0.5, 5.0, "paper122"))
    numpy_in = simulate_rrs(np.array([1.0, 2.0]), 0.0, 0.5, 5.0, "paper122", as_xarray=True)
    assert numpy_in.dims == ("sample", "wavelength")


# --------------------------------------------------------------------------------------------------
# Indices on a hand-made spectrum
# --------------------------------------------------------------------------------------------------

# A linear spectrum L(l) = 0.002 + 1e-5 (l - 400) sr^-1 on a 1 nm grid, with a trough of D at 620 nm, a
# bump of H at 681 nm and a bump of E at 709 nm. Baselines of a linear spectrum are exact, so:
#   pc_baseline_depth = D                       (585-650 baseline)
#   SS(681) = H - E * 16/44 -> CI = -H + E * 16/44, FLH = H - E * 16/44
#   SS(665) = -[-D + (H + D) * 45/61] = D * 16/61 - H * 45/61
#   red_edge_height = E                         (665-715 baseline)
#   NDCI = (L708 - L665)/(L708 + L665) = (0.00508 - 0.00465)/(0.00508 + 0.00465) = 0.0441932
#   R709/R620 = (0.00509 + E)/(0.00420 - D)
D, H, E = 0.0003, 0.0002, 0.0005


def hand_spectrum(wavelengths=np.arange(400.0, 721.0)) -> xr.DataArray:
    values = 0.002 + 1e-5 * (wavelengths - 400.0)
    values[wavelengths == 620] -= D
    values[wavelengths == 681] += H
    values[wavelengths == 709] += E
    coords = {"wavelength": wavelengths}
    return xr.DataArray(values, dims="wavelength", coords=coords, attrs={"units": "sr-1"})


def test_indices_by_hand():
    rrs = hand_spectrum()
    assert float(pc_baseline_depth(rrs)) == pytest.approx(0.0003, abs=1e-12)
    assert float(cyanobacteria_index(rrs)) == pytest.approx(-0.0002 + 0.0005 * 16 / 44, abs=1e-12)
    assert float(flh(rrs)) == pytest.approx(0.0002 - 0.0005 * 16 / 44, abs=1e-12)
    assert float(ss665(rrs)) == pytest.approx(0.0003 * 16 / 61 - 0.0002 * 45 / 61, abs=1e-12)
    assert float(red_edge_height(rrs)) == pytest.approx(0.0005, abs=1e-12)
    assert float(ndci(rrs)) == pytest.approx(0.0441932, rel=1e-6)
    assert float(simis_ratio(rrs)) == pytest.approx((0.00509 + 0.0005) / (0.00420 - 0.0003), rel=1e-9)


def test_ci_cyano_follows_the_ss665_sign():
    rrs = hand_spectrum()  # SS665 = 0.0003*16/61 - 0.0002*45/61 < 0: not cyanobacteria
    assert float(ss665(rrs)) < 0 and float(ci_cyano(rrs)) == 0.0
    deeper = rrs.copy()
    deeper.loc[{"wavelength": 620}] -= 0.001  # a deeper PC trough: SS665 > 0
    assert float(ss665(deeper)) > 0
    assert float(ci_cyano(deeper)) == pytest.approx(float(cyanobacteria_index(deeper)))


def test_band_lookup_interpolates_between_bracketing_bands_else_takes_nearest():
    bracketed = xr.DataArray([1.0, 3.0], dims="wavelength", coords={"wavelength": [680.0, 682.0]})
    assert float(band(bracketed, 681.0)) == pytest.approx(2.0)
    assert float(band(bracketed, 681.5)) == pytest.approx(2.5)
    one_side = xr.DataArray([1.0, 3.0, 5.0], dims="wavelength", coords={"wavelength": [600.0, 681.2, 700.0]})
    assert float(band(one_side, 681.0)) == 3.0
    assert BAND_TOLERANCE_NM == 1.5
    with pytest.raises(ValueError):
        band(one_side, 683.0)  # 1.8 nm from the nearest band


def test_missing_band_error_names_index_band_and_range():
    short = hand_spectrum(np.arange(400.0, 651.0))
    with pytest.raises(ValueError, match=r"ndci needs a band at 708 nm \(\+-1.5 nm\); .*400.0-650.0 nm"):
        ndci(short)
    gap = hand_spectrum(np.concatenate([np.arange(400.0, 589.0), np.arange(623.0, 721.0)]))
    with pytest.raises(ValueError, match="pc_baseline_depth needs a band at 620 nm"):
        pc_baseline_depth(gap)


def test_leading_dims_preserved_and_wavelength_position_free():
    base = hand_spectrum()
    coords = {"y": [0, 1], "x": [10, 20, 30]}
    scale = xr.DataArray(np.arange(1.0, 7.0).reshape(2, 3), dims=("y", "x"), coords=coords)
    cube = base * scale  # dims (wavelength, y, x): wavelength first
    cube.attrs["units"] = "sr-1"
    result = pc_baseline_depth(cube)
    assert result.dims == ("y", "x") and list(result["x"].values) == [10, 20, 30]
    np.testing.assert_allclose(result.values, D * scale.values, atol=1e-12)
    last = cube.transpose("y", "x", "wavelength")
    expected = all_indices(cube)["ci"].transpose("y", "x").values
    np.testing.assert_allclose(all_indices(last)["ci"].values, expected)
    assert "wavelength" not in all_indices(last).coords


def test_nan_band_gives_nan_not_error():
    cube = xr.concat([hand_spectrum(), hand_spectrum()], dim="pixel")
    cube[1, cube.wavelength.values == 681] = np.nan
    ci = cyanobacteria_index(cube)
    assert np.isfinite(ci[0]) and np.isnan(ci[1])
    assert np.isfinite(ndci(cube)).all()  # 681 nm is not an NDCI band


def test_index_attributes():
    for name, index in all_indices(hand_spectrum()).data_vars.items():
        assert {"long_name", "units", "reference", "bands_nm"} <= set(index.attrs), name
    assert ndci(hand_spectrum()).attrs["units"] == "1"
    assert cyanobacteria_index(hand_spectrum()).attrs["units"] == "sr-1"


@pytest.fixture(scope="module")
def erie_spectra():
    chl = np.array([2.0, 10.0, 40.0, 120.0])
    return {grid: simulate_rrs_dataarray(chl, chl, 0.6, 6.0, grid) for grid in ("paper122", "oci_rrs172")}


def test_all_indices_on_paper122_with_gap_and_oci172(erie_spectra):
    paper = erie_spectra["paper122"]
    paper = paper.where(~gap_mask(paper.wavelength))  # the model grid carries 590-610 nm as missing
    assert paper.isnull().any()
    on_paper = all_indices(paper)
    on_oci = all_indices(erie_spectra["oci_rrs172"])
    for name in on_paper.data_vars:
        assert on_paper[name].dims == ("sample",)
        assert np.isfinite(on_paper[name]).all() and np.isfinite(on_oci[name]).all(), name
    # the lookup rule makes the two grids agree on the same water
    np.testing.assert_allclose(on_paper["ndci"], on_oci["ndci"], atol=0.01)
    np.testing.assert_allclose(on_paper["ci"], on_oci["ci"], atol=5e-5)
    # and the indices respond to biomass as their papers say
    assert np.all(np.diff(on_oci["ndci"].values) > 0) and np.all(np.diff(on_oci["ci"].values) > 0)


def test_simis_retrieves_simulated_phycocyanin():
    pc = np.array([10.0, 30.0, 100.0, 300.0])
    rrs = simulate_rrs_dataarray(np.full(4, 20.0), pc, 0.5, 5.0, "oci_rrs172")
    retrieved = simis_phycocyanin(rrs).values
    assert np.all(np.diff(retrieved) > 0)
    # at PC:chl 0.5 the chl correction dominates and Simis under-reads (as Simis et al. 2005 report)
    np.testing.assert_allclose(retrieved[1:], pc[1:], rtol=0.5)
    assert 0 < retrieved[0] < pc[0]
