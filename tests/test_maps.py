"""Offline maps: the packaged Natural Earth lakes are found by cartopy, and nothing is ever downloaded."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import cartopy
import cartopy.crs as ccrs
import cartopy.io.shapereader as shapereader
import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mimage  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import shapefile  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

import spectm  # noqa: E402
from spectm import maps  # noqa: E402
from spectm.resources.natural_earth import build  # noqa: E402

SHAPE_EXTENSIONS = (".shp", ".shx", ".dbf", ".prj", ".cpg")

# The 8 core GLERL western-basin stations, nominal positions (lat, lon) from book/sources.md.
GLERL_STATIONS = {
    "WE2": (41.7621, -83.3306),
    "WE4": (41.8262, -83.1955),
    "WE6": (41.7058, -83.3856),
    "WE8": (41.8340, -83.3591),
    "WE9": (41.7178, -83.4237),
    "WE12": (41.7027, -83.2542),
    "WE13": (41.7427, -83.1363),
    "WE16": (41.6591, -83.1454),
}


@pytest.fixture(autouse=True)
def _restore_cartopy_config():
    """Each test starts from, and leaves behind, the cartopy configuration it found."""
    saved = dict(cartopy.config)
    saved_downloaders = dict(cartopy.config["downloaders"])
    yield
    cartopy.config.clear()
    cartopy.config.update(saved)
    cartopy.config["downloaders"].clear()
    cartopy.config["downloaders"].update(saved_downloaders)
    plt.close("all")


@pytest.fixture
def socket_attempts(monkeypatch):
    """Record (and refuse) every socket connection, loopback included."""
    attempts = []

    def refuse(sock, address):
        attempts.append(address)
        raise OSError(f"test socket guard: connection to {address!r} refused")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def _lakes_path() -> Path:
    return Path(shapereader.natural_earth(resolution="110m", category="physical", name="lakes"))


def test_cartopy_finds_the_packaged_lakes(socket_attempts):
    folder = maps.use_offline_map_data()
    path = _lakes_path()
    package_root = Path(spectm.__file__).resolve().parent
    assert path == folder / "shapefiles" / "natural_earth" / "physical" / "ne_110m_lakes.shp"
    assert path.resolve().is_relative_to(package_root)
    assert cartopy.config["pre_existing_data_dir"] == folder
    assert cartopy.config["data_dir"] == folder
    assert socket_attempts == []


def test_shipped_files_are_complete_and_small():
    stem = maps.map_data_dir() / "shapefiles" / "natural_earth" / "physical" / "ne_110m_lakes"
    sizes = {ext: stem.with_suffix(ext).stat().st_size for ext in SHAPE_EXTENSIONS}
    assert all(size > 0 for size in sizes.values())
    assert sum(sizes.values()) < 200_000
    assert stem.with_suffix(".cpg").read_text().strip().upper() == "UTF-8"
    assert "WGS_1984" in stem.with_suffix(".prj").read_text()


def test_lake_erie_is_in_the_records_with_sane_geometry():
    maps.use_offline_map_data()
    records = {record.attributes["name"]: record for record in shapereader.Reader(_lakes_path()).records()}
    assert {"Lake Erie", "Lake Ontario", "Lake Huron", "Lake Michigan", "Lake Superior"} <= set(records)
    erie = records["Lake Erie"].geometry
    west, south, east, north = erie.bounds
    # Lake Erie spans roughly 83.5-78.8 W and 41.4-42.9 N (atlas values, independent of the data).
    assert -83.6 < west < -83.3 and -79.0 < east < -78.8
    assert 41.3 < south < 41.5 and 42.8 < north < 43.05
    assert erie.is_valid
    # Area check against the published lake surface, about 25,700 km2; 110m generalisation allows +-20 %.
    km_per_degree = 111.32
    area_km2 = erie.area * km_per_degree**2 * np.cos(np.radians(erie.centroid.y))
    assert 0.8 * 25_700 < area_km2 < 1.2 * 25_700


def test_lake_outline_returns_erie_and_names_unknown_lakes():
    erie = maps.lake_outline()
    assert erie.geom_type == "Polygon"
    assert erie.contains(erie.representative_point())
    assert -83.5 < erie.centroid.x < -80.0
    with pytest.raises(ValueError, match=r"'Lake Atlantis'.*field 'name'.*Lake Erie"):
        maps.lake_outline("Lake Atlantis")


def test_ambiguous_lake_name_is_refused():
    # Upstream labels a Great Salt Lake polygon "Lake Onega" as well (see the folder README).
    with pytest.raises(ValueError, match="2 lakes with name 'Lake Onega'"):
        maps.lake_outline("Lake Onega")


def test_download_of_unshipped_layer_raises_without_touching_the_network(socket_attempts, tmp_path):
    folder = maps.use_offline_map_data()
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    with pytest.raises(maps.OfflineMapDataError, match=r"cartopy tried to download ne_110m_coastline\.shp"):
        shapereader.natural_earth(resolution="110m", category="physical", name="coastline")
    with pytest.raises(maps.OfflineMapDataError, match="cartopy tried to download"):
        shapereader.gshhs(scale="c", level=1)
    assert socket_attempts == []
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


def test_a_map_asking_for_coastlines_fails_loudly_at_draw_time(socket_attempts, tmp_path):
    ax = maps.lake_erie_axes()
    ax.coastlines()
    with pytest.raises(maps.OfflineMapDataError, match=r"download ne_\d+m_coastline\.shp"):
        ax.figure.savefig(tmp_path / "coast.png")
    assert socket_attempts == []


def test_use_offline_map_data_is_idempotent():
    first = maps.use_offline_map_data()
    downloaders = dict(cartopy.config["downloaders"])
    assert all(type(d).__name__ == "_OfflineDownloader" for d in downloaders.values())
    assert {("shapefiles", "natural_earth"), ("shapefiles", "gshhs")} <= set(downloaders)
    second = maps.use_offline_map_data()
    assert second == first
    assert cartopy.config["downloaders"] == downloaders
    assert all(cartopy.config["downloaders"][key] is downloaders[key] for key in downloaders)
    assert _lakes_path().exists()


def _pixel_colour(image, ax, lon, lat):
    x, y = ax.projection.transform_point(lon, lat, ccrs.PlateCarree())
    column, row_from_bottom = ax.transData.transform((x, y))
    return image[image.shape[0] - 1 - int(round(row_from_bottom)), int(round(column)), :3]


def test_lake_erie_axes_draws_the_lake_offline(socket_attempts, tmp_path):
    ax = maps.lake_erie_axes()
    assert isinstance(ax.projection, ccrs.PlateCarree)
    west, south, east, north = maps.WESTERN_LAKE_ERIE_BBOX
    np.testing.assert_allclose(ax.get_extent(crs=ccrs.PlateCarree()), [west, east, south, north], atol=1e-6)

    png = tmp_path / "erie.png"
    ax.figure.savefig(png, dpi=ax.figure.dpi)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mimage.imread(png)
    # Open water of the western basin (well inside the 110m outline) is lake blue; Detroit, to the north-west,
    # is land colour.
    np.testing.assert_allclose(_pixel_colour(image, ax, -83.0, 41.8), to_rgb(maps.LAKE_FILL), atol=0.02)
    np.testing.assert_allclose(_pixel_colour(image, ax, -83.45, 42.1), to_rgb(maps.LAND_COLOUR), atol=0.02)
    assert socket_attempts == []


def test_lake_erie_axes_accepts_an_existing_geoaxes_and_rejects_plain_axes(tmp_path):
    projection = ccrs.LambertConformal(central_longitude=-83.0, central_latitude=41.8)
    _, ax = plt.subplots(subplot_kw={"projection": projection})
    assert maps.lake_erie_axes(ax=ax) is ax
    ax.figure.savefig(tmp_path / "lcc.png")
    _, plain = plt.subplots()
    with pytest.raises(TypeError, match="GeoAxes"):
        maps.lake_erie_axes(ax=plain)
    with pytest.raises(ValueError, match="west < east"):
        maps.lake_erie_axes(bbox=(-82.4, 41.3, -83.6, 42.2))


def test_western_basin_bbox_holds_the_glerl_stations_and_the_pace_grid():
    west, south, east, north = maps.WESTERN_LAKE_ERIE_BBOX
    for station, (lat, lon) in GLERL_STATIONS.items():
        assert west < lon < east and south < lat < north, station
    # PACE granules are gridded over lon -83.5..-82.45, lat 41.3..42.2 (HAB-F's box; book/sources.md).
    assert west <= -83.5 and east >= -82.45 and south <= 41.3 and north >= 42.2


def _pretend_today_is(monkeypatch, year, month, day):
    """pyshp reads the day for the .dbf header from ``time.localtime``; make it another day."""
    fake = time.struct_time((year, month, day, 12, 0, 0, 0, 1, 0))
    monkeypatch.setattr(shapefile.time, "localtime", lambda *seconds: fake)


@pytest.mark.parametrize("today", [(2026, 11, 25), (2031, 2, 3), (1999, 12, 31)])
def test_build_script_reproduces_the_shipped_shapefile_on_any_day(tmp_path, monkeypatch, today):
    _pretend_today_is(monkeypatch, *today)
    count = build.build(build.DEFAULT_SOURCE, tmp_path / "ne_110m_lakes")
    assert count == 25
    shipped = build.OUTPUT_STEM
    for ext in SHAPE_EXTENSIONS:
        rebuilt = (tmp_path / "ne_110m_lakes").with_suffix(ext)
        assert rebuilt.read_bytes() == shipped.with_suffix(ext).read_bytes(), ext
    fixed = build.DBF_HEADER_DATE
    assert shipped.with_suffix(".dbf").read_bytes()[1:4] == bytes((fixed.year - 1900, fixed.month, fixed.day))


def test_build_comparison_sees_a_changed_attribute(tmp_path):
    """The byte comparison above is not vacuous: one changed name changes the rebuilt .dbf."""
    collection = json.loads(build.DEFAULT_SOURCE.read_text(encoding="utf-8"))
    erie = next(f for f in collection["features"] if f["properties"]["name"] == "Lake Erie")
    erie["properties"]["name_alt"] = "Lake Eerie"
    edited = tmp_path / "edited.geojson"
    edited.write_text(json.dumps(collection), encoding="utf-8")
    build.build(edited, tmp_path / "ne_110m_lakes")
    rebuilt = (tmp_path / "ne_110m_lakes.dbf").read_bytes()
    shipped = build.OUTPUT_STEM.with_suffix(".dbf").read_bytes()
    assert len(rebuilt) == len(shipped) and rebuilt[:4] == shipped[:4]
    assert rebuilt != shipped and b"Lake Eerie" in rebuilt


def test_stamp_dbf_date_refuses_a_file_that_is_not_a_dbase_table(tmp_path):
    not_dbf = tmp_path / "lakes.dbf"
    not_dbf.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(ValueError, match=r"lakes\.dbf: byte 0 is not 0x03"):
        build.stamp_dbf_date(not_dbf, build.DBF_HEADER_DATE)
    assert not_dbf.read_bytes() == b"PK\x03\x04 a zip file"


def test_build_script_rejects_a_source_that_disagrees_with_its_bbox(tmp_path):
    collection = json.loads(build.DEFAULT_SOURCE.read_text(encoding="utf-8"))
    erie = next(f for f in collection["features"] if f["properties"]["name"] == "Lake Erie")
    erie["geometry"]["coordinates"][0][8] = [-78.2, 42.965001]  # a lost digit at the eastern tip
    damaged = tmp_path / "damaged.geojson"
    damaged.write_text(json.dumps(collection), encoding="utf-8")
    with pytest.raises(ValueError, match=r"Lake Erie.*differ from the stored bbox"):
        build.build(damaged, tmp_path / "out")
