"""The band grids and the diagnostic set D."""

import numpy as np
import pytest

from spectm import bands


def test_model_grid_has_122_bands_and_28_diagnostic():
    grid = bands.wavelength_grid("paper122")
    assert grid.size == 122
    assert grid.values[0] == 415.0 and grid.values[-1] == 717.5
    np.testing.assert_allclose(np.diff(grid.values), 2.5)
    mask = bands.diagnostic_mask(grid)
    assert int(mask.sum()) == 28
    assert mask.dims == ("wavelength",)
    np.testing.assert_array_equal(mask.wavelength.values, grid.values)


def test_windows_are_half_open_on_the_model_grid():
    names = bands.window_name(bands.wavelength_grid("paper122"))
    counts = {w: int((names == w).sum()) for w in bands.DIAGNOSTIC_WINDOWS}
    assert counts == {"phycocyanin": 10, "chlorophyll_a": 8, "red_edge": 10}
    mask = bands.diagnostic_mask([614.9, 615.0, 639.9, 640.0, 660.0, 680.0, 695.0, 719.99, 720.0])
    assert mask.values.tolist() == [False, True, True, False, True, False, True, True, False]


def test_closed_windows_would_give_30():
    """Why half-open: the closed rule adds 640.0 and 680.0 (bands.md)."""
    grid = bands.wavelength_grid("paper122").values
    closed = sum(((grid >= a) & (grid <= b)).sum() for a, b in bands.DIAGNOSTIC_WINDOWS.values())
    assert closed == 30


def test_nine_gap_bands_on_the_model_grid():
    gap = bands.gap_mask(bands.wavelength_grid("paper122"))
    np.testing.assert_allclose(gap.wavelength.values[gap.values], 590.0 + 2.5 * np.arange(9))
    assert not (gap & bands.diagnostic_mask(gap.wavelength)).any()


def test_native_grids_match_the_spec():
    nominal, centers = bands.oci_rrs_nominal(), bands.oci_rrs_centers()
    assert nominal.size == centers.size == 172
    assert nominal[0] == 346 and nominal[-1] == 719
    assert not ((nominal > 588) & (nominal < 613)).any()
    assert np.all(np.abs(nominal - centers) < 0.8)
    assert np.all(np.diff(centers) > 0)
    sensor = bands.oci_sensor_nominal()
    assert sensor.size == 286 and sensor[0] == 315 and sensor[-1] == 2258
    assert np.isin(nominal, sensor).all()
    assert bands.wavelength_grid("oci_rrs172").attrs["units"] == "nm"


@pytest.mark.parametrize("name", bands.GRIDS)
def test_every_shipped_grid_reports_its_D(name, capsys):
    row = next(r for r in bands.grid_summary() if r["grid"] == name)
    with capsys.disabled():
        print(f"\n|D| on {name}: {row['D']} of {row['bands']} bands "
              f"(phycocyanin {row['phycocyanin']}, chlorophyll_a {row['chlorophyll_a']}, red_edge {row['red_edge']})")
    assert row["D"] == row["phycocyanin"] + row["chlorophyll_a"] + row["red_edge"]
    expected = {"paper122": 28, "oci_rrs172": 45, "sfrefl122": 23, "native_thinned122": 29}
    assert row["D"] == expected[name]
    assert row["bands"] == (172 if name == "oci_rrs172" else 122)


def test_unknown_grid_names_the_choices():
    with pytest.raises(ValueError, match="paper122"):
        bands.wavelength_grid("nope")


def test_mask_accepts_a_dataarray_with_other_dims():
    import xarray as xr

    grid = bands.wavelength_grid("paper122")
    spectra = xr.DataArray(np.zeros((3, grid.size)), dims=("pixel", "wavelength"), coords={"wavelength": grid})
    assert int(bands.diagnostic_mask(spectra).sum()) == 28
