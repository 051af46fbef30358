"""Streaming the bbox window of L2 AOP granules over HTTP byte ranges (local server on 127.0.0.1 only).

Two kinds of granule, both with the real l2gen chunking (32 lines x 256 pixels x 40 bands): twin granules
at full-swath width (:mod:`spectm.twin.writers.swath`, 1272 pixels, 120 of the real 1710 lines so the
tests take seconds; ``python -m benchmarks data --stream-only`` measures the 1710-line granule), and
synthetic swaths of :data:`LINES` x :data:`PIXELS` for the error paths. The window crosses chunk
boundaries on every axis, and the bytes bound is per chunk.
"""

from __future__ import annotations

import io
from pathlib import Path

import fsspec
import netCDF4
import numpy as np
import pandas as pd
import pytest
import requests

from spectm.bands import oci_rrs_centers
from spectm.data import layout, stream
from spectm.data.access import DataAccessError
from spectm.data.errors import DataFormatError
from spectm.data.localserver import RangeServer, intersecting_chunk_bytes, measure_streaming
from spectm.data.pace import flag_bits, open_l2_aop
from spectm.twin.writers.pace import write_l2_aop

BBOX = (-83.5, 41.3, -82.45, 42.2)
LINES, PIXELS = 320, 384
START = pd.Timestamp("2024-07-15T17:02:11")


def synthetic_swath(lines, pixels, center_line, center_pixel, seed=0):
    """Rrs, lat, lon, flags of a swath whose bbox window is centred at (center_line, center_pixel).

    Lines step 0.0105 deg north, pixels 0.02 deg east (with a slight skew), like a 1-2 km swath. Outside
    the bbox: 30 % land, 25 % cloud, the rest water; inside: land except an elliptic lake of a few
    hundred water pixels. Rrs is a smooth green-peaked spectrum, modulated in space, plus noise.
    """
    rng = np.random.default_rng(seed)
    line = np.arange(lines, dtype=np.float32)[:, None] - center_line
    column = np.arange(pixels, dtype=np.float32)[None, :] - center_pixel
    lat = 41.75 + 0.0105 * line + 0.0008 * column
    lon = -82.975 + 0.02 * column - 0.001 * line
    wl = oci_rrs_centers().astype(np.float32)
    shape = (0.004 * np.exp(-(((wl - 560.0) / 90.0) ** 2)) + 0.001).astype(np.float32)
    amplitude = 1.0 + 0.5 * np.sin(line / 37.0) * np.cos(column / 23.0)
    rrs = amplitude[..., None] * shape + 2e-5 * rng.standard_normal((lines, pixels, wl.size), dtype=np.float32)
    flags = np.zeros((lines, pixels), np.int64)
    draw = rng.random((lines, pixels))
    flags[draw < 0.3] = flag_bits("LAND")
    flags[(draw >= 0.3) & (draw < 0.55)] = flag_bits("CLDICE")
    west, south, east, north = BBOX
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    lake = ((lon + 83.0) / 0.25) ** 2 + ((lat - 41.75) / 0.2) ** 2 < 1.0
    flags[inside] = flag_bits("LAND")
    flags[inside & lake] = 0
    return rrs, lat, lon, flags


def write_granule(folder, layout, lines=LINES, pixels=PIXELS, center=(230, 256), start=START, seed=0):
    rrs, lat, lon, flags = synthetic_swath(lines, pixels, *center, seed=seed)
    Path(folder).mkdir(parents=True, exist_ok=True)
    unc = np.abs(rrs) * 0.05 + 1e-4
    return write_l2_aop(folder, rrs, lat, lon, flags, start, layout=layout, rrs_unc=unc)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("granules")
    return {layout: write_granule(folder / layout, layout) for layout in ("3.1", "3.2")}


def _http():
    return fsspec.filesystem("http", skip_instance_cache=True)


def _window(path):
    return _window_for(path, BBOX)


def _assert_same_window(subset_path, whole_path, result):
    """The subset read with the bbox equals the whole file read with the bbox, value for value."""
    whole, rows, cols = _window(whole_path)
    sub = open_l2_aop(subset_path, bbox=BBOX)
    for name in ("Rrs", "l2_flags", "valid", "latitude", "longitude", "time"):
        np.testing.assert_array_equal(sub[name].values, whole[name].values, err_msg=name)
    np.testing.assert_array_equal(sub["y"].values + result.line_offset, whole["y"].values)
    np.testing.assert_array_equal(sub["x"].values + result.pixel_offset, whole["x"].values)
    assert sub.attrs["layout"] == whole.attrs["layout"] and sub["valid"].values.sum() > 200
    with netCDF4.Dataset(subset_path) as a, netCDF4.Dataset(whole_path) as b:
        for name in ("Rrs_unc", "Rrs"):
            va, vb = a["geophysical_data"][name], b["geophysical_data"][name]
            va.set_auto_maskandscale(False), vb.set_auto_maskandscale(False)
            window = vb[result.line_offset : result.line_offset + result.lines,
                        result.pixel_offset : result.pixel_offset + result.pixels]  # fmt: skip
            np.testing.assert_array_equal(va[:], window)
            assert va.chunking() == [min(c, n) for c, n in zip(vb.chunking(), va.shape)]
            assert va.filters()["zlib"] and va.getncattr("scale_factor") == vb.getncattr("scale_factor")
        assert a.subset_source_name == Path(whole_path).name == Path(subset_path).name
        assert a.subset_source_size == Path(whole_path).stat().st_size
        assert (a.subset_line_offset, a.subset_pixel_offset) == (rows.start, cols.start)
        assert a.processing_version == b.processing_version
        assert "aot_865" not in a["geophysical_data"].variables
    return rows, cols


@pytest.mark.parametrize("layout", ["3.1", "3.2"])
def test_streamed_window_equals_whole_file_read_and_costs_only_its_chunks(served, layout, tmp_path):
    path = served[layout]
    with RangeServer(path.parent) as server:
        result = stream.subset_granule(server.url(path.name), BBOX, tmp_path, fs=_http())
        served_bytes = server.bytes_served
    assert result.method == "range" and result.path == tmp_path / path.name
    rows, cols = _assert_same_window(result.path, path, result)
    needed = intersecting_chunk_bytes(path, rows, cols)
    size = path.stat().st_size
    print(f"{layout}: streamed {served_bytes:,} B for chunks of {needed:,} B; file {size:,} B")
    assert result.bytes_fetched == served_bytes
    assert served_bytes <= 2 * needed
    assert served_bytes < 0.6 * size


@pytest.fixture(scope="module")
def twin_swaths(tmp_path_factory):
    """One tiny-twin granule written at full-swath width (1272 pixels, 120 of the real 1710 lines) in both
    layouts, each in its own folder: what the local range server serves in place of OB.DAAC."""
    from spectm.twin import simulate_twin
    from spectm.twin.writers.swath import write_full_swath

    twin = simulate_twin(tmp_path_factory.mktemp("twin"), size="tiny", progress=False)
    out = tmp_path_factory.mktemp("full_swath")
    return {v: write_full_swath(twin.paths("pace")[2], out / v, swath=(120, 1272), layout=v) for v in ("3.1", "3.2")}


@pytest.mark.parametrize("layout", ["3.1", "3.2"])
def test_twin_full_swath_window_streams_for_at_most_twice_its_chunks(twin_swaths, layout, tmp_path):
    """The fetch box's window of a twin full-swath granule over 127.0.0.1: equal to the whole file's read,
    and the bytes sent at most twice those of the compressed chunks that meet the box."""
    from spectm.data.region import WESTERN_LAKE_ERIE_BBOX as box

    path = twin_swaths[layout]
    with RangeServer(path.parent) as server:
        result = stream.subset_granule(server.url(path.name), box, tmp_path, fs=_http())
        sent = server.bytes_served
    whole, rows, cols = _window_for(path, box)
    sub = open_l2_aop(result.path, bbox=box)
    for name in ("Rrs", "l2_flags", "valid", "latitude", "longitude", "time"):
        np.testing.assert_array_equal(sub[name].values, whole[name].values, err_msg=name)
    assert (result.line_offset, result.pixel_offset) == (rows.start, cols.start) and whole["valid"].values.sum() > 500
    needed, size = intersecting_chunk_bytes(path, rows, cols), path.stat().st_size
    print(f"twin full swath V{layout}: sent {sent:,} B; chunks meeting the box {needed:,} B; file {size:,} B")
    assert result.method == "range" and result.bytes_fetched == sent
    assert sent <= 2 * needed


def test_measure_streaming_reports_a_twin_full_swath(twin_swaths, tmp_path):
    from spectm.data.region import WESTERN_LAKE_ERIE_BBOX as box

    path = twin_swaths["3.2"]
    [row] = measure_streaming([path], box, tmp_path)
    assert row["granule"] == path.name and row["file_bytes"] == path.stat().st_size
    assert row["needed_bytes"] < row["sent_bytes"] <= 2 * row["needed_bytes"]
    assert row["subset_bytes"] < row["file_bytes"]


def test_pixel_table_from_streamed_twin_subsets_equals_the_whole_files(twin_swaths, tmp_path):
    from spectm.data.pixels import build_pixel_table
    from spectm.data.region import WESTERN_LAKE_ERIE_BBOX as box

    wholes = sorted(twin_swaths.values())
    subsets = []
    for path in wholes:
        with RangeServer(path.parent) as server:
            subsets.append(stream.subset_granule(server.url(path.name), box, tmp_path / "subsets", fs=_http()).path)
    streamed = build_pixel_table(subsets, box, progress=False)
    whole = build_pixel_table(wholes, box, progress=False)
    assert streamed.sizes["pixel"] == whole.sizes["pixel"] > 1000
    for name in [*whole.data_vars, *whole.coords]:
        np.testing.assert_array_equal(streamed[name].values, whole[name].values, err_msg=name)


def test_granule_outside_bbox_writes_nothing_and_says_so(served, tmp_path):
    path = served["3.1"]
    elsewhere = (-70.0, 30.0, -69.0, 31.0)
    with RangeServer(path.parent) as server:
        result = stream.subset_granule(server.url(path.name), elsewhere, tmp_path / "out", fs=_http())
        served_bytes = server.bytes_served
    assert result.path is None and "no pixel" in result.reason
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert served_bytes < 0.1 * path.stat().st_size  # HDF5 metadata and line edges rule it out


def test_server_without_ranges_falls_back_to_whole_download(served, tmp_path):
    path = served["3.2"]
    with RangeServer(path.parent, ranges=False) as server:
        result = stream.subset_granule(server.url(path.name), BBOX, tmp_path, fs=_http())
    assert result.method == "whole" and result.bytes_fetched == path.stat().st_size
    _assert_same_window(result.path, path, result)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # the whole granule was removed


def test_whole_file_flag_with_a_session_verifies_size_and_checksum(served, tmp_path):
    import hashlib

    path = served["3.1"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with RangeServer(path.parent) as server:
        result = stream.subset_granule(server.url(path.name), BBOX, tmp_path, session=requests.Session(),
                                       whole_file=True, size=path.stat().st_size, checksum=("SHA-256", digest))  # fmt: skip
    assert result.method == "whole"
    _assert_same_window(result.path, path, result)
    with netCDF4.Dataset(result.path) as nc:
        assert nc.subset_source_checksum == f"SHA-256:{digest}"


def test_session_token_is_sent_and_an_existing_subset_is_reused_without_a_request(served, tmp_path):
    path = served["3.1"]
    session = requests.Session()
    session.headers["Authorization"] = "Bearer test-token"
    with RangeServer(path.parent) as server:
        first = stream.subset_granule(server.url(path.name), BBOX, tmp_path, session=session)
        assert server.httpd.authorizations == {"Bearer test-token"}  # on the HEAD and every range request
        server.reset()
        again = stream.subset_granule(server.url(path.name), BBOX, tmp_path, session=session)
        assert server.bytes_served == 0 and server.httpd.requests == 0
    assert first.method == "range" and again.method == "cached"
    assert (again.line_offset, again.lines) == (first.line_offset, first.lines)


def test_local_granule_is_subset_the_same_way(served, tmp_path):
    result = stream.subset_granule(served["3.2"], BBOX, tmp_path)
    assert result.method == "local"
    _assert_same_window(result.path, served["3.2"], result)


def test_size_that_disagrees_with_the_server_is_refused(served, tmp_path):
    path = served["3.1"]
    with RangeServer(path.parent) as server, pytest.raises(DataAccessError, match="announces .* bytes"):
        stream.subset_granule(server.url(path.name), BBOX, tmp_path, fs=_http(), size=123)
    assert not any(tmp_path.iterdir())


def test_missing_granule_and_dead_server_fail_in_one_sentence(served, tmp_path):
    with RangeServer(served["3.1"].parent) as server, pytest.raises(DataAccessError, match="not found"):
        stream.subset_granule(server.url("PACE_OCI.missing.nc"), BBOX, tmp_path, fs=_http())
    dead = RangeServer(tmp_path)
    port = dead.httpd.server_address[1]
    dead.httpd.server_close()  # nobody listens on this port any more
    with pytest.raises(DataAccessError, match="Cannot stream .*offline default"):
        stream.subset_granule(f"http://127.0.0.1:{port}/x.nc", BBOX, tmp_path, fs=_http())


def test_not_a_granule_is_a_format_error(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "page.nc").write_bytes(b"<html>login required</html>" * 100)
    with RangeServer(tmp_path / "web") as server, pytest.raises(DataFormatError, match="page.nc"):
        stream.subset_granule(server.url("page.nc"), BBOX, tmp_path / "out", fs=_http())


def test_no_credentials_says_so_at_once(monkeypatch, tmp_path):
    import earthaccess

    for name in ("EARTHDATA_USERNAME", "EARTHDATA_PASSWORD", "EARTHDATA_TOKEN", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(earthaccess, "_auth", earthaccess.Auth())
    url = "https://oceandata.sci.gsfc.nasa.gov/getfile/PACE_OCI.20240715T170211.L2.OC_AOP.V3_1.nc"
    with pytest.raises(DataAccessError, match="No Earthdata credentials"):
        stream.subset_granule(url, BBOX, tmp_path)


@pytest.mark.parametrize("bbox", [(1, 2, 3), (-82, 41, -83, 42), (-83, float("nan"), -82, 42), None])
def test_bad_bbox_is_refused(bbox, tmp_path):
    with pytest.raises(ValueError, match="bbox"):
        stream.subset_granule(tmp_path / "x.nc", bbox, tmp_path)


def test_line_preselection_is_widened_until_it_holds_the_window(tmp_path, monkeypatch):
    """A tall swath: the edge pre-selection skips most lat/lon rows; a margin too small to hold the
    bbox (negative here) is widened until the window equals the reader's."""
    path = write_granule(tmp_path / "tall", "3.1", lines=1710, pixels=6, center=(1300, 3))
    monkeypatch.setattr(stream, "LINE_MARGIN_DEG", -0.3)
    result = stream.subset_granule(path, BBOX, tmp_path / "out")
    _, rows, cols = _window(path)
    assert (result.line_offset, result.lines) == (rows.start, rows.stop - rows.start)
    assert (result.pixel_offset, result.pixels) == (cols.start, cols.stop - cols.start)


def test_refused_login_says_how_to_log_in(served, tmp_path):
    with RangeServer(served["3.1"].parent, refuse=401) as server, pytest.raises(DataAccessError, match="401.*earthdata_login"):
        stream.subset_granule(server.url(served["3.1"].name), BBOX, tmp_path, fs=_http())


def test_failed_write_leaves_no_subset_behind(served, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(stream, "_copy_group", fail)
    with pytest.raises(OSError, match="disk full"):
        stream.subset_granule(served["3.1"], BBOX, tmp_path)
    assert not any(tmp_path.iterdir())  # neither the subset nor its temporary file


def test_subset_of_another_bbox_is_not_reused(served, tmp_path):
    first = stream.subset_granule(served["3.1"], BBOX, tmp_path)
    smaller = (-83.2, 41.6, -82.8, 41.9)
    second = stream.subset_granule(served["3.1"], smaller, tmp_path)
    assert second.method == "local" and second.lines < first.lines
    _, rows, _ = _window_for(served["3.1"], smaller)
    assert (second.line_offset, second.lines) == (rows.start, rows.stop - rows.start)


def _window_for(path, bbox):
    ds = open_l2_aop(path, bbox=bbox)
    y, x = ds["y"].values, ds["x"].values
    return ds, slice(int(y[0]), int(y[-1]) + 1), slice(int(x[0]), int(x[-1]) + 1)


def test_subset_never_replaces_its_own_source(served, tmp_path):
    import shutil

    source = Path(shutil.copy(served["3.1"], tmp_path / served["3.1"].name))
    size = source.stat().st_size
    with pytest.raises(ValueError, match="would replace it"):
        stream.subset_granule(source, BBOX, tmp_path)
    assert source.stat().st_size == size


def test_subset_of_a_subset_keeps_offsets_into_the_original(served, tmp_path):
    first = stream.subset_granule(served["3.2"], BBOX, tmp_path / "a")
    smaller = (-83.2, 41.6, -82.8, 41.9)
    second = stream.subset_granule(first.path, smaller, tmp_path / "b")
    _, rows, cols = _window_for(served["3.2"], smaller)
    assert (second.line_offset, second.pixel_offset) == (rows.start, cols.start)
    with netCDF4.Dataset(second.path) as nc:
        assert (nc.subset_line_offset, nc.subset_pixel_offset) == (rows.start, cols.start)
        assert nc.subset_source_name == served["3.2"].name and nc.subset_source_lines == LINES
        assert nc.subset_source_size == served["3.2"].stat().st_size
    sub, whole = open_l2_aop(second.path, bbox=smaller), open_l2_aop(served["3.2"], bbox=smaller)
    np.testing.assert_array_equal(sub["Rrs"].values, whole["Rrs"].values)


def test_connection_lost_mid_stream_is_one_sentence_and_writes_nothing(served, tmp_path):
    path = served["3.2"]
    with RangeServer(path.parent) as server:
        server.httpd.fail_after = 6  # the probe and a few metadata blocks, then the line gets cut
        with pytest.raises(DataAccessError, match="Lost 127.0.0.1.*nothing was written"):
            stream.subset_granule(server.url(path.name), BBOX, tmp_path, fs=_http())
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_fetch_pace_streams_the_lake_erie_window_by_default(served, tmp_path, monkeypatch, capsys):
    from spectm import cli
    from spectm.data import access

    path = served["3.2"]
    with RangeServer(path.parent) as server:
        record = access.GranuleRecord(name=path.name, url=server.url(path.name), size=path.stat().st_size)
        asked = {}

        def search(start, end, bbox, version):
            asked["version"] = version
            return [record]

        monkeypatch.setattr(access, "search_pace_granules", search)
        monkeypatch.setattr(access, "earthdata_session", requests.Session)
        assert cli.main(["fetch", "pace", "--year", "2024", "--out", str(tmp_path)]) == 0
        fetched = server.bytes_served
    subset = tmp_path / "pace" / path.name
    assert asked["version"] == "3.2" and layout.recorded_version(2024, tmp_path) == "3.2"
    assert subset.exists() and subset.stat().st_size < path.stat().st_size
    assert 0 < fetched < path.stat().st_size / 2
    assert "streamed the western Lake Erie window of 1 granules" in capsys.readouterr().out


class _CountedReads(io.RawIOBase):
    """A local file that records the byte ranges HDF5 reads from it."""

    def __init__(self, path):
        self.file, self.reads = open(path, "rb"), []

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        return self.file.seek(offset, whence)

    def tell(self):
        return self.file.tell()

    def readinto(self, buffer):
        start = self.file.tell()
        count = self.file.readinto(buffer)
        self.reads.append((start, start + count))
        return count

    def close(self):
        self.file.close()
        super().close()


def _navigation_swath(path, lines=1710, pixels=1272):
    """Only the navigation and line edges of a full swath in the twin's geometry (tilted lines ~2300 km
    long), with l2gen's (256, 1272) chunks: what the window search reads, without 172 bands to write."""
    from spectm.twin.writers.swath import _from_frame, swath_axes

    along, across = swath_axes(np.array([-60.0, 60.0]), lines, pixels, 300.0, lines // 2)
    lat, lon = _from_frame(along, across)
    dims = ("number_of_lines", "pixels_per_line")
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension(dims[0], lines), nc.createDimension(dims[1], pixels)
        edges, nav = nc.createGroup("scan_line_attributes"), nc.createGroup("navigation_data")
        for prefix, column in (("s", 0), ("c", pixels // 2), ("e", -1)):
            edges.createVariable(f"{prefix}lat", "f4", dims[:1])[:] = lat[:, column]
            edges.createVariable(f"{prefix}lon", "f4", dims[:1])[:] = lon[:, column]
        for name, values in (("latitude", lat), ("longitude", lon)):
            nav.createVariable(name, "f4", dims, zlib=True, shuffle=True, chunksizes=(256, pixels))[:] = values
    return path


def _chunk_rows_read(path, reads) -> dict[str, list[int]]:
    import h5py

    touched = {}
    with h5py.File(path) as h5:
        for name in ("latitude", "longitude"):
            dset = h5["navigation_data"][name]
            for i in range(dset.id.get_num_chunks()):
                info = dset.id.get_chunk_info(i)
                hits = sum(a < info.byte_offset + info.size and info.byte_offset < b for a, b in reads)
                touched.setdefault(name, []).extend([info.chunk_offset[0] // 256] * hits)
    return touched


def test_full_swath_window_reads_each_navigation_chunk_it_needs_once(tmp_path):
    """A full-width line is tilted: the box around its three edge points spans degrees of latitude and
    pulled in chunk rows of latitude/longitude (the bulk of a granule) that hold no window pixel; and the
    copy read the window's rows a second time. Now: the rows meeting the window, each read once."""
    import h5netcdf

    from spectm.data.region import WESTERN_LAKE_ERIE_BBOX as box

    path = _navigation_swath(tmp_path / "nav.nc")
    handle = _CountedReads(path)
    with h5netcdf.File(handle, "r") as h5:
        rows, cols = stream.find_window(h5, box)
    needed = sorted({line // 256 for line in (rows.start, rows.stop - 1)})
    assert _chunk_rows_read(path, handle.reads) == {"latitude": needed, "longitude": needed}
    assert rows.stop - rows.start < 256 and cols.stop - cols.start < 200
    handle = _CountedReads(path)
    stream._subset_open(handle, path.name, box, tmp_path / "out" / path.name, None, None)
    assert _chunk_rows_read(path, handle.reads) == {"latitude": needed, "longitude": needed}
    whole = netCDF4.Dataset(path)["navigation_data"]["latitude"][rows, cols]
    np.testing.assert_array_equal(netCDF4.Dataset(tmp_path / "out" / path.name)["navigation_data"]["latitude"][:], whole)
