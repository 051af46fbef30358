"""Rebuild the shipped Natural Earth lakes shapefile from its GeoJSON source.

Run from the repository root (needs only pyshp)::

    python spectm/resources/natural_earth/build.py [SOURCE.geojson]

SOURCE defaults to ``source/ne_110m_lakes.geojson`` next to this script; the upstream file
``geojson/ne_110m_lakes.geojson`` of nvkelso/natural-earth-vector gives the same output, because only the
attributes in :data:`KEPT_FIELDS` are written. The shapefile lands where cartopy looks for it inside a data
directory: ``shapefiles/natural_earth/physical/ne_110m_lakes.{shp,shx,dbf,prj,cpg}``.

The ``.dbf`` header stores a "last update" date; pyshp writes today's, so :func:`build` stamps the fixed
:data:`DBF_HEADER_DATE` instead and a rebuild is byte-identical to the shipped files on any day.

Each feature is checked against the ``bbox`` that upstream stores with it, so a damaged copy of the source
(a lost digit, a missing vertex at an extreme) stops the build instead of shipping a wrong outline.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import shapefile

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE / "source" / "ne_110m_lakes.geojson"
OUTPUT_STEM = HERE / "shapefiles" / "natural_earth" / "physical" / "ne_110m_lakes"

#: Date written into bytes 1-3 of the ``.dbf`` header (the day the shipped files were first built).
DBF_HEADER_DATE = date(2026, 11, 25)

#: (dbf field name, dbf type, size, decimals): the Natural Earth attributes kept; translations are dropped.
KEPT_FIELDS = (
    ("scalerank", "N", 4, 0),
    ("featurecla", "C", 40, 0),
    ("name", "C", 60, 0),
    ("name_alt", "C", 60, 0),
    ("admin", "C", 20, 0),
    ("min_zoom", "N", 6, 1),
    ("min_label", "N", 6, 1),
    ("name_abb", "C", 40, 0),
    ("label", "C", 60, 0),
    ("wikidataid", "C", 20, 0),
    ("name_en", "C", 60, 0),
    ("ne_id", "N", 12, 0),
)

#: WGS 84 geographic coordinates, as in the .prj files Natural Earth distributes.
WGS84_PRJ = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)


def _signed_area(ring: list[list[float]]) -> float:
    """Shoelace area; positive for counter-clockwise rings."""
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))


def _shapefile_rings(geometry: dict, where: str) -> list[list[list[float]]]:
    """Rings of a GeoJSON (Multi)Polygon, exteriors clockwise and holes counter-clockwise (ESRI rule)."""
    if geometry["type"] == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        raise ValueError(f"{where}: geometry type {geometry['type']!r}, expected Polygon or MultiPolygon")
    rings = []
    for polygon in polygons:
        for index, ring in enumerate(polygon):
            if ring[0] != ring[-1]:
                raise ValueError(f"{where}: ring {index} is not closed (first vertex != last vertex)")
            clockwise = _signed_area(ring) < 0
            wanted_clockwise = index == 0
            rings.append(ring if clockwise == wanted_clockwise else ring[::-1])
    return rings


def _check_bbox(feature: dict, rings: list, where: str) -> None:
    if "bbox" not in feature:
        return
    xs = [x for ring in rings for x, _ in ring]
    ys = [y for ring in rings for _, y in ring]
    found = [min(xs), min(ys), max(xs), max(ys)]
    if any(abs(a - b) > 1e-6 for a, b in zip(found, feature["bbox"])):
        raise ValueError(f"{where}: vertex bounds {found} differ from the stored bbox {feature['bbox']}")


def build(source: Path = DEFAULT_SOURCE, output_stem: Path = OUTPUT_STEM) -> int:
    """Write the shapefile set for ``source``; return the number of records written."""
    collection = json.loads(Path(source).read_text(encoding="utf-8"))
    output_stem = Path(output_stem)
    output_stem.parent.mkdir(parents=True, exist_ok=True)
    with shapefile.Writer(str(output_stem), shapeType=shapefile.POLYGON, encoding="utf-8") as writer:
        for name, kind, size, decimals in KEPT_FIELDS:
            writer.field(name, kind, size, decimals)
        for number, feature in enumerate(collection["features"]):
            properties = feature["properties"]
            where = f"{source}: feature {number} ({properties.get('name')!r})"
            rings = _shapefile_rings(feature["geometry"], where)
            _check_bbox(feature, rings, where)
            writer.poly(rings)
            writer.record(*[_dbf_value(properties.get(name), kind) for name, kind, _, _ in KEPT_FIELDS])
    stamp_dbf_date(output_stem.with_suffix(".dbf"), DBF_HEADER_DATE)
    output_stem.with_suffix(".prj").write_text(WGS84_PRJ, encoding="ascii")
    output_stem.with_suffix(".cpg").write_text("UTF-8", encoding="ascii")
    return len(collection["features"])


def stamp_dbf_date(dbf: Path, day: date) -> None:
    """Overwrite the header's last-update date (bytes 1-3: years since 1900, month, day) with ``day``."""
    with open(dbf, "r+b") as handle:
        if handle.read(1) != b"\x03":
            raise ValueError(f"{dbf}: byte 0 is not 0x03, expected a dBASE III table as pyshp writes")
        handle.write(bytes((day.year - 1900, day.month, day.day)))


def _dbf_value(value, kind: str):
    if value is None:
        return None if kind == "N" else ""
    return value


if __name__ == "__main__":
    count = build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
    print(f"wrote {count} lakes to {OUTPUT_STEM}.shp")
