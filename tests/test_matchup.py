"""Matchups: spatial index vs brute force, exact edges, tie rules, survival counts, 8-day pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from spectm.data.matchup import (
    EARTH_RADIUS_M,
    find_matches,
    find_matches_bruteforce,
    future_pairs,
    haversine_m,
    local_day,
    match_samples,
)

LAT0, LON0 = 41.75, -83.25


def _north(metres):
    """Latitude metres north of LAT0 along the meridian (haversine distance = metres, up to rounding)."""
    return LAT0 + np.rad2deg(np.asarray(metres, float) / EARTH_RADIUS_M)


def _assert_same(a, b):
    np.testing.assert_array_equal(a.pixel, b.pixel)
    np.testing.assert_array_equal(a.day_offset, b.day_offset)
    np.testing.assert_array_equal(a.distance_m, b.distance_m)


def test_haversine_against_a_hand_value():
    # one degree of latitude on the mean-radius sphere: R * pi / 180
    assert haversine_m(41.0, -83.0, 42.0, -83.0) == pytest.approx(EARTH_RADIUS_M * np.pi / 180, rel=1e-12)
    assert haversine_m(LAT0, LON0, LAT0, LON0) == 0.0


def test_index_matches_bruteforce_on_random_data():
    rng = np.random.default_rng(1)
    n_pix, n_smp = 6000, 300
    p_lat, p_lon = rng.uniform(41.5, 42.0, n_pix), rng.uniform(-83.5, -82.9, n_pix)
    p_day = rng.integers(0, 40, n_pix)
    p_lat[:500], p_lon[:500] = p_lat[500:1000], p_lon[500:1000]  # repeated positions (same grid, other days)
    s_lat, s_lon = rng.uniform(41.5, 42.0, n_smp), rng.uniform(-83.5, -82.9, n_smp)
    s_day = rng.integers(0, 40, n_smp)
    for window, preferred in (((-4, 4), 0), ((-12, -8), -8)):
        fast = find_matches(s_lat, s_lon, s_day, p_lat, p_lon, p_day, 2000.0, window, preferred)
        slow = find_matches_bruteforce(s_lat, s_lon, s_day, p_lat, p_lon, p_day, 2000.0, window, preferred)
        _assert_same(fast, slow)
        assert 0.2 < fast.matched.mean() < 1.0  # the test exercises both outcomes


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n_pix=st.integers(0, 40),
    n_smp=st.integers(1, 15),
    max_m=st.sampled_from([500.0, 2000.0, 5000.0]),
)
def test_index_matches_bruteforce_property(data, n_pix, n_smp, max_m):
    coord = st.floats(-0.05, 0.05, allow_nan=False)
    day = st.integers(-6, 6)
    p = data.draw(st.lists(st.tuples(coord, coord, day), min_size=n_pix, max_size=n_pix))
    s = data.draw(st.lists(st.tuples(coord, coord, day), min_size=n_smp, max_size=n_smp))
    p = np.array(p, float).reshape(-1, 3)
    s = np.array(s, float).reshape(-1, 3)
    args = (LAT0 + s[:, 0], LON0 + s[:, 1], s[:, 2].astype(int), LAT0 + p[:, 0], LON0 + p[:, 1], p[:, 2].astype(int), max_m)
    _assert_same(find_matches(*args), find_matches_bruteforce(*args))


def test_limits_are_inclusive_and_exact_at_the_edges():
    cases = [(1999.999, 0, True), (2000.001, 0, False), (100.0, 4, True), (100.0, 5, False), (100.0, -4, True),
             (100.0, -5, False), (0.0, 0, True)]  # fmt: skip
    for metres, day, inside in cases:
        for search in (find_matches, find_matches_bruteforce):
            got = search([LAT0], [LON0], [0], [_north(metres)], [LON0], [day], 2000.0, (-4, 4))
            assert bool(got.matched[0]) is inside, (search.__name__, metres, day)
    assert haversine_m(LAT0, LON0, _north(1999.999), LON0) <= 2000.0 < haversine_m(LAT0, LON0, _north(2000.001), LON0)


def test_tie_rules_day_first_then_distance():
    # candidates: 1500 m same day, 300 m two days later, 300 m one day earlier
    p_lat = _north([1500.0, 300.0, 300.0, 200.0])
    p_lon = np.full(4, LON0)
    got = find_matches([LAT0], [LON0], [10], p_lat[:3], p_lon[:3], [10, 12, 9], 2000.0)
    assert got.pixel[0] == 0  # same day beats closer pixels on other days
    got = find_matches([LAT0], [LON0], [10], p_lat[1:], p_lon[1:], [12, 8, 12], 2000.0)
    assert got.pixel[0] == 2 and got.day_offset[0] == 2  # |+2| ties |-2|: distance decides (200 m)
    got = find_matches([LAT0], [LON0], [10], p_lat[1:3], p_lon[1:3], [8, 12], 2000.0)
    assert got.pixel[0] == 0  # equal |offset| and distance: the earlier table row


def _pixel_table(lat, lon, times, rrs=None) -> xr.Dataset:
    n = len(lat)
    wl = 415.0 + 2.5 * np.arange(4)
    rrs = np.arange(n * 4, dtype=np.float32).reshape(n, 4) if rrs is None else rrs
    return xr.Dataset(
        {"Rrs": (("pixel", "wavelength"), rrs)},
        coords={"wavelength": wl, "latitude": ("pixel", np.asarray(lat, np.float32)),
                "longitude": ("pixel", np.asarray(lon, np.float32)),
                "time": ("pixel", pd.DatetimeIndex(times).to_numpy()),
                "granule": ("pixel", np.array([f"g{i}" for i in range(n)]))},  # fmt: skip
    )


def _samples(rows) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["station", "depth_category", "latitude", "longitude", "time", "particulate_microcystin"])
    table["time"] = pd.to_datetime(table["time"])
    table["date"] = (table["time"] - pd.Timedelta(hours=4)).dt.normalize()  # EDT local date
    return table


def test_match_samples_survival_counts_by_hand():
    lat0 = float(np.float32(LAT0))  # pixel positions are stored as float32
    pixels = _pixel_table([lat0, lat0, 42.1], [LON0, LON0, -82.6],
                          ["2024-07-10T18:00", "2024-07-20T18:00", "2024-07-10T18:00"])  # fmt: skip
    samples = _samples([
        ("A", "Surface", lat0, LON0, "2024-07-12T14:00", 1.5),   # 2 days after pixel 0: final
        ("B", "Bottom", lat0, LON0, "2024-07-12T14:00", 1.0),    # not surface
        ("C", "Surface", 41.40, -83.45, "2024-07-12T14:00", 2.0),  # no pixel within 2 km
        ("D", "Surface", lat0, LON0, "2024-07-15T14:00", 3.0),   # 5 days from either pixel
        ("E", "Surface", lat0, LON0, "2024-07-18T14:00", np.nan),  # matched (pixel 1) but no label
        ("F", "Surface", np.nan, np.nan, "2024-07-18T14:00", 1.0),  # no position
    ])  # fmt: skip
    result = match_samples(samples, pixels)
    assert result.survival["samples"].tolist() == [6, 4, 3, 2, 1]
    table = result.table
    assert table.sizes["sample"] == 1 and str(table["station"].values[0]) == "A"
    assert int(table["pixel_index"].values[0]) == 0 and int(table["day_offset"].values[0]) == -2
    np.testing.assert_array_equal(table["Rrs"].values[0], pixels["Rrs"].values[0])
    assert table["particulate_microcystin"].values[0] == 1.5 and table["distance_m"].values[0] < 1.0

    ahead = match_samples(samples, pixels, lead_days=8)  # imagery 8-12 days before the sample
    assert ahead.survival["samples"].tolist() == [6, 4, 3, 1, 0]  # only E (pixel 0, 8 days before); no label
    samples.loc[samples["station"] == "E", "particulate_microcystin"] = 0.1
    ahead = match_samples(samples, pixels, lead_days=8)
    assert ahead.survival["samples"].tolist() == [6, 4, 3, 1, 1]
    assert int(ahead.table["pixel_index"].values[0]) == 0 and int(ahead.table["day_offset"].values[0]) == -8


def test_local_day_uses_eastern_dates():
    days = local_day(np.array(["2024-07-11T02:00", "2024-07-11T05:00"], dtype="datetime64[ns]"))
    expected = np.array(["2024-07-10", "2024-07-11"], dtype="datetime64[D]").astype(np.int64)
    np.testing.assert_array_equal(days, expected)  # 22:00 EDT is still the 10th


def test_future_pairs_against_a_direct_search():
    rng = np.random.default_rng(3)
    n = 400
    lat = rng.uniform(41.6, 41.8, n)
    lon = rng.uniform(-83.4, -83.1, n)
    day = rng.integers(0, 20, n)
    times = pd.Timestamp("2024-07-01T18:00") + pd.to_timedelta(day, unit="D")
    pixels = _pixel_table(lat, lon, times)
    pairs = future_pairs(pixels, lead_days=8, max_distance_km=1.0)
    lat32, lon32 = pixels["latitude"].values.astype(float), pixels["longitude"].values.astype(float)
    expected = {}
    for i in range(n):
        later = np.flatnonzero(day == day[i] + 8)
        if later.size:
            d = haversine_m(lat32[i], lon32[i], lat32[later], lon32[later])
            if d.min() <= 1000.0:
                expected[i] = int(later[d.argmin()])
    assert len(expected) > 10
    assert dict(zip(pairs["pixel_index"].values.tolist(), pairs["future_index"].values.tolist())) == expected
    np.testing.assert_array_equal(pairs["Rrs_future"].values, pixels["Rrs"].values[pairs["future_index"].values])
    assert (pairs["time_future"].values - pairs["time"].values == np.timedelta64(8, "D")).all()
    assert (pairs["distance_m"].values <= 1000.0).all()


def test_tiny_twin_end_to_end(tmp_path):
    from spectm.data.glerl import read_glerl_csv
    from spectm.data.gridmet import open_gridmet
    from spectm.data.pixels import build_pixel_table
    from spectm.data.weather import weather_features
    from spectm.twin import simulate_twin
    from spectm.twin.config import WESTERN_BASIN_BBOX

    twin = simulate_twin(tmp_path / "twin", size="tiny", seed=0, progress=False)
    pixels = build_pixel_table(twin.paths("pace"), WESTERN_BASIN_BBOX, progress=False)
    samples = read_glerl_csv(twin.paths("glerl")[0])
    result = match_samples(samples, pixels)
    counts = result.survival["samples"].tolist()
    assert counts == sorted(counts, reverse=True) and counts[-1] > 0
    assert (result.table["distance_m"] <= 2000).all() and (abs(result.table["day_offset"]) <= 4).all()
    table = result.table
    features = weather_features(open_gridmet(twin.paths("gridmet")), table["time"].values, table["latitude"].values,
                                table["longitude"].values)  # fmt: skip
    assert features.shape == (table.sizes["sample"], 52) and np.isfinite(features.to_numpy()).all()
