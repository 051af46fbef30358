"""The second twin water body (``water="turbid_bay"``): more CDOM and sediment, same files and sampling."""

from __future__ import annotations

import filecmp
import json

import numpy as np
import pytest
import xarray as xr

from spectm.data.glerl import read_glerl_csv
from spectm.data.gridmet import open_gridmet
from spectm.data.pace import open_l2_aop, water_pixels
from spectm.twin import WATERS, simulate_twin
from spectm.twin.simulate import MANIFEST_NAME


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("twin_transfer")
    erie = simulate_twin(root / "erie", size="tiny", seed=2, progress=False)
    bay = simulate_twin(root / "bay", size="tiny", seed=2, progress=False, water="turbid_bay")
    return erie, bay


def _truth(manifest) -> xr.Dataset:
    with xr.open_dataset(manifest.paths("truth")[0]) as ds:
        return ds.load()


def _season_quantiles(manifest, name):
    truth = _truth(manifest)
    values = truth[name].where(truth["water"] == 1).sel(time=slice("2024-05-01", None)).values
    return np.nanquantile(values, [0.1, 0.5, 0.9])


def test_turbid_bay_has_more_cdom_and_sediment(pair):
    erie, bay = pair
    for name in ("ag440", "tss"):
        q_erie, q_bay = _season_quantiles(erie, name), _season_quantiles(bay, name)
        assert np.all(q_bay > 1.5 * q_erie), (name, q_erie, q_bay)  # the whole distribution moves up
    assert WATERS["turbid_bay"].cdom_background > 2 * WATERS["lake_erie"].cdom_background


def test_turbid_bay_spectra_are_browner_and_brighter_in_the_red(pair):
    def medians(manifest):
        pixels = [water_pixels(open_l2_aop(p))["Rrs"] for p in manifest.paths("pace")]
        rrs = np.concatenate([p.values for p in pixels if p.sizes["pixel"]])
        wl = pixels[0]["wavelength"].values
        band = lambda nm: rrs[:, np.argmin(np.abs(wl - nm))]
        return np.median(band(440) / band(555)), np.median(band(700))

    (blue_green_erie, red_erie), (blue_green_bay, red_bay) = medians(pair[0]), medians(pair[1])
    assert blue_green_bay < blue_green_erie  # CDOM and detritus absorb the blue
    assert red_bay > red_erie  # mineral particles backscatter the red


def test_same_files_same_weather_and_readers_work(pair):
    erie, bay = pair
    assert [f["path"] for f in erie.files] == [f["path"] for f in bay.files]
    for a, b in zip(erie.paths("gridmet"), bay.paths("gridmet")):
        assert filecmp.cmp(a, b, shallow=False)  # same weather draws: only the water differs
    samples_erie, samples_bay = read_glerl_csv(erie.paths("glerl")[0]), read_glerl_csv(bay.paths("glerl")[0])
    assert list(samples_erie.columns) == list(samples_bay.columns)
    assert sorted(samples_bay["station"].unique()) == sorted(samples_erie["station"].unique())
    assert len(samples_bay) > 0 and samples_bay["date"].nunique() == samples_erie["date"].nunique()
    assert open_gridmet(bay.paths("gridmet")).sizes["time"] == 366
    granule = open_l2_aop(bay.paths("pace")[0])
    assert granule["Rrs"].dims == open_l2_aop(erie.paths("pace")[0])["Rrs"].dims


def test_settings_name_the_water_only_when_not_default(pair):
    erie, bay = pair
    assert "water" not in erie.settings and bay.settings["water"] == "turbid_bay"
    on_disk = json.loads((bay.paths("pace")[0].parents[1] / MANIFEST_NAME).read_text())
    assert on_disk["settings"]["water"] == "turbid_bay"
    assert _truth(bay).attrs["water"] == "turbid_bay"


def test_a_manifest_of_another_water_is_not_reused(pair):
    from spectm.twin.simulate import _load_complete, _settings

    erie, _ = pair
    assert simulate_twin(erie.out_dir, size="tiny", seed=2, progress=False).reused
    # asking for the bay in the lake's folder must not hand back the lake
    assert _load_complete(erie.paths("pace")[0].parents[1], _settings("tiny", 2, 2024, "3.1", "turbid_bay")) is None


def test_turbid_bay_is_deterministic(pair, tmp_path):
    again = simulate_twin(tmp_path / "bay", size="tiny", seed=2, progress=False, water="turbid_bay")
    for a, b in zip(pair[1].paths(), again.paths()):
        assert filecmp.cmp(a, b, shallow=False), a.name


def test_unknown_water_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown twin water 'sea'.*lake_erie"):
        simulate_twin(tmp_path, size="tiny", water="sea", progress=False)
