"""GLERL reader against plausible-but-wrong files: written by the project's writer, then edited as text.

Duplicated rows, lower-case or unknown station ids, a lost longitude sign and other encodings or line
ends all occur when people pass spreadsheets around; none may be read silently wrong.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from spectm.data import glerl
from spectm.data.errors import DataFormatError
from spectm.twin.writers.glerl import write_weekly_datashare


def _datashare(tmp_path, name="2024.csv") -> tuple:
    table = pd.DataFrame({
        "station": ["WE2", "WE2", "WE8", "WE9"],
        "time": pd.to_datetime(["2024-07-15 13:05", "2024-07-15 13:05", "2024-07-15 13:40", "2024-07-15 14:20"]),
        "depth_category": ["Surface", "Bottom", "Surface", "Surface"],
        "station_depth_m": [5.5, 5.5, 5.2, 2.7],
        "latitude": [41.7621, 41.7621, 41.834, 41.7178],
        "longitude": [-83.3306, -83.3306, -83.3591, -83.4237],
        "particulate_microcystin": [1.2, 2.5, 0.7, 3.1],
        "mc_censored": [False, False, False, False],
        "chlorophyll_a": [10.0, 12.0, 8.5, 20.0],
    })  # fmt: skip
    path = write_weekly_datashare(tmp_path / name, table)
    lines = path.read_bytes().decode("ascii").split("\r\n")[:-1]  # header + 4 rows
    return path, lines


def _rewrite(path, lines, encoding="ascii", end="\r\n"):
    path.write_bytes((end.join(lines) + end).encode(encoding))
    return path


def _read(path, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = glerl.read_glerl_csv(path, **kwargs)
    return table, [str(w.message) for w in caught]


def _cell(line, index, value):
    cells = line.split(",")
    cells[index] = value
    return ",".join(cells)


# ------------------------------------------------------------------------------------------ duplicates


def test_exact_duplicate_rows_are_dropped_and_reported(tmp_path):
    path, lines = _datashare(tmp_path)
    original = glerl.read_glerl_csv(path)
    _rewrite(path, [*lines, lines[3], lines[1]])  # WE8 surface and WE2 surface, twice
    table, messages = _read(path)
    pd.testing.assert_frame_equal(table, original, check_like=False)
    assert table.attrs["duplicates_dropped"] == 2
    assert any("dropped 2 duplicated rows" in m and str(path) in m and "lines 6, 7" in m for m in messages)


def test_conflicting_duplicates_are_kept_and_reported(tmp_path):
    path, lines = _datashare(tmp_path)
    _rewrite(path, [*lines, _cell(lines[3], 19, "9.9")])  # same WE8 surface sample, other microcystin
    table, messages = _read(path)
    assert len(table) == 5 and sorted(table.loc[table["station"] == "WE8", "particulate_microcystin"]) == [0.7, 9.9]
    assert table.attrs["conflicting_lines"] == [4, 6] and table.attrs["duplicates_dropped"] == 0
    assert any("2 rows (lines 4, 6)" in m and "all kept" in m and str(path) in m for m in messages)


# ------------------------------------------------------------------------------------------ stations


def test_lower_case_station_ids_are_normalised(tmp_path):
    path, lines = _datashare(tmp_path)
    original = glerl.read_glerl_csv(path)
    _rewrite(path, [lines[0], *(line.replace(",WE2,", ",we2,").replace(",WE8,", ",We 8,") for line in lines[1:])])
    table, messages = _read(path)
    pd.testing.assert_frame_equal(table, original)
    assert not messages and table.attrs["unknown_stations"] == []


def test_unknown_stations_are_dropped_unless_kept(tmp_path):
    path, lines = _datashare(tmp_path)
    _rewrite(path, [lines[0], lines[1], lines[2], lines[3].replace(",WE8,", ",WE99,"), lines[4].replace(",WE9,", ",Buoy A,")])
    table, messages = _read(path)
    assert table["station"].tolist() == ["WE2", "WE2"] and table.attrs["unknown_stations"] == ["Buoy A", "WE99"]
    assert any("2 rows of unknown stations ['Buoy A', 'WE99'] dropped" in m and str(path) in m for m in messages)
    kept, messages = _read(path, keep_unknown_stations=True)
    assert kept["station"].tolist() == ["WE2", "WE2", "WE99", "Buoy A"]
    assert np.isnan(kept.loc[2:, "latitude"]).sum() == 0  # their own recorded positions stay
    assert any("kept (keep_unknown_stations=True)" in m for m in messages)


def test_documented_one_off_and_transect_ids_are_known(tmp_path):
    path, lines = _datashare(tmp_path)
    _rewrite(path, [lines[0], lines[1], lines[2], lines[3].replace(",WE8,", ",2024.1,"), lines[4].replace(",WE9,", ",we 2013.4,")])
    table, messages = _read(path)
    assert table["station"].tolist() == ["WE2", "WE2", "2024.1", "WE 2013.4"] and not messages


# ------------------------------------------------------------------------------------------ positions


@pytest.mark.parametrize(("index", "value", "column"), [
    (8, "83.35987", "Long_deg"),  # the sign lost: Lake Erie is at -83
    (7, "-41.834", "Lat_deg"),
    (8, "-283.3", "Long_deg"),
])  # fmt: skip
def test_positions_with_a_lost_sign_are_an_error(tmp_path, index, value, column):
    path, lines = _datashare(tmp_path)
    _rewrite(path, [*lines[:3], _cell(lines[3], index, value), lines[4]])
    with pytest.raises(DataFormatError) as info:
        glerl.read_glerl_csv(path)
    assert info.value.field == column and info.value.file == str(path) and "on line 4" in str(info.value)
    assert value.lstrip("-").split(".")[0] in str(info.value)


# ------------------------------------------------------------------------------------------ encodings and line ends


@pytest.mark.parametrize(("encoding", "end"), [
    ("utf-16", "\r\n"),  # BOM, little-endian
    ("utf-16-be", "\r\n"),  # no BOM
    ("utf-16-le", "\n"),  # no BOM
    ("utf-8-sig", "\n"),
    ("ascii", "\r"),  # old Mac line ends
    ("utf-16", "\r"),
])  # fmt: skip
def test_other_encodings_and_line_ends(tmp_path, encoding, end):
    path, lines = _datashare(tmp_path)
    original = glerl.read_glerl_csv(path)
    _rewrite(path, lines, encoding, end)
    pd.testing.assert_frame_equal(glerl.read_glerl_csv(path), original)


def test_latin1_ncei_header_with_cr_line_ends(tmp_path):
    from tests.formats import NCEI_2012_HEADER

    row = "7/9/2015,WE2,5.8,0.75,Surface,10:30,41.762,-83.330,5,1,clear,0.7,24,24,300,5,20,8,900,8,<0.1,<0.1,1.2,12.5"
    path = tmp_path / "ncei.csv"
    path.write_bytes((NCEI_2012_HEADER + "\r" + row + "\r").encode("latin-1"))
    table = glerl.read_glerl_csv(path)
    assert table.loc[0, "station"] == "WE2" and table.loc[0, "mc_censored"] and table.loc[0, "chlorophyll_a"] == 12.5
