"""Bad input to the command line and the data readers, each found by an attack on the released code.

Every case here was a traceback, a fake success or a silently wrong result before its fix; each must now
be one clear error naming what was wrong, with nothing written. No network: servers are on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading

import netCDF4
import numpy as np
import pandas as pd
import pytest

from spectm import cli
from spectm.bands import oci_rrs_nominal
from spectm.data import access, glerl, gridmet, pace
from spectm.data.errors import DataFormatError
from spectm.data.pixels import build_pixel_table
from spectm.datasets import load_pixel_table
from spectm.twin.writers.gridmet import write_gridmet_year
from tests.formats import DATASHARE_HEADER, write_csv
from tests.test_data_glerl import DATASHARE_ROWS
from tests.test_fetch_cli import sources  # noqa: F401 (fixture: GLERL and gridMET served on 127.0.0.1)


@pytest.fixture
def lookups(monkeypatch):
    """Every DNS lookup made (none may be: these refusals come before any request)."""
    seen = []

    def refuse(host, *args, **kwargs):
        seen.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "no DNS in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return seen


def _usage_error(capsys, argv, says: str) -> None:
    """argparse refuses ``argv`` with exit code 2 and a usage line that says ``says``."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err, err


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


# ------------------------------------------------------------------------------------------ spectm twin


@pytest.mark.parametrize(("argv", "says"), [
    (["--year", "1900"], "--year: must be a year within 2020-2099"),  # before: a twin its own reader refuses
    (["--year", "99999"], "--year: must be a year within 2020-2099"),  # before: pandas DateParseError
    (["--seed", "-5"], "--seed: must be a whole number >= 0"),  # before: numpy ValueError traceback
])  # fmt: skip
def test_twin_refuses_a_year_or_seed_it_cannot_use_before_writing(capsys, tmp_path, argv, says):
    _usage_error(capsys, ["twin", "--out", str(tmp_path / "twin"), "--size", "tiny", *argv], says)
    assert not (tmp_path / "twin").exists()


@pytest.mark.parametrize("below", ["", "sub"])
def test_twin_into_a_file_is_one_line_and_leaves_the_file_alone(capsys, tmp_path, below):
    """Before: FileExistsError / NotADirectoryError tracebacks from mkdir."""
    occupied = tmp_path / "occupied"
    occupied.write_text("keep me")
    out = occupied / below if below else occupied
    assert cli.main(["twin", "--out", str(out), "--size", "tiny", "--no-progress"]) == 2
    assert _one_line(capsys) == f"spectm twin: cannot write under {out}: {occupied} is a file, not a folder"
    assert occupied.read_text() == "keep me"


@pytest.mark.parametrize(("argv", "says"), [
    (["--every", "0"], "--every: must be a positive integer, got 0"),
    (["--size", "huge"], "--size: invalid choice: 'huge'"),
    (["--seed", "-1"], "--seed: must be a whole number >= 0"),
])  # fmt: skip
def test_as_fetched_refuses_bad_options_with_a_usage_line(capsys, tmp_path, argv, says):
    _usage_error(capsys, ["twin", "--as-fetched", str(tmp_path / "real"), *argv], says)
    assert not (tmp_path / "real").exists()


def test_as_fetched_into_a_file_is_one_line(capsys, tmp_path, monkeypatch):
    from spectm import as_fetched

    monkeypatch.setattr(as_fetched, "_twin", lambda *args: pytest.fail("no twin is simulated for a file"))
    occupied = tmp_path / "real"
    occupied.write_text("")
    assert cli.main(["twin", "--as-fetched", str(occupied), "--size", "tiny"]) == 2
    assert f"{occupied} is a file, not a folder" in _one_line(capsys)


# ----------------------------------------------------------------------------------------- spectm fetch


def test_fetch_into_a_file_is_one_line_before_any_request(capsys, tmp_path, lookups):
    """Before: NotADirectoryError traceback."""
    occupied = tmp_path / "occupied"
    occupied.write_text("")
    assert cli.main(["fetch", "glerl", "--year", "2024", "--out", str(occupied / "real")]) == 2
    assert _one_line(capsys).endswith(f"{occupied} is a file, not a folder")
    assert lookups == []


@pytest.mark.parametrize(("argv", "says"), [
    (["pace", "--version", "9.9"], "--version: invalid choice: '9.9'"),  # before: searched CMR for V9.9
    (["glerl", "--limit", "-3"], "--limit: must be a whole number >= 0, got -3"),  # before: dropped the last 3
])  # fmt: skip
def test_fetch_refuses_a_version_or_limit_it_cannot_honour(capsys, tmp_path, lookups, argv, says):
    _usage_error(capsys, ["fetch", *argv, "--out", str(tmp_path)], says)
    assert lookups == [] and list(tmp_path.iterdir()) == []


def test_a_search_that_finds_no_granule_writes_no_season_record(capsys, tmp_path, monkeypatch):
    """Before: "0 verified files", exit 0 and a record of an empty season that `--if-missing` took as fetched."""
    monkeypatch.setattr(access, "_current_year", lambda: 2026)
    monkeypatch.setattr(access, "search_pace_granules", lambda *args, **kwargs: [])
    assert cli.main(["fetch", "pace", "--year", "2025", "--out", str(tmp_path)]) == 2
    assert "CMR lists no PACE OCI L2 AOP V3.2 granules" in _one_line(capsys)
    assert not list(tmp_path.rglob("*"))


# -------------------------------------------------------------------------------- spectm pretrain --data

DAYS = np.datetime64("2024-07-01") + np.arange(4) * np.timedelta64(1, "D")


def _spectra(rows=4, bands=122, value=0.01):
    return np.full((rows, bands), value, np.float32)


@pytest.mark.parametrize(("name", "content", "field", "says"), [
    ("empty.npz", b"", "file", "EOFError"),  # before: EOFError traceback
    ("text.npz", b"not a zip archive", "file", "ValueError"),  # before: numpy's pickle ValueError traceback
    ("text.nc", b"not a netCDF file", "file", "ValueError: did not find a match"),  # before: xarray, 3 lines
    ("bands.npz", {"Rrs": _spectra(bands=50), "time": DAYS}, "Rrs", "found 50 bands"),
    ("flat.npz", {"Rrs": _spectra()[:, 0], "time": DAYS}, "Rrs", "found shape (4,)"),
    ("none.npz", {"Rrs": _spectra(rows=0), "time": DAYS[:0]}, "Rrs", "found shape (0, 122)"),  # before: budget
    ("words.npz", {"Rrs": np.full((4, 122), "a"), "time": DAYS}, "Rrs", "found dtype <U1"),
    ("clock.npz", {"Rrs": _spectra(), "time": np.array(["x"] * 4)}, "time", "Error parsing datetime"),
    ("short.npz", {"Rrs": _spectra(), "time": DAYS[:3]}, "time", "found shape (3,)"),
    ("future.npz", {"Rrs": _spectra(), "time": DAYS, "future": _spectra(rows=2)}, "future", "found shape (2, 122)"),
    ("nan.npz", {"Rrs": _spectra(value=np.nan), "time": DAYS}, "Rrs", "only NaN or infinity in 4 pixels"),
    ("inf.npz", {"Rrs": _spectra(value=np.inf), "time": DAYS}, "Rrs", "only NaN or infinity in 4 pixels"),
])  # fmt: skip
def test_a_pixel_table_pretraining_cannot_use_is_one_format_error(tmp_path, name, content, field, says):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.savez(path, **content)
    with pytest.raises(DataFormatError) as info:
        load_pixel_table(path)
    assert (info.value.file, info.value.field) == (str(path), field)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_pretrain_on_nan_only_spectra_exits_2_instead_of_a_loss_of_zero(capsys, tmp_path):
    """Before: exit 0 with a run folder and a loss of exactly 0 (nothing was observed, nothing learnt)."""
    path = tmp_path / "nan.npz"
    np.savez(path, Rrs=_spectra(value=np.nan), time=DAYS)
    assert cli.main(["pretrain", "--data", str(path), "--out", str(tmp_path / "run"), "--set", "epochs=1"]) == 2
    assert "expected at least one finite value" in _one_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_pixel_table_with_some_missing_bands_still_loads(tmp_path):
    spectra = _spectra()
    spectra[:, 60:70] = np.nan
    np.savez(tmp_path / "gap.npz", Rrs=spectra, time=DAYS)
    assert np.array_equal(load_pixel_table(tmp_path / "gap.npz")["Rrs"], spectra, equal_nan=True)


# ------------------------------------------------------------------------- downloads that are not the file


def _netcdf3(path, file_format: str, unlimited: bool) -> bytes:
    """A small gridMET-like netCDF-3 file: two variables on (day, lat, lon), coordinates, attributes."""
    with netCDF4.Dataset(path, "w", format=file_format) as nc:
        nc.createDimension("day", None if unlimited else 5)
        nc.createDimension("lat", 3)
        nc.createDimension("lon", 7)
        nc.title = "gridMET-like"
        for name, kind in (("air_temperature", "f4"), ("flag", "i2")):
            nc.createVariable(name, kind, ("day", "lat", "lon"))[:] = np.ones((5, 3, 7))
        nc.createVariable("lat", "f8", ("lat",))[:] = np.arange(3)
        nc.createVariable("day", "f4", ("day",))[:] = np.arange(5)
    return path.read_bytes()


@pytest.mark.parametrize("file_format", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF3_64BIT_DATA"])
@pytest.mark.parametrize("unlimited", [False, True])
def test_a_netcdf3_file_cut_anywhere_is_not_taken_for_the_file(tmp_path, file_format, unlimited):
    """Before: any body starting with ``CDF\\x01`` passed, so a cut transfer was cached as verified."""
    whole = _netcdf3(tmp_path / "whole.nc", file_format, unlimited)
    assert access.netcdf_content(whole, len(whole)) is None
    for size in (len(whole) - 1, len(whole) // 2, 40, 8):
        assert "the file" in access.netcdf_content(whole[:size], size), size


@pytest.mark.parametrize(("source", "path", "body", "says"), [
    ("gridmet", "/metdata/pr_2024.nc", b"CDF\x01" + bytes(20), "ends inside its netCDF-3 header, at byte 24"),
    ("glerl", "/glerl/2024_WLE_Weekly_Datashare_CSV.csv", b"Date,Site,Particulate_Microcystin_ugL-1\r\n",
     "holds only its header line, no samples"),
])  # fmt: skip
def test_a_stub_served_as_the_file_fails_fetch_and_leaves_nothing(capsys, tmp_path, sources, source, path, body, says):
    """Before: exit 0, "1 verified files", and the stub cached where the readers look."""
    sources.files[path] = body
    assert cli.main(["fetch", source, "--year", "2024", "--out", str(tmp_path)]) == 2
    assert says in _one_line(capsys)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


# ------------------------------------------------------------------------------------------ GLERL reader


@pytest.mark.parametrize(("header", "rows", "field", "says"), [
    # before: AttributeError 'DataFrame' object has no attribute 'str'
    (DATASHARE_HEADER + ",Particulate_Microcystin_ugL-1", [DATASHARE_ROWS[0] + ",5"], "header",
     "found 'Particulate_Microcystin_ugL-1' 2 times"),
    (DATASHARE_HEADER, [], "rows", "at least one sample row"),  # before: an empty table, no word
    (DATASHARE_HEADER, [DATASHARE_ROWS[0].replace(",5.31,1,", ",5.31,-1,")], "Sample_Depth_m", "found -1 on line 2"),
    (DATASHARE_HEADER, [DATASHARE_ROWS[0].replace(",5.31,1,", ",-5.31,1,")], "Station_Depth_m", "found -5.31 on line 2"),
])  # fmt: skip
def test_a_glerl_file_that_would_read_wrong_is_one_format_error(tmp_path, header, rows, field, says):
    path = tmp_path / "samples.csv"
    write_csv(path, header, rows)
    with pytest.raises(DataFormatError) as info:
        glerl.read_glerl_csv(path)
    assert (info.value.file, info.value.field) == (str(path), field) and says in str(info.value)


# ------------------------------------------------------------------------------------------- PACE reader


def _l2_without_fill_attribute(path, packed: np.ndarray) -> None:
    """A bare layout-A granule whose packed Rrs has no ``_FillValue``: unwritten values hold netCDF's default."""
    lines, pixels, bands = packed.shape
    with netCDF4.Dataset(path, "w") as nc:
        for name, size in (("number_of_lines", lines), ("pixels_per_line", pixels), ("wavelength_3d", bands)):
            nc.createDimension(name, size)
        nc.createGroup("sensor_band_parameters").createVariable("wavelength_3d", "i4", ("wavelength_3d",))[:] = oci_rrs_nominal()
        geo = nc.createGroup("geophysical_data")
        rrs = geo.createVariable("Rrs", "i2", ("number_of_lines", "pixels_per_line", "wavelength_3d"), fill_value=False)
        rrs.set_auto_maskandscale(False)
        rrs.setncatts({"scale_factor": np.float32(2e-06), "add_offset": np.float32(0.05), "units": "sr^-1"})
        rrs[:] = packed
        geo.createVariable("l2_flags", "i4", ("number_of_lines", "pixels_per_line"))[:] = np.zeros((lines, pixels))
        nav = nc.createGroup("navigation_data")
        for name, value in (("latitude", 41.7), ("longitude", -83.2)):
            nav.createVariable(name, "f4", ("number_of_lines", "pixels_per_line"))[:] = np.full((lines, pixels), value)
        scan = nc.createGroup("scan_line_attributes")
        scan.createVariable("time", "f8", ("number_of_lines",))[:] = 1.7210376e9 + np.arange(lines)


def test_packed_rrs_without_fill_attribute_reads_default_fill_as_missing(tmp_path):
    """Before: the pixel that was never written read as Rrs = -0.0155 sr^-1 in every band, and ``valid``."""
    packed = np.full((3, 4, 172), -22500, dtype=np.int16)  # 0.005 sr^-1
    packed[1, 2, :] = netCDF4.default_fillvals["i2"]  # -32767
    _l2_without_fill_attribute(tmp_path / "g.nc", packed)
    ds = pace.open_l2_aop(tmp_path / "g.nc")
    assert np.isnan(ds["Rrs"].values[1, 2]).all() and not ds["valid"].values[1, 2]
    assert ds["valid"].values.sum() == 11 and float(ds["Rrs"].min()) == pytest.approx(0.005, abs=1e-8)


# ---------------------------------------------------------------------------------------- gridMET reader


def test_another_variables_file_under_this_name_is_refused(tmp_path):
    """Before: a temperature file without units saved as ``pr_2024.nc`` read as about 295 mm of rain a day."""
    written = write_gridmet_year(tmp_path / "tmmx", "tmmx", np.full((2, 2, 3), 295.0), np.array([41.7, 41.66]),
                                 np.array([-83.4, -83.36, -83.32]), pd.date_range("2024-07-01", periods=2))  # fmt: skip
    misnamed = tmp_path / "pr_2024.nc"
    shutil.copyfile(written, misnamed)
    with netCDF4.Dataset(misnamed, "a") as nc:
        nc["air_temperature"].delncattr("units")
    with pytest.raises(DataFormatError) as info:
        gridmet.open_gridmet_file(misnamed)
    assert info.value.field == "data variable" and "'precipitation_amount' (the file name says pr)" in str(info.value)
    assert "found 'air_temperature'" in str(info.value)
    assert float(gridmet.open_gridmet_file(written).mean()) == pytest.approx(295.0, abs=0.1)


# ----------------------------------------------------------------------- fetch records, book sources


@pytest.mark.parametrize(("granules", "says"), [
    (5, "damaged (its granules are not a list of file names)"),  # before: TypeError traceback in --if-missing
    ([], "lists no granule"),  # before: an empty season counted as on disk
])  # fmt: skip
def test_a_damaged_or_empty_fetch_record_is_not_a_season_on_disk(tmp_path, granules, says):
    from spectm.data import layout

    (tmp_path / "pace").mkdir()
    layout.pace_record_path(2024, tmp_path).write_text(json.dumps({"year": 2024, "version": "3.2", "granules": granules}))
    assert says in layout.missing("pace", 2024, tmp_path)


def test_book_without_its_source_is_one_line(capsys, tmp_path):
    """Before: FileNotFoundError traceback from inside papermill."""
    assert cli.main(["book", str(tmp_path / "chapter.md"), str(tmp_path / "chapter.ipynb")]) == 2
    assert _one_line(capsys) == f"spectm book: no notebook source at {tmp_path / 'chapter.md'} (expected a MyST .md file)"
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ empty selections


def test_an_inverted_bbox_is_refused_not_read_as_an_empty_lake(tmp_path):
    """Before: west > east selected no pixel: an empty window from the reader, an empty pixel table."""
    packed = np.full((3, 4, 172), -22500, dtype=np.int16)
    _l2_without_fill_attribute(tmp_path / "g.nc", packed)
    inverted = (-82.5, 41.3, -83.5, 42.1)
    with pytest.raises(ValueError, match="west <= east"):
        pace.open_l2_aop(tmp_path / "g.nc", bbox=inverted)
    with pytest.raises(ValueError, match="west <= east"):
        build_pixel_table([tmp_path / "g.nc"], inverted, cache_dir=tmp_path / "cache", progress=False)
    assert pace.open_l2_aop(tmp_path / "g.nc", bbox=(-83.5, 41.3, -82.5, 42.1)).sizes["x"] == 4


def test_no_gridmet_or_glerl_file_is_one_clear_error(tmp_path):
    """Before: ``need at least one array to concatenate`` / ``No objects to concatenate`` from numpy/pandas."""
    with pytest.raises(FileNotFoundError, match=f"no gridMET yearly files .* in {re.escape(str(tmp_path))}$"):
        gridmet.open_gridmet(tmp_path)
    with pytest.raises(FileNotFoundError, match="no GLERL sample files given"):
        glerl.read_glerl_many([])


# ------------------------------------------------------------------------------- pipes and folders


def _close_at_once(pipe, done: threading.Event) -> None:
    """Open ``pipe`` for writing (waits for a reader) and close it, for every open: each reader sees an
    empty file, however often it opens the path."""
    while not done.is_set():
        os.close(os.open(pipe, os.O_WRONLY))


@pytest.mark.parametrize(("read", "name", "what"), [
    (pace.open_l2_aop, "granule.nc", "a PACE OCI L2 netCDF file"),
    (gridmet.open_gridmet_file, "pr_2024.nc", "a gridMET yearly netCDF file"),
    (glerl.read_glerl_csv, "samples.csv", "a GLERL sample CSV"),
    (load_pixel_table, "pixels.npz", "a pixel table: .npz or netCDF"),
])  # fmt: skip
def test_a_named_pipe_or_folder_is_refused_instead_of_waited_on(tmp_path, read, name, what):
    """Before: each reader waited forever for a writer on a named pipe (a hang, found with ``timeout 60``)."""
    pipe = tmp_path / name
    os.mkfifo(pipe)
    done = threading.Event()
    writer = threading.Thread(target=_close_at_once, args=(pipe, done), daemon=True)
    writer.start()  # a reader that opens the pipe gets end-of-file, so a regression fails instead of hanging
    try:
        with pytest.raises(DataFormatError, match=re.escape(f"expected a regular file ({what}), found a pipe")):
            read(pipe)
    finally:
        done.set()
        reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)  # held open: the writer's last open returns at once
        writer.join()
        os.close(reader)
    folder = tmp_path / "folder" / name
    folder.mkdir(parents=True)
    with pytest.raises(DataFormatError, match="found a folder"):
        read(folder)


def test_integer_rrs_without_a_scale_factor_is_refused(tmp_path):
    """Before: integer Rrs with no scale_factor was read as whole sr^-1 (all 0 for real water once truncated)
    and passed the median check; integers cannot hold Rrs unpacked."""
    path = tmp_path / "g.nc"
    _l2_without_fill_attribute(path, np.full((3, 4, 172), -22500, dtype=np.int16))
    with netCDF4.Dataset(path, "a") as nc:
        nc["geophysical_data/Rrs"].delncattr("scale_factor")
    with pytest.raises(DataFormatError) as info:
        pace.open_l2_aop(path)
    assert info.value.field == "geophysical_data/Rrs scale_factor" and "found missing on int16" in str(info.value)
