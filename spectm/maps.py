"""Offline maps of Lake Erie: packaged Natural Earth lakes, and cartopy that is not allowed to download.

cartopy fetches Natural Earth shapefiles from the internet the first time a map asks for them. A notebook that
does so works on a laptop and fails (or hangs) on a build machine, so spectm ships the one layer its maps
need, the public-domain Natural Earth 1:110m lakes, and points cartopy at it. Every other cartopy download
raises :class:`OfflineMapDataError` instead of reaching the network, so a map that would need new data fails
loudly at build time rather than quietly depending on a CDN. No coastline or land layer is shipped: outside
the lake polygons the maps simply show the land colour.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import cartopy.crs as ccrs
import cartopy.feature as cfeature
import cartopy.io.shapereader as shapereader
from cartopy.io import Downloader
from cartopy.mpl.ticker import LatitudeLocator, LongitudeLocator

from spectm.data.region import WESTERN_LAKE_ERIE_BBOX  # the default extent of the maps


LAKE_FILL = "#a6cee3"
LAKE_EDGE = "#1f3a5f"
LAND_COLOUR = "#f2efe6"

_PACKAGE = "spectm.resources.natural_earth"
_SHIPPED = "Natural Earth 1:110m physical/lakes"


class OfflineMapDataError(RuntimeError):
    """cartopy asked for map data that spectm does not ship; spectm never downloads map data."""


class _OfflineDownloader(Downloader):
    """A cartopy downloader that finds files already on disk and refuses to fetch anything else.

    It keeps the path templates of the downloader it replaces, so a file under the (pre-existing) data
    directory is still found; only the download step is replaced by an error.
    """

    def __init__(self, replaced: Downloader):
        super().__init__(
            url_template=getattr(replaced, "url_template", ""),
            target_path_template=replaced.target_path_template,
            pre_downloaded_path_template=getattr(replaced, "pre_downloaded_path_template", ""),
        )

    def acquire_resource(self, target_path, format_dict):
        name = Path(target_path).name
        raise OfflineMapDataError(
            f"cartopy tried to download {name} (from {self._describe_url(format_dict)}); spectm ships only "
            f"{_SHIPPED} in {map_data_dir()} and works offline. Draw the map without this layer "
            "(e.g. no ax.coastlines()), or add the shapefile to the packaged data directory."
        )

    def _urlopen(self, url):
        raise OfflineMapDataError(f"cartopy tried to open {url}; spectm never downloads map data")

    def _describe_url(self, format_dict) -> str:
        try:
            return self.url(format_dict)
        except (KeyError, IndexError, AttributeError):
            return self.url_template or "an unknown URL"


def map_data_dir() -> Path:
    """The packaged cartopy data directory (holds ``shapefiles/natural_earth/physical/ne_110m_lakes.*``)."""
    folder = resources.files(_PACKAGE)
    if not isinstance(folder, Path):
        raise OfflineMapDataError(
            f"package data {_PACKAGE} is not a plain folder ({folder!r}); install spectm unzipped"
        )
    return folder


def use_offline_map_data() -> Path:
    """Point cartopy at the packaged data and make every cartopy download raise; return the data folder.

    Idempotent. Sets ``cartopy.config['pre_existing_data_dir']`` and ``['data_dir']`` to :func:`map_data_dir`
    and replaces each registered downloader (Natural Earth, GSHHS, SRTM) by one that raises
    :class:`OfflineMapDataError` instead of opening a URL.
    """
    import cartopy.io.srtm  # noqa: F401  (registers the SRTM downloaders, so they are replaced too)

    folder = map_data_dir()
    cartopy.config["pre_existing_data_dir"] = folder
    cartopy.config["data_dir"] = folder
    downloaders = cartopy.config["downloaders"]
    for key, downloader in list(downloaders.items()):
        if not isinstance(downloader, _OfflineDownloader):
            downloaders[key] = _OfflineDownloader(downloader)
    return folder


def lake_outline(name: str = "Lake Erie"):
    """The shapely polygon of the lake called ``name`` in the shipped Natural Earth 110m lakes (lon/lat)."""
    use_offline_map_data()
    path = shapereader.natural_earth(resolution="110m", category="physical", name="lakes")
    records = list(shapereader.Reader(path).records())
    matches = [record.geometry for record in records if record.attributes["name"] == name]
    if len(matches) != 1:
        known = sorted({record.attributes["name"] for record in records})
        problem = "no lake" if not matches else f"{len(matches)} lakes"
        raise ValueError(
            f"{path}: {problem} with name {name!r} in field 'name'; expected exactly one of {known}"
        )
    return matches[0]


def lake_erie_axes(
    ax=None,
    bbox: tuple[float, float, float, float] = WESTERN_LAKE_ERIE_BBOX,
    projection=None,
):
    """A cartopy GeoAxes showing ``bbox`` (west, south, east, north) with the lakes drawn; no downloads.

    With ``ax=None`` a new figure is made in ``projection`` (PlateCarree by default); otherwise ``ax`` must
    already be a GeoAxes and is drawn on. Lakes are filled light blue with a dark outline over a land
    colour, and labelled gridlines are added.
    """
    use_offline_map_data()
    west, south, east, north = bbox
    if not (west < east and south < north):
        raise ValueError(
            f"bbox {bbox}: expected (west, south, east, north) with west < east and south < north"
        )
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(subplot_kw={"projection": projection or ccrs.PlateCarree()})
    elif not hasattr(ax, "projection"):
        raise TypeError(f"ax is a {type(ax).__name__}; expected a cartopy GeoAxes (made with projection=...)")
    ax.set_extent([west, east, south, north], crs=ccrs.PlateCarree())
    ax.set_facecolor(LAND_COLOUR)
    lakes = cfeature.NaturalEarthFeature("physical", "lakes", "110m")
    ax.add_feature(lakes, facecolor=LAKE_FILL, edgecolor=LAKE_EDGE, linewidth=1.0, zorder=1)
    gridlines = ax.gridlines(
        draw_labels=True,
        xlocs=LongitudeLocator(nbins=4),
        ylocs=LatitudeLocator(nbins=5),
        linewidth=0.4,
        color="grey",
        alpha=0.6,
        linestyle="--",
    )
    gridlines.top_labels = False
    gridlines.right_labels = False
    return ax
