"""GLERL weekly samples: the three official layouts, time zones, censoring, the datashare writer, bad input."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spectm.data import glerl
from spectm.data.errors import DataFormatError
from spectm.twin.writers.glerl import write_weekly_datashare
from tests.formats import DATASHARE_HEADER, NCEI_2012_HEADER, SNAKE_2020_HEADER, write_csv

# glerl.md section 12, synthetic rows (surface, bottom, scum); the Sky cell is quoted because of its comma
DATASHARE_ROWS = [
    '7/15/2024,WE8,5.31,1,Surface,8:20,8:37,41.83391667,-83.35987,3.2,"partly cloudy, haze",0.9,24.61803,301.4412,'
    "6.122,21.3417,8.0127,1703.55,9.87,1.37,bdl,2.9147,31.06,48210,1630",
    "7/15/2024,WE8,,4.3,Bottom,,,,,,,,24.20417,299.8871,7.0512,17.4402,7.3318,41.228,ns,0.92,bdl,1.8862,24.77,ns,ns",
    "7/15/2024,WE6,,0,Scum,,,,,,,,ns,ns,ns,ns,ns,ns,ns,19.6,0.41,88.3021,204.5,ns,ns",
]


def _ncei_row(date, site, time, category, mc, chla, pc="1.5", lat="41.7621", lon="-83.3306"):
    return (f"{date},{site},5.5,0.75,{category},{time},{lat},{lon},6,1,clear,1.2,22,22.5,290,5,30,8,1500,9,"
            f"{mc},<0.1,{pc},{chla}")  # fmt: skip


def _read(tmp_path, header, rows, encoding="utf-8", name="samples.csv"):
    path = tmp_path / name
    write_csv(path, header, rows, encoding)
    return path, glerl.read_glerl_csv(path)


def test_weekly_datashare(tmp_path):
    _, df = _read(tmp_path, DATASHARE_HEADER, DATASHARE_ROWS)
    assert df.attrs["layout"] == "weekly_datashare" and df.index.name == "sample"
    assert df["station"].tolist() == ["WE8", "WE8", "WE6"]
    assert df["depth_category"].tolist() == ["Surface", "Bottom", "Scum"]
    assert df.loc[0, "time"] == pd.Timestamp("2024-07-15 12:20")  # 8:20 EDT
    assert df.loc[0, "latitude"] == 41.83391667 and df.loc[0, "particulate_microcystin"] == 1.37
    assert not df.loc[0, "mc_censored"]
    # 'bdl' stays censored at the microcystin detection limit
    assert df["dissolved_mc_censored"].tolist() == [True, True, False]
    assert df["dissolved_microcystin"].tolist() == [0.1, 0.1, 0.41]
    # bottom row inherits the visit's time and position; the scum row has no surface visit
    assert df.loc[1, "time"] == df.loc[0, "time"] and df.loc[1, "longitude"] == -83.35987
    assert df.loc[1, "time_filled"] and df.loc[1, "position_filled"] and not df.loc[0, "position_filled"]
    assert pd.isna(df.loc[2, "time"]) and (df.loc[2, "latitude"], df.loc[2, "longitude"]) == glerl.STATION_POSITIONS["WE6"]
    assert df.loc[2, "chlorophyll_a"] == 204.5 and df.loc[2, "phycocyanin"] == 88.3021


def test_ncei_latin1_time_zones_and_censoring(tmp_path):
    rows = [
        _ncei_row("7/9/2015", "WE2", "10:30", "Surface", "<0.1", "12.5"),
        _ncei_row("12/1/2015", "WE2", "10:30", "Surface", "0.35", "<0.9"),
        _ncei_row("8/3/2015", "WE8", "", "Scum", "2778.75 \u00b1 294", "300", lat="", lon=""),
        _ncei_row("8/3/2015", "WE4", "9:05", "Mid-column", "nd", "n/a", pc="."),
    ]
    path, df = _read(tmp_path, NCEI_2012_HEADER, rows, encoding="latin-1")
    assert b"\xb5g/L" in path.read_bytes()  # the micro sign really is one Latin-1 byte
    assert df.attrs["layout"] == "ncei_2012_2019"
    assert df.loc[0, "time"] == pd.Timestamp("2015-07-09 14:30")  # July: EDT, +4 h
    assert df.loc[1, "time"] == pd.Timestamp("2015-12-01 15:30")  # December: EST, +5 h
    assert df.loc[0, "local_time"] == pd.Timestamp("2015-07-09 10:30")
    assert df.loc[0, "mc_censored"] and df.loc[0, "particulate_microcystin"] == 0.1
    assert df.loc[1, "chla_censored"] and df.loc[1, "chlorophyll_a"] == 0.9
    assert df.loc[2, "particulate_microcystin"] == 2778.75 and not df.loc[2, "mc_censored"]
    assert df.loc[3, "depth_category"] == "Mid-column"
    assert np.isnan(df.loc[3, "particulate_microcystin"]) and not df.loc[3, "mc_censored"]
    assert np.isnan(df.loc[3, "phycocyanin"]) and np.isnan(df.loc[3, "chlorophyll_a"])


def test_snake_case_2020_and_transect_files(tmp_path):
    rows = ["2021-07-12,WE12,7,0.75,Surface,11:02,41.7031,-83.2540,5,1,sunny,0.8,23,24,300,5,20,900,8,"
            "3.2,<0.1,4.1,40.2"]  # fmt: skip
    _, df = _read(tmp_path, SNAKE_2020_HEADER, rows)
    assert df.attrs["layout"] == "ncei_2020_2022"
    assert df.loc[0, "station"] == "WE12" and df.loc[0, "time"] == pd.Timestamp("2021-07-12 15:02")
    transect_header = ("date,sample_id,sample_depth_m,sample_depth_category,time,lat,lon,particulate_microcystin,"
                       "dissolved_microcystin,extracted_chla")  # fmt: skip
    rows = ["8/2/2022,T1-4-S,1,S,10:00,41.80,-83.30,<0.5,ns,22.1", "8/2/2022,T1-4-B,4,B,10:00,41.80,-83.30,0.7,ns,20"]
    _, df = _read(tmp_path, transect_header, rows, name="transect.csv")
    assert df["station"].tolist() == ["T1-4-S", "T1-4-B"] and df["depth_category"].tolist() == ["Surface", "Bottom"]
    assert df.loc[0, "mc_censored"] and df.loc[0, "particulate_microcystin"] == 0.5
    assert df["phycocyanin"].isna().all() and not df["pc_censored"].any()


def test_station_table():
    table = glerl.station_table()
    assert len(table) == 10 and set(glerl.CORE_STATIONS) <= set(table.index)
    assert tuple(table.loc["WE2", ["latitude", "longitude"]]) == (41.7621, -83.3306)
    assert table.loc[list(glerl.CORE_STATIONS), "bottom_sampled"].sum() == 4


# ---------------------------------------------------------------------------------------------- writer


def test_writer_produces_the_real_layout(tmp_path):
    table = pd.DataFrame({
        "station": ["WE2", "WE2", "WE9"],
        "time": pd.to_datetime(["2024-07-05 13:05", "2024-07-05 13:05", "2024-12-02 14:45"]),  # UTC
        "depth_category": ["Surface", "Bottom", "Surface"],
        "station_depth_m": [5.5, 5.5, 2.7],
        "latitude": [41.7621, 41.7621, 41.7178],
        "longitude": [-83.3306, -83.3306, -83.4237],
        "particulate_microcystin": [0.1, 2.5, 1.0],
        "mc_censored": [True, False, False],
        "chlorophyll_a": [10.0, np.nan, 3.25],
        "Sky": ["partly cloudy, haze", "", "clear"],
    })  # fmt: skip
    path = write_weekly_datashare(tmp_path / glerl.datashare_filename(2024), table)
    assert path.name == "2024_WLE_Weekly_Datashare_CSV.csv"
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == 4 and b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.decode("ascii").split("\r\n")
    assert lines[0] == DATASHARE_HEADER
    surface, bottom, december = lines[1].split(","), lines[2].split(","), lines[3].split(",")
    assert lines[1].startswith('7/5/2024,WE2,5.5,1,Surface,9:05,,41.7621,-83.3306,,"partly cloudy, haze",')
    assert surface[-6:] == ["bdl", "", "", "10", "", ""]
    assert bottom[:9] == ["7/5/2024", "WE2", "", "4.5", "Bottom", "", "", "", ""]  # no station-level fields
    assert bottom[19] == "2.5" and bottom[22] == ""
    assert december[0] == "12/2/2024" and december[5] == "9:45"  # EST in December
    letters = write_weekly_datashare(tmp_path / "2025.csv", table, category_style="letter")
    assert [row.split(",")[4] for row in letters.read_text().splitlines()[1:]] == ["S", "B", "S"]


def _utc(local: datetime) -> pd.Timestamp:
    """Independent conversion: zoneinfo directly, without spectm."""
    aware = local.replace(tzinfo=ZoneInfo("America/New_York"))
    return pd.Timestamp(aware.astimezone(timezone.utc).replace(tzinfo=None))


visits = st.lists(
    st.tuples(
        st.sampled_from(glerl.CORE_STATIONS),
        st.dates(min_value=datetime(2024, 1, 2).date(), max_value=datetime(2025, 12, 30).date()),
        st.integers(7, 15), st.integers(0, 59),
        st.integers(-300, 300), st.integers(-300, 300),  # position offsets in 1e-5 degree
        st.one_of(st.none(), st.integers(1, 10**6)),  # particulate MC in 0.001 ug/L, None = censored
        st.one_of(st.none(), st.floats(0.0, 500.0, allow_nan=False)),  # chlorophyll
        st.booleans(),  # with a bottom sample
    ),
    min_size=1, max_size=12, unique_by=lambda v: (v[0], v[1]),
)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(visits)
def test_datashare_round_trip(tmp_path, drawn):
    rows = []
    for station, day, hour, minute, dlat, dlon, mc, chla, bottom in drawn:
        lat0, lon0 = glerl.STATION_POSITIONS[station]
        base = {
            "station": station,
            "time": _utc(datetime(day.year, day.month, day.day, hour, minute)),
            "latitude": round(lat0 + dlat * 1e-5, 5), "longitude": round(lon0 + dlon * 1e-5, 5),
            "station_depth_m": 6.0,
        }  # fmt: skip
        rows.append({**base, "depth_category": "Surface", "particulate_microcystin": 0.1 if mc is None else mc / 1000,
                     "mc_censored": mc is None, "chlorophyll_a": np.nan if chla is None else chla})  # fmt: skip
        if bottom:
            rows.append({**base, "depth_category": "Bottom", "particulate_microcystin": 0.1, "mc_censored": True,
                         "chlorophyll_a": 1.0})  # fmt: skip
    table = pd.DataFrame(rows)
    path = write_weekly_datashare(tmp_path / "round_trip.csv", table)
    back = glerl.read_glerl_csv(path)
    columns = ["station", "time", "depth_category", "latitude", "longitude", "particulate_microcystin",
               "mc_censored", "chlorophyll_a", "station_depth_m"]  # fmt: skip
    pd.testing.assert_frame_equal(back[columns].reset_index(drop=True), table[columns], check_dtype=False)
    assert (back["sample_depth_m"][back["depth_category"] == "Bottom"] == 5.0).all()


# ---------------------------------------------------------------------------------------------- bad input


def _error(tmp_path, header, rows, field, name="bad.csv") -> DataFormatError:
    path = tmp_path / name
    write_csv(path, header, rows)
    with pytest.raises(DataFormatError) as info:
        glerl.read_glerl_csv(path)
    assert str(path) in str(info.value) and repr(field) in str(info.value) and info.value.field == field
    return info.value


def test_missing_column(tmp_path):
    header = DATASHARE_HEADER.replace("Particulate_Microcystin_ugL-1,", "")
    rows = [",".join(r.split(",")[:19] + r.split(",")[20:]) for r in DATASHARE_ROWS[1:]]
    error = _error(tmp_path, header, rows, "Particulate_Microcystin_ugL-1")
    assert error.found == "missing"


def test_unparseable_date_and_time(tmp_path):
    error = _error(tmp_path, DATASHARE_HEADER, [DATASHARE_ROWS[0].replace("7/15/2024", "15-Jul")], "Date")
    assert "'15-Jul' on line 2" in str(error)
    _error(tmp_path, DATASHARE_HEADER, [DATASHARE_ROWS[0].replace("8:20", "8h20")], "Arrival_Time")


def test_negative_concentration_and_unknown_token(tmp_path):
    row = DATASHARE_ROWS[1].replace(",0.92,", ",-0.92,")
    error = _error(tmp_path, DATASHARE_HEADER, [DATASHARE_ROWS[0], row], "Particulate_Microcystin_ugL-1")
    assert "non-negative" in str(error) and "line 3" in str(error)
    _error(tmp_path, DATASHARE_HEADER, [DATASHARE_ROWS[0].replace(",31.06,", ",high,")], "Extracted_CHLa_ugL-1")


def test_unknown_header_and_ragged_row(tmp_path):
    _error(tmp_path, "when,where,what", ["1,2,3"], "header")
    error = _error(tmp_path, DATASHARE_HEADER, [DATASHARE_ROWS[0] + ",extra"], "row", name="ragged.csv")
    assert "26 on line 2" in str(error)
