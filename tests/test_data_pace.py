"""PACE OCI L2 AOP: writer structure, reader on both layouts, hand-built files, flags, bad input."""

from __future__ import annotations

import warnings

import netCDF4
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectm.bands import oci_rrs_centers, oci_rrs_nominal
from spectm.data import pace
from spectm.data.errors import DataFormatError
from spectm.twin.writers.pace import write_l2_aop
from tests.formats import build_minimal_l2

LINES, PIXELS, BANDS = 8, 10, 172
START = pd.Timestamp("2024-07-15T16:30:00")


def _scene(seed=0):
    rng = np.random.default_rng(seed)
    lat = 41.5 + np.linspace(0.0, 0.5, LINES)[:, None] + np.zeros((1, PIXELS))
    lon = -83.4 + np.linspace(0.0, 0.9, PIXELS)[None, :] + np.zeros((LINES, 1))
    rrs = rng.uniform(-0.005, 0.03, (LINES, PIXELS, BANDS))
    rrs[0, 0, 5] = np.nan  # one fill value
    flags = np.zeros((LINES, PIXELS), dtype=np.int64)
    flags[1, 1] = 2**1  # LAND: l2gen masks it, and L3 excludes it
    flags[2, 2] = 2**3  # HIGLINT: kept as data, but L3 excludes it
    flags[3, 3] = 2**11  # TURBIDW: neither masked nor excluded
    flags[4, 4] = 2**31  # bit 31: stored as a negative int32
    return rrs, lat, lon, flags


@pytest.fixture(params=["3.1", "3.2"])
def granule(request, tmp_path):
    rrs, lat, lon, flags = _scene()
    path = write_l2_aop(tmp_path, rrs, lat, lon, flags, START, layout=request.param)
    return request.param, path, (rrs, lat, lon, flags)


def test_round_trip_values_fill_and_flags(granule):
    version, path, (rrs, lat, lon, flags) = granule
    ds = pace.open_l2_aop(path)
    assert ds.attrs["layout"] == {"3.1": "A", "3.2": "B"}[version]
    assert ds["Rrs"].dims == ("y", "x", "wavelength")
    np.testing.assert_array_equal(ds["wavelength"].values, oci_rrs_centers())
    # packing step 2e-06: half a step plus float32 rounding
    kept = np.isfinite(ds["Rrs"].values)
    assert np.nanmax(np.abs(ds["Rrs"].values - rrs)[kept]) <= 1.0e-6 + 1e-8
    assert np.isnan(ds["Rrs"].values[0, 0, 5]) and np.isfinite(ds["Rrs"].values[0, 0, 6])
    assert np.isnan(ds["Rrs"].values[1, 1]).all()  # LAND pixel written as fill
    assert np.isfinite(ds["Rrs"].values[2, 2]).all()  # HIGLINT pixel keeps data ...
    valid = ds["valid"].values
    assert not valid[1, 1] and not valid[2, 2]  # ... but neither is valid
    assert valid[3, 3] and valid[4, 4] and valid.sum() == LINES * PIXELS - 2
    assert ds["l2_flags"].values[4, 4] == -(2**31)
    np.testing.assert_allclose(ds["latitude"].values, lat, atol=1e-5)
    np.testing.assert_allclose(ds["longitude"].values, lon, atol=1e-5)
    expected_times = START + pd.to_timedelta(np.arange(LINES) * pace.LINE_PERIOD_S, unit="s")
    assert np.abs(ds["time"].values - expected_times.to_numpy()).max() < np.timedelta64(1, "ms")
    assert ds.attrs["granule_start"] == "2024-07-15T16:30:00.000Z"
    assert ds["Rrs"].attrs["units"] == "sr^-1"


def test_writer_structure_matches_spec(granule):
    version, path, _ = granule
    with netCDF4.Dataset(path) as nc:
        assert list(nc.groups) == ["sensor_band_parameters", "scan_line_attributes", "geophysical_data",
                                   "navigation_data", "processing_control"]  # fmt: skip
        assert list(nc["processing_control"].groups) == ["input_parameters", "flag_percentages"]
        assert not nc.variables  # no root variables
        dims = {name: len(d) for name, d in nc.dimensions.items()}
        assert dims["number_of_lines"] == LINES and dims["pixels_per_line"] == PIXELS
        assert dims["wavelength_3d"] == 172 and dims["number_of_bands"] == dims["bands_per_pixel"] == 286
        assert len(nc.ncattrs()) == 47
        assert nc.processing_version == version and nc.title.startswith("OCI Level-2 Data AOP")
        assert nc.product_name == path.name == f"PACE_OCI.20240715T163000.L2.OC_AOP.V{version.replace('.', '_')}.nc"
        assert nc.time_coverage_start == "2024-07-15T16:30:00.000Z"
        assert isinstance(nc.geospatial_lat_max, np.float32)
        geo = nc["geophysical_data"]
        rrs = geo["Rrs"]
        assert rrs.dtype == np.int16 and rrs._FillValue == -32767
        assert rrs.scale_factor.dtype == np.float32 and rrs.scale_factor == np.float32(2e-06)
        assert rrs.add_offset == np.float32(0.05) and (rrs.valid_min, rrs.valid_max) == (-30000, 25000)
        assert rrs.coordinates == "longitude latitude"
        assert rrs.chunking() == [8, 10, 40]
        filters = rrs.filters()
        assert filters["zlib"] and filters["shuffle"] and filters["complevel"] == 4
        flags = geo["l2_flags"]
        assert flags.dtype == np.int32 and "_FillValue" not in flags.ncattrs()
        assert flags.flag_masks.dtype == np.int32 and flags.flag_masks[-1] == -(2**31) and flags.flag_masks[0] == 1
        assert flags.flag_meanings.split() == list(pace.FLAG_NAMES) and len(pace.FLAG_NAMES) == 32
        lat = nc["navigation_data/latitude"]
        assert lat.dtype == np.float32 and lat._FillValue == np.float32(-999.0)
        sbp = nc["sensor_band_parameters"]
        assert sbp["wavelength_3d"].dtype == np.int32
        np.testing.assert_array_equal(sbp["wavelength_3d"][:], oci_rrs_nominal())
        assert nc["processing_control"].mask_names == "ATMFAIL,LAND,CLDICE,HILT"
        if version == "3.2":
            assert rrs.dimensions[-1] == "wavelength" and "wavelength" in geo.dimensions
            assert geo["wavelength"].dtype == np.float32 and len(sbp.dimensions["wavelength"]) == 286
            band_index = geo["band_index"][:]
            np.testing.assert_array_equal(band_index, np.r_[14:112, 121:195])  # spec: 14..111, 121..194
        else:
            assert rrs.dimensions[-1] == "wavelength_3d" and "wavelength" not in geo.variables
            assert sbp["wavelength"].dimensions == ("number_of_bands",)


def test_filename_helper():
    assert pace.l2_aop_filename("2025-03-05T16:09:33.412Z") == "PACE_OCI.20250305T160933.L2.OC_AOP.V3_1.nc"
    assert pace.l2_aop_filename("2025-03-05T16:09:33", "3.2", nrt=True) == "PACE_OCI.20250305T160933.L2.OC_AOP.V3_2.NRT.nc"


def test_layout_is_detected_from_the_file_not_its_name(tmp_path):
    rrs, lat, lon, flags = _scene()
    misleading = tmp_path / "PACE_OCI.20240715T163000.L2.OC_AOP.V3_1.nc"
    write_l2_aop(misleading, rrs, lat, lon, flags, START, layout="3.2")
    assert pace.open_l2_aop(misleading).attrs["layout"] == "B"


@pytest.mark.parametrize("layout", ["A", "B"])
def test_hand_built_minimal_file(tmp_path, layout):
    lines, pixels = 3, 4
    packed = np.full((lines, pixels, BANDS), -22500, dtype=np.int16)  # -22500 * 2e-6 + 0.05 = 0.005
    packed[0, 1, :] = -32767  # fill
    packed[2, 3, 10] = 0  # 0.05 exactly
    lat = np.full((lines, pixels), 41.7, dtype=np.float32)
    lon = np.full((lines, pixels), -83.2, dtype=np.float32)
    lat[1, 0] = -999.0  # navigation fill
    flags = np.zeros((lines, pixels), dtype=np.int32)
    flags[2, 0] = 2**9  # CLDICE
    path = tmp_path / "minimal.nc"
    build_minimal_l2(path, packed, lat, lon, flags, layout, band_values=oci_rrs_centers() if layout == "B" else None)
    with netCDF4.Dataset(path, "a") as nc:  # scan-line times: without them the reader refuses the file
        scan = nc.createGroup("scan_line_attributes")
        scan.createVariable("time", "f8", ("number_of_lines",))[:] = (START - pd.Timestamp("1970-01-01")).total_seconds() + np.arange(lines)
    ds = pace.open_l2_aop(path)
    assert ds.attrs["layout"] == layout
    assert ds["Rrs"].values[1, 1, 0] == pytest.approx(0.005, abs=1e-8)
    assert ds["Rrs"].values[2, 3, 10] == pytest.approx(0.05, abs=1e-8)
    assert np.isnan(ds["Rrs"].values[0, 1]).all()
    assert np.isnan(ds["latitude"].values[1, 0])
    assert ds["valid"].values.tolist() == [
        [True, False, True, True],  # fill pixel
        [False, True, True, True],  # no navigation
        [False, True, True, True],  # CLDICE
    ]
    assert ds["time"].values[1] == np.datetime64("2024-07-15T16:30:01")
    assert ds.attrs["granule_start"] == "2024-07-15T16:30:00.000Z"


def test_bbox_read_and_water_pixels(granule):
    _, path, (rrs, lat, lon, flags) = granule
    full = pace.open_l2_aop(path)
    bbox = (-83.2, 41.6, -82.8, 41.9)
    crop = pace.open_l2_aop(path, bbox=bbox)
    inside = (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])
    rows, cols = np.flatnonzero(inside.any(1)), np.flatnonzero(inside.any(0))
    np.testing.assert_array_equal(crop["y"].values, rows)
    np.testing.assert_array_equal(crop["x"].values, cols)
    np.testing.assert_array_equal(crop["Rrs"].values, full["Rrs"].values[rows][:, cols])
    pixels = pace.water_pixels(full, bbox)
    expected = inside & full["valid"].values
    assert pixels.sizes["pixel"] == expected.sum() > 0
    assert pixels["Rrs"].dims == ("pixel", "wavelength")
    np.testing.assert_array_equal(pixels["Rrs"].values, full["Rrs"].values[expected])
    assert (pixels["time"].values == full["time"].values[pixels["y"].values]).all()


def test_other_exclusion_set(granule):
    _, path, _ = granule
    ds = pace.open_l2_aop(path, exclude=["LAND"])
    assert not ds["valid"].values[1, 1] and ds["valid"].values[2, 2]  # HIGLINT no longer excluded
    assert ds["valid"].attrs["excluded_mask"] == "0x00000002"


# ---------------------------------------------------------------------------------------------- flags


def test_l3_exclusion_mask_is_nasas_value():
    assert pace.flag_bits(pace.L3_RRS_EXCLUDE) & 0xFFFFFFFF == 0x0629D73B == 103405371
    assert pace.flag_bits("ATMFAIL,LAND") == 3
    assert pace.flag_bits(["SPARE"]) & 0xFFFFFFFF == (1 << 7) | (1 << 13) | (1 << 18) | (1 << 27) | (1 << 31)
    assert pace.flag_bits(["SPARE"]) < 0  # bit 31 makes the int32 value negative
    with pytest.raises(ValueError, match="unknown l2_flags name"):
        pace.flag_bits(["CLOUDY"])


@given(st.sets(st.integers(0, 31)))
def test_flag_names_round_trip(bits):
    names = [pace.FLAG_NAMES[b] for b in sorted(bits)]
    mask = pace.flag_bits(names) & 0xFFFFFFFF
    expected_bits = {b for b in range(32) if pace.FLAG_NAMES[b] in names}  # SPARE selects every spare bit
    assert mask == sum(1 << b for b in expected_bits)
    assert pace.flag_names(mask) == [pace.FLAG_NAMES[b] for b in sorted(expected_bits)]


@given(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=20))
def test_decode_flags_matches_bit_shifts(values):
    flags = np.array(values, dtype=np.int32)
    decoded = pace.decode_flags(flags)
    unsigned = flags.astype(np.int64) & 0xFFFFFFFF
    expected = np.array([[(v >> b) & 1 == 1 for b in range(32)] for v in unsigned])
    np.testing.assert_array_equal(decoded.values, expected)
    np.testing.assert_array_equal(decoded["bit"].values, np.arange(32))
    excluded = pace.any_flag(flags, pace.L3_RRS_EXCLUDE)
    np.testing.assert_array_equal(excluded, (unsigned & 0x0629D73B) != 0)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(-0.009, 0.099, allow_nan=False), min_size=BANDS, max_size=BANDS))
def test_packing_precision_property(tmp_path_factory, spectrum):
    path = tmp_path_factory.mktemp("pack") / "g.nc"
    rrs = np.broadcast_to(np.asarray(spectrum), (1, 2, BANDS))
    write_l2_aop(path, rrs, np.full((1, 2), 41.7), np.full((1, 2), -83.2), np.zeros((1, 2)), START)
    back = pace.open_l2_aop(path)["Rrs"].values
    assert np.abs(back - rrs).max() <= 1.0e-6 + 1e-8


# ---------------------------------------------------------------------------------------------- bad input


def _bad_file_error(path, field) -> DataFormatError:
    with pytest.raises(DataFormatError) as info:
        pace.open_l2_aop(path)
    assert str(path) in str(info.value) and field in str(info.value)
    assert info.value.field == field and info.value.file == str(path)
    return info.value


def test_truncated_and_non_netcdf_files(granule, tmp_path):
    _, path, _ = granule
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    _bad_file_error(truncated, "file")
    text = tmp_path / "not_netcdf.nc"
    text.write_text("<html>Earthdata login required</html>")
    _bad_file_error(text, "file")


@pytest.mark.parametrize("missing", ["Rrs", "l2_flags"])
def test_missing_variable(tmp_path, missing):
    path = tmp_path / f"no_{missing}.nc"
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("number_of_lines", 2)
        nc.createDimension("pixels_per_line", 2)
        nc.createDimension("wavelength_3d", BANDS)
        geo = nc.createGroup("geophysical_data")
        if missing != "Rrs":
            geo.createVariable("Rrs", "i2", ("number_of_lines", "pixels_per_line", "wavelength_3d"))
        if missing != "l2_flags":
            geo.createVariable("l2_flags", "i4", ("number_of_lines", "pixels_per_line"))
        nav = nc.createGroup("navigation_data")
        for name in ("latitude", "longitude"):
            nav.createVariable(name, "f4", ("number_of_lines", "pixels_per_line"))
    _bad_file_error(path, f"geophysical_data/{missing}")


def test_unexpected_wavelength_grid(tmp_path):
    packed = np.zeros((2, 2, 100), dtype=np.int16)
    path = tmp_path / "grid100.nc"
    coords = np.zeros((2, 2), np.float32)
    build_minimal_l2(path, packed, coords, coords, np.zeros((2, 2)), "A", band_values=np.arange(400, 500))
    error = _bad_file_error(path, "sensor_band_parameters/wavelength_3d")
    assert "172" in error.expected and "100 values" in str(error)
    path_b = tmp_path / "grid_b.nc"
    build_minimal_l2(path_b, np.zeros((2, 2, BANDS), np.int16), coords, coords, np.zeros((2, 2)), "B",
                     band_values=oci_rrs_centers() + 3.0)  # fmt: skip
    _bad_file_error(path_b, "geophysical_data/wavelength")


def test_many_reports_skipped_files_and_keeps_the_rest(granule, tmp_path):
    _, good, _ = granule
    bad = tmp_path / "broken.nc"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)
    missing = tmp_path / "gone.nc"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        datasets, skipped = pace.open_l2_aop_many([good, bad, missing, good])
    assert len(datasets) == 2 and all(d.attrs["source_file"] == str(good) for d in datasets)
    assert [s.path for s in skipped] == [str(bad), str(missing)]
    assert "file" in skipped[0].reason
    message = str(caught[-1].message)
    assert "skipped 2 of 4" in message and str(bad) in message and str(missing) in message
