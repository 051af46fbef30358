"""Twin granules at full-swath size (:mod:`spectm.twin.writers.swath`): the twin's Lake Erie scene placed
inside a whole OCI swath, in both L2 AOP layouts.

The real size is 1710 scan lines; these tests write 120 lines of the full 1272-pixel width (enough to
hold the western basin) so they take seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

import netCDF4

from spectm import cli
from spectm.data.pace import flag_bits, open_l2_aop
from spectm.twin import simulate_twin
from spectm.twin.writers import pace as pace_writer
from spectm.twin.writers.swath import FULL_SWATH, read_scene, write_full_swath

LINES = 120


@pytest.fixture(scope="module")
def tiny_twin(tmp_path_factory):
    return simulate_twin(tmp_path_factory.mktemp("twin"), size="tiny", progress=False)


@pytest.fixture(scope="module")
def swaths(tiny_twin, tmp_path_factory):
    source = tiny_twin.paths("pace")[2]
    out = tmp_path_factory.mktemp("full")
    return source, {v: write_full_swath(source, out / v, swath=(LINES, FULL_SWATH[1]), layout=v) for v in ("3.1", "3.2")}


def _raw(path, group, name):
    with netCDF4.Dataset(path) as nc:
        var = nc[group][name]
        var.set_auto_maskandscale(False)
        return np.asarray(var[:]), var.chunking(), {k: var.getncattr(k) for k in var.ncattrs()}


@pytest.mark.parametrize("version", ["3.1", "3.2"])
def test_full_swath_has_the_real_shape_chunks_and_packing(swaths, version):
    source, written = swaths
    path = written[version]
    rrs, chunks, attrs = _raw(path, "geophysical_data", "Rrs")
    assert rrs.shape == (LINES, 1272, 172) and chunks == [32, 256, 40]
    assert _raw(path, "geophysical_data", "l2_flags")[1] == [LINES, 1272]  # (256, 1272) clipped to the lines
    assert (attrs["scale_factor"], attrs["add_offset"], attrs["_FillValue"]) == (np.float32(2e-6), np.float32(0.05), -32767)
    with netCDF4.Dataset(path) as nc:
        assert nc.processing_version == version and "placed in a 120 x 1272 swath" in nc.history
        assert ("wavelength" in nc["geophysical_data"]["Rrs"].dimensions) == (version == "3.2")
    lat, lon = (_raw(path, "navigation_data", n)[0] for n in ("latitude", "longitude"))
    assert np.isfinite(lat).all() and (np.abs(lat) < 90).all() and (np.abs(lon) < 180).all()
    assert 15.0 < lon.max(axis=1).min() - lon.min(axis=1).max() < 40.0  # a swath some 2300 km across


def test_scene_keeps_its_packed_spectra_and_everything_else_is_land_fill(swaths):
    source, written = swaths
    src_rrs = _raw(source, "geophysical_data", "Rrs")[0]
    rrs = _raw(written["3.2"], "geophysical_data", "Rrs")[0]
    flags = _raw(written["3.2"], "geophysical_data", "l2_flags")[0]
    src_valid = (src_rrs != -32767).all(axis=2)
    valid = (rrs != -32767).all(axis=2)
    spectra = {row.tobytes() for row in src_rrs[src_valid]}
    assert {row.tobytes() for row in rrs[valid]} == spectra  # every scene spectrum, and only those
    outside = (flags & flag_bits("LAND")) != 0
    assert outside.mean() > 0.9 and (rrs[outside] == -32767).all()
    land = np.int32(flag_bits("LAND"))
    assert (flags[:, :10] == land).all()  # far from the scene: LAND only, nothing else set


def test_scene_sits_at_its_geographic_place(swaths):
    source, written = swaths
    bbox = (-83.6, 41.3, -82.4, 42.2)
    scene, full = open_l2_aop(source, bbox=bbox), open_l2_aop(written["3.1"], bbox=bbox)
    lat, lon = full["latitude"].values[full["valid"].values], full["longitude"].values[full["valid"].values]
    s_lat, s_lon = scene["latitude"].values[scene["valid"].values], scene["longitude"].values[scene["valid"].values]
    distance = np.hypot((lat[:, None] - s_lat) * 111.0, (lon[:, None] - s_lon) * 82.8).min(axis=1)
    assert distance.max() < 7.2 * 0.75  # within the scene pixel each swath pixel copies (7.2 km in the tiny twin)
    assert full["valid"].values.sum() > 10 * scene["valid"].values.sum()  # ~1 km pixels in place of 7.2 km


def test_scene_times_and_name_follow_the_swath(swaths):
    source, written = swaths
    scene = read_scene(source)
    with netCDF4.Dataset(written["3.1"]) as nc:
        start = nc.time_coverage_start
    assert written["3.1"].name == f"PACE_OCI.{start[:19].replace('-', '').replace(':', '')}.L2.OC_AOP.V3_1.nc"
    assert start < scene.times[0].strftime("%Y-%m-%dT%H:%M:%S")  # the swath starts before the basin


def test_blockwise_packing_writes_the_same_bytes_as_one_block(tmp_path, monkeypatch, swaths):
    source, _ = swaths
    one = write_full_swath(source, tmp_path / "one", swath=(70, 1272))
    monkeypatch.setattr(pace_writer, "_BLOCK_LINES", 7)
    many = write_full_swath(source, tmp_path / "many", swath=(70, 1272))
    for group, name in (("geophysical_data", "Rrs"), ("geophysical_data", "Rrs_unc"), ("geophysical_data", "avw")):
        np.testing.assert_array_equal(_raw(one, group, name)[0], _raw(many, group, name)[0], err_msg=name)


@pytest.mark.parametrize("swath", [(0, 1272), (10, 1)])
def test_degenerate_swath_is_refused(swaths, swath, tmp_path):
    with pytest.raises(ValueError, match="swath must be"):
        write_full_swath(swaths[0], tmp_path, swath=swath)


def test_twin_cli_writes_full_swath_granules(tiny_twin, tmp_path, capsys):
    import shutil

    out = tmp_path / "twin"
    shutil.copytree(tiny_twin.out_dir, out)  # the same settings: the twin is reused, not rewritten
    assert cli.main(["twin", "--size", "tiny", "--out", str(out), "--no-progress", "--full-swath",
                     "--swath-lines", "64", "--swath-granules", "2"]) == 0
    written = sorted((out / "pace_full_swath").glob("PACE_OCI.*.V3_1.nc"))
    assert len(written) == 2 and "full swath 64 x 1272" in capsys.readouterr().out
    with netCDF4.Dataset(written[0]) as nc:
        assert nc.dimensions["number_of_lines"].size == 64 and nc.dimensions["pixels_per_line"].size == 1272
    with pytest.raises(SystemExit):
        cli.main(["twin", "--size", "tiny", "--out", str(out), "--full-swath", "--swath-lines", "0"])
