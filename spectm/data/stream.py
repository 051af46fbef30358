"""Stream the Lake Erie window of a PACE OCI L2 AOP granule instead of downloading the whole swath.

Why: a granule holds the full swath (about 1,710 scan lines x 1,272 pixels x 172 bands, 10-76 MB
compressed) and the western basin is a few thousand of those pixels. HDF5 stores ``Rrs`` in chunks of
(32 lines, 256 pixels, 40 bands), so a reader that asks for one hyperslab fetches only the chunks that
hold it. :func:`subset_granule` opens the granule over HTTPS with byte-range requests (fsspec), reads the
per-line swath edges in ``scan_line_attributes``, then the ``navigation_data`` latitude/longitude of the
candidate lines, finds the smallest line/pixel window holding every pixel inside the bounding box, and
reads only that window of ``Rrs``, ``Rrs_unc``, ``l2_flags`` and the line attributes.

The subset is written (atomically) in the granule's own layout, with its raw packed integers, fill values,
chunking, compression and attributes, so :func:`spectm.data.pace.open_l2_aop` reads it unchanged and gives
the same values as on the whole file. It keeps the source file's name; root attributes ``subset_*`` record
the source's size and checksum (when known), the bbox and the window's line/pixel offsets.

Servers that do not honour ``Range`` (and ``whole_file=True``) fall back to downloading the whole
granule, subsetting it locally and deleting it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import h5netcdf
import netCDF4
import numpy as np

from spectm.data.access import DataAccessError
from spectm.atomic import atomic_write
from spectm.data.errors import DataFormatError
from spectm.data.pace import check_bbox

LINE_DIM, PIXEL_DIM = "number_of_lines", "pixels_per_line"
#: Line-dimensioned variables of ``geophysical_data`` that a subset keeps; the others (aot, avw, ...) are
#: neither read nor written.
SUBSET_PRODUCTS = ("Rrs", "Rrs_unc", "l2_flags")
#: Bytes per HTTP range request, fetched as aligned blocks that stay cached (fsspec "blockcache"): HDF5
#: metadata reads are small and scattered over the file, and neighbouring chunks share blocks. Measured
#: on a twin full-swath granule (1710 x 1272 x 172, 8.3 MB, the Lake Erie window's chunks 1.02 MB):
#: 16 KiB -> 1.63x the needed chunk bytes in 103 requests, 32 KiB -> 1.76x in 56, 64 KiB -> 2.27x in 37,
#: 128 KiB -> 3.04x (the metadata's blocks); on a 320 x 384 swath 64 KiB gave 1.07x, 128 KiB 1.09x.
READ_BLOCK_BYTES = 32 * 2**10
#: Blocks the cache keeps (at most 16 MiB): with fsspec's default of 32, blocks of metadata read early are
#: evicted and fetched again.
_CACHED_BLOCKS = 512
#: Degrees added around the bbox when the swath edges of a line (``slat``/``clat``/``elat``...) decide
#: whether its latitude/longitude must be read at all; the window found is widened until it is not
#: cut by this pre-selection.
LINE_MARGIN_DEG = 0.5
#: Lines added on each side when a pre-selected block turns out to cut the window (navigation without
#: chunks; chunked navigation widens by one chunk row).
_WIDEN_LINES = 256
#: Points per half scan line (start-centre, centre-end) when testing which lines cross the bbox: 64 puts
#: them ~18 km apart on a 1150 km half line, inside the bbox's own extent.
_EDGE_SAMPLES = 64
_EDGE_NAMES = ("s", "c", "e")


@dataclass(frozen=True)
class SubsetResult:
    """What :func:`subset_granule` did with one granule.

    ``path`` is None when no pixel lies inside the bbox. ``method`` is "range" (streamed), "whole"
    (downloaded whole, then subset), "local" (a file on disk) or "cached" (an existing subset reused).
    ``bytes_fetched`` counts the bytes received from the server (None for a local file).
    """

    source: str
    path: Path | None
    method: str
    line_offset: int = 0
    pixel_offset: int = 0
    lines: int = 0
    pixels: int = 0
    source_size: int | None = None
    bytes_fetched: int | None = None
    reason: str = ""


# --------------------------------------------------------------------------------------------------
# the window


def _unfilled(var, index=slice(None), raw=None) -> np.ndarray:
    """``var[index]`` (or ``raw``, values already read) as float32 with fill -> NaN (the reader's semantics
    for navigation values)."""
    raw = np.asarray(var[index]) if raw is None else raw
    data = raw.astype(np.float32)
    fill = var.attrs.get("_FillValue")
    if fill is not None:
        data[raw == fill] = np.nan
    return data


def _inside(lat, lon, bbox) -> np.ndarray:
    west, south, east, north = bbox
    with np.errstate(invalid="ignore"):
        return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def _line_edges(h5) -> tuple[np.ndarray, np.ndarray] | None:
    """(lat, lon), each (3, lines): the start, centre and end pixel of every line; None when missing."""
    group = h5.groups.get("scan_line_attributes")
    names = [f"{p}{c}" for p in _EDGE_NAMES for c in ("lat", "lon")]
    if group is None or not set(names) <= set(group.variables):
        return None
    edges = {n: _unfilled(group.variables[n]) for n in names}
    return np.stack([edges[f"{p}lat"] for p in _EDGE_NAMES]), np.stack([edges[f"{p}lon"] for p in _EDGE_NAMES])


def _block(near: np.ndarray) -> tuple[int, int]:
    hits = np.flatnonzero(near)
    return (0, 0) if hits.size == 0 else (int(hits[0]), int(hits[-1]) + 1)


def _near_box(lat, lon, bbox, margin: float) -> np.ndarray:
    """Per line: any of the points (axis 0) within ``margin`` degrees of ``bbox``; unknown edges count as near."""
    west, south, east, north = bbox
    with np.errstate(invalid="ignore"):
        near = ((lat >= south - margin) & (lat <= north + margin) & (lon >= west - margin) & (lon <= east + margin)).any(0)
    return near | ~np.isfinite(lat).all(0) | ~np.isfinite(lon).all(0)


def _candidate_blocks(h5, bbox, lines: int, rows_per_chunk: int) -> list[tuple[int, int]]:
    """Blocks of lines to search for the window, the cheapest first.

    First the lines whose scan line (start-centre-end polyline, :data:`_EDGE_SAMPLES` points a segment)
    crosses the bbox, rounded out to whole latitude/longitude chunks: a full-width line is tilted, so
    the box around its three edge points spans degrees of latitude and would pull in chunk rows of
    navigation (the bulk of a granule's bytes) that hold no pixel of the window. Then, should those
    lines hold none (a curved swath), every line whose edges come within :data:`LINE_MARGIN_DEG`.
    """
    edges = _line_edges(h5)
    if edges is None:
        return [(0, lines)]
    lat, lon = edges
    t = np.linspace(0.0, 1.0, _EDGE_SAMPLES)[:, None]
    track_lat = np.concatenate([lat[0] + t * (lat[1] - lat[0]), lat[1] + t * (lat[2] - lat[1])])
    track_lon = np.concatenate([lon[0] + t * (lon[1] - lon[0]), lon[1] + t * (lon[2] - lon[1])])
    start, stop = _block(_near_box(track_lat, track_lon, bbox, 0.0))
    crossing = (start // rows_per_chunk * rows_per_chunk, min(lines, -(-stop // rows_per_chunk) * rows_per_chunk))
    wide = _block(_near_box(lat, lon, bbox, LINE_MARGIN_DEG))
    return [b for b in (crossing, wide) if b[1] > b[0]]


class _Rows:
    """Raw latitude and longitude of a block of lines, grown at either end as the window search widens;
    kept so that the subset copies them without fetching their chunks a second time."""

    def __init__(self, lat_var, lon_var, start: int, stop: int):
        self.vars, self.start, self.stop = (lat_var, lon_var), start, start
        self.raw = [np.asarray(v[start:start]) for v in self.vars]
        self.extend(start, stop)

    def extend(self, start: int, stop: int) -> None:
        if start < self.start:
            self.raw = [np.concatenate([np.asarray(v[start : self.start]), r]) for v, r in zip(self.vars, self.raw)]
            self.start = start
        if stop > self.stop:
            self.raw = [np.concatenate([r, np.asarray(v[self.stop : stop])]) for v, r in zip(self.vars, self.raw)]
            self.stop = stop

    def inside(self, bbox) -> np.ndarray:
        (lat_var, lon_var), (lat, lon) = self.vars, self.raw
        return _inside(_unfilled(lat_var, raw=lat), _unfilled(lon_var, raw=lon), bbox)


def _inside_rows_cols(rows_read: _Rows, bbox, lines: int, step: int):
    """The window's (rows, cols) found in the lines read, reading more lines while it touches an edge of
    them that is not the granule's; None when those lines hold no pixel in the bbox."""
    while True:
        start, stop = rows_read.start, rows_read.stop
        inside = rows_read.inside(bbox)
        rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
        if rows.size == 0:
            return None
        cut_low, cut_high = rows[0] == 0 and start > 0, rows[-1] == stop - start - 1 and stop < lines
        if not (cut_low or cut_high):
            return slice(start + int(rows[0]), start + int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)
        rows_read.extend(max(0, start - step) if cut_low else start, min(lines, stop + step) if cut_high else stop)


def _search_window(h5, bbox, name: str):
    """(window or None, the :class:`_Rows` of navigation read to find it)."""
    nav = h5.groups.get("navigation_data")
    if nav is None or not {"latitude", "longitude"} <= set(nav.variables):
        expected = "navigation_data latitude and longitude"
        raise DataFormatError(name, "navigation_data/latitude", expected, found="missing")
    lat_var, lon_var = nav.variables["latitude"], nav.variables["longitude"]
    lines = lat_var.shape[0]
    step = int(lat_var.chunks[0]) if lat_var.chunks else _WIDEN_LINES
    rows_read = None
    for start, stop in _candidate_blocks(h5, bbox, lines, step):
        rows_read = _Rows(lat_var, lon_var, start, stop)
        window = _inside_rows_cols(rows_read, bbox, lines, step)
        if window is not None:
            return window, rows_read
    return None, rows_read


def find_window(h5, bbox, name: str = "granule") -> tuple[slice, slice] | None:
    """The smallest (lines, pixels) window holding every pixel inside ``bbox``; None when there is none.

    Reads latitude/longitude only for the pre-selected lines (:func:`_candidate_blocks`), widening a
    block while the window touches an edge of it that is not the granule's.
    """
    return _search_window(h5, bbox, name)[0]


# --------------------------------------------------------------------------------------------------
# copying the window


def _keeps(group_path: str, name: str, dims: tuple[str, ...]) -> bool:
    """Whether a subset carries this variable: everything except other line-dimensioned products."""
    return not (group_path == "geophysical_data" and LINE_DIM in dims and name not in SUBSET_PRODUCTS)


def _attr_value(value):
    return value.decode() if isinstance(value, bytes) else value


def _copy_variable(var, dst, window: dict[str, slice], read=None) -> None:
    """Copy ``var[window]`` raw (packed integers, fill values) with its chunking, filters and attributes;
    ``read`` = (first line, raw values) already read for the window's lines."""
    index = tuple(window.get(d, slice(None)) for d in var.dimensions)
    if read is not None:
        first, raw = read
        data = raw[index[0].start - first : index[0].stop - first][:, index[1]]
    else:
        data = np.asarray(var[index]) if var.ndim else np.asarray(var[()])
    attrs = {k: _attr_value(v) for k, v in var.attrs.items() if k != "_FillValue"}
    fill = var.attrs.get("_FillValue")
    chunks = [max(1, min(c, n)) for c, n in zip(var.chunks, data.shape)] if var.chunks and data.size else None
    out = dst.createVariable(
        var.name.rsplit("/", 1)[-1], var.dtype.newbyteorder("="), var.dimensions,
        fill_value=fill if fill is not None else False,
        zlib=var.compression == "gzip", complevel=var.compression_opts or 4, shuffle=bool(var.shuffle),
        chunksizes=chunks, contiguous=chunks is None and bool(data.size),
    )  # fmt: skip
    out.set_auto_maskandscale(False)
    out.setncatts(attrs)
    if data.size:
        out[...] = data


def _copy_group(src, dst, window: dict[str, slice], sizes: dict[str, int], group_path: str = "", read=None) -> None:
    for name, dim in src.dimensions.items():
        dst.createDimension(name, sizes.get(name, dim.size))
    dst.setncatts({k: _attr_value(v) for k, v in src.attrs.items()})
    for name, var in src.variables.items():
        if _keeps(group_path, name, var.dimensions):
            _copy_variable(var, dst, window, (read or {}).get(f"{group_path}/{name}"))
    for name, child in src.groups.items():
        _copy_group(child, dst.createGroup(name), window, sizes, f"{group_path}/{name}".strip("/"), read)


def _write_subset(h5, out: Path, rows: slice, cols: slice, attrs: dict, read=None) -> None:
    """The window of ``h5`` as a netCDF-4 file at ``out`` (atomic), in the source's own layout."""
    window = {LINE_DIM: rows, PIXEL_DIM: cols}
    sizes = {LINE_DIM: rows.stop - rows.start, PIXEL_DIM: cols.stop - cols.start}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
        _copy_group(h5, nc, window, sizes, read=read)
        nc.setncatts(attrs)


def _subset_attrs(source_attrs, name, bbox, rows, cols, shape, size, checksum) -> dict:
    """The ``subset_*`` root attributes; a subset of a subset keeps offsets into the original granule."""
    base_line = int(source_attrs.get("subset_line_offset", 0))
    base_pixel = int(source_attrs.get("subset_pixel_offset", 0))
    attrs = {
        "subset_source_name": _attr_value(source_attrs.get("subset_source_name", name)),
        "subset_bbox": json.dumps([float(v) for v in bbox]),
        "subset_line_offset": np.int32(base_line + rows.start),
        "subset_pixel_offset": np.int32(base_pixel + cols.start),
        "subset_source_lines": np.int32(source_attrs.get("subset_source_lines", shape[0])),
        "subset_source_pixels": np.int32(source_attrs.get("subset_source_pixels", shape[1])),
        "subset_history": "spectm.data.stream.subset_granule: bbox window of the source granule, raw values copied",
    }
    size = source_attrs.get("subset_source_size", size)
    if size is not None:
        attrs["subset_source_size"] = np.int64(size)
    checksum = checksum or _split_checksum(source_attrs.get("subset_source_checksum"))
    if checksum:
        attrs["subset_source_checksum"] = f"{checksum[0]}:{checksum[1]}"
    return attrs


def _split_checksum(value) -> tuple[str, str] | None:
    return tuple(_attr_value(value).split(":", 1)) if value is not None else None  # type: ignore[return-value]


def _subset_open(handle, name: str, bbox, out: Path, size, checksum) -> tuple[slice, slice] | None:
    """Find the window in an open HDF5 file object (or path) and write it; None when the bbox misses.

    Returns the window in the original granule's lines/pixels (a subset of a subset adds its offsets).
    """
    try:
        h5 = h5netcdf.File(handle, "r")
    except OSError as error:
        raise DataFormatError(name, "file", "a readable netCDF-4/HDF5 PACE OCI L2 file", found=str(error)) from error
    with h5:
        window, rows_read = _search_window(h5, bbox, name)
        if window is None:
            return None
        rows, cols = window
        shape = h5.groups["navigation_data"].variables["latitude"].shape
        attrs = _subset_attrs(h5.attrs, name, bbox, rows, cols, shape, size, checksum)
        read = {f"navigation_data/{n}": (rows_read.start, raw) for n, raw in zip(("latitude", "longitude"), rows_read.raw)}
        _write_subset(h5, out, rows, cols, attrs, read)
    line, pixel = int(attrs["subset_line_offset"]), int(attrs["subset_pixel_offset"])
    return slice(line, line + rows.stop - rows.start), slice(pixel, pixel + cols.stop - cols.start)


# --------------------------------------------------------------------------------------------------
# sources: local file, HTTP ranges, whole download


class _RangesUnsupported(Exception):
    """The server answered a byte-range request with the whole file."""


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def _source_name(source: str) -> str:
    return (urlsplit(source).path if _is_url(source) else source).rstrip("/").rsplit("/", 1)[-1]


def http_filesystem(session, timeout: tuple[float, float] = (5.0, 30.0)):
    """An fsspec HTTPS filesystem carrying ``session``'s Authorization header (the Earthdata bearer token
    of :func:`spectm.data.access.earthdata_session`), with connect/read timeouts on every request."""
    import aiohttp
    import fsspec

    headers = {k: v for k, v in session.headers.items() if k.lower() == "authorization"}
    client = {"headers": headers, "timeout": aiohttp.ClientTimeout(sock_connect=timeout[0], sock_read=timeout[1])}
    return fsspec.filesystem("http", client_kwargs=client, skip_instance_cache=True)


def _unreachable(url: str, error: BaseException) -> DataAccessError:
    reason = str(error).split("\n")[0] or type(error).__name__
    return DataAccessError(
        f"Cannot stream {url} ({type(error).__name__}: {reason}); the offline default is source='twin'."
    )


def _open_error(url: str, error: BaseException) -> DataAccessError:
    """404 (or 401/403) from the server, versus no answer at all."""
    cause = error.__cause__ if isinstance(error, FileNotFoundError) and error.__cause__ is not None else error
    status = getattr(cause, "status", None)
    if status in (401, 403):
        return DataAccessError(
            f"{_host(url)} refused {url} (HTTP {status}): log in with earthdata_login() and accept the data EULA."
        )
    if status == 404 or (isinstance(error, FileNotFoundError) and error.__cause__ is None):
        return DataAccessError(f"{url} was not found on the server (HTTP 404); check the granule URL.")
    return _unreachable(url, cause)


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _stream(fs, url: str, name: str, bbox, out: Path, block_size: int, size, checksum) -> SubsetResult:
    """Subset ``url`` through byte-range reads; :class:`_RangesUnsupported` when the server ignores Range."""
    try:
        handle = fs.open(url, "rb", block_size=block_size, cache_type="blockcache",
                         cache_options={"maxblocks": _CACHED_BLOCKS})
    except Exception as error:  # fsspec turns every failed HEAD/GET into FileNotFoundError
        raise _open_error(url, error) from error
    with handle:
        remote_size = getattr(handle, "size", None)
        if remote_size is None:
            raise _RangesUnsupported()
        if size is not None and int(size) != int(remote_size):
            raise DataAccessError(
                f"{url}: the server announces {remote_size} bytes, the granule record {size}; "
                "not streaming a different file."
            )
        received = _count_received(handle)
        try:
            handle.cache.fetcher(1, 2)  # one byte at offset 1: a server without ranges refuses it
        except ValueError as error:
            raise _RangesUnsupported() from error
        except Exception as error:
            raise _unreachable(url, error) from error
        try:
            window = _subset_open(handle, name, bbox, out, remote_size, checksum)
        except _connection_errors() as error:
            raise DataAccessError(
                f"Lost {_host(url)} while streaming {url} ({type(error).__name__}: {error}); nothing was written, "
                "call again to retry."
            ) from error
    return _result(url, out, "range", window, remote_size, received[0])


def _connection_errors() -> tuple[type[BaseException], ...]:
    """What a range read raises when the connection drops or times out (h5py passes it through)."""
    import asyncio

    import aiohttp

    return (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, TimeoutError)


def _count_received(handle) -> list[int]:
    """Make the file's block cache count the bytes its range requests return; a one-item list."""
    received = [0]
    fetch = handle.cache.fetcher

    def counted(start, end):
        data = fetch(start, end)
        received[0] += len(data)
        return data

    handle.cache.fetcher = counted
    return received


def _result(source, out, method, window, size, fetched) -> SubsetResult:
    if window is None:
        reason = "no pixel of the granule lies inside the bbox; nothing written"
        return SubsetResult(str(source), None, method, source_size=size, bytes_fetched=fetched, reason=reason)
    rows, cols = window
    return SubsetResult(str(source), out, method, rows.start, cols.start, rows.stop - rows.start,
                        cols.stop - cols.start, size, fetched)  # fmt: skip


def _whole(fs, session, url: str, name: str, bbox, out: Path, size, checksum) -> SubsetResult:
    """Download the whole granule next to ``out``, subset it locally, delete it."""
    with tempfile.TemporaryDirectory(prefix=".whole-", dir=out.parent) as folder:
        local = Path(folder) / name
        try:
            if session is not None:
                from spectm.data.access import download_url

                download_url(url, local, expected_size=size, session=session, checksum=checksum, progress=False)
            else:
                fs.get_file(url, os.fspath(local))
        except DataAccessError:
            raise
        except Exception as error:
            raise _unreachable(url, error) from error
        fetched = local.stat().st_size
        window = _subset_open(os.fspath(local), name, bbox, out, fetched, checksum)
    return _result(url, out, "whole", window, fetched, fetched)


def _reusable(out: Path, name: str, bbox) -> SubsetResult | None:
    """An existing subset of the same granule and bbox (written atomically, so complete)."""
    try:
        with netCDF4.Dataset(out) as nc:
            same = nc.getncattr("subset_source_name") == name
            same &= json.loads(nc.getncattr("subset_bbox")) == list(bbox)
            offsets = int(nc.subset_line_offset), int(nc.subset_pixel_offset)
            shape = len(nc.dimensions[LINE_DIM]), len(nc.dimensions[PIXEL_DIM])
    except (OSError, AttributeError, KeyError, ValueError):
        return None
    if not same:
        return None
    return SubsetResult(name, out, "cached", offsets[0], offsets[1], shape[0], shape[1], bytes_fetched=0)


def subset_granule(source, bbox, out_dir, *, fs=None, session=None, whole_file: bool = False, size: int | None = None,
                   checksum: tuple[str, str] | None = None, block_size: int = READ_BLOCK_BYTES) -> SubsetResult:  # fmt: skip
    """Write the ``bbox`` window of one L2 AOP granule to ``out_dir/<granule name>``; return what was done.

    ``source`` is an ``https://`` URL (streamed with byte ranges through ``fs``, an fsspec HTTP filesystem,
    else one built from ``session``'s bearer token, else from :func:`access.earthdata_session`) or a
    local path.
    ``whole_file=True``, or a server that ignores ``Range``, downloads the whole granule first (verified
    against ``size``/``checksum`` when a ``session`` is given). ``size`` and ``checksum`` (UMM-G algorithm,
    value) describe the source and are recorded in the subset. A granule with no pixel in ``bbox``
    writes nothing (``result.path is None``, ``result.reason`` says why). An existing subset of the same
    granule and bbox is reused.
    """
    bbox = check_bbox(bbox)
    source = os.fspath(source)
    name = _source_name(source)
    out = Path(out_dir) / name
    if out.exists() and (cached := _reusable(out, name, bbox)) is not None:
        return cached
    if not _is_url(source):
        if not Path(source).is_file():
            raise FileNotFoundError(f"granule {source} does not exist")
        if out.exists() and out.resolve() == Path(source).resolve():
            raise ValueError(
                f"out_dir {out_dir} holds the source granule {name}: its subset would replace it; choose another folder"
            )
        window = _subset_open(source, name, bbox, out, Path(source).stat().st_size, checksum)
        return _result(source, out, "local", window, Path(source).stat().st_size, None)
    if fs is None:
        if session is None:  # no credentials: one DataAccessError sentence, before any request
            from spectm.data.access import earthdata_session

            session = earthdata_session()
        fs = http_filesystem(session)
    if not whole_file:
        try:
            return _stream(fs, source, name, bbox, out, block_size, size, checksum)
        except _RangesUnsupported:
            pass
    out.parent.mkdir(parents=True, exist_ok=True)
    return _whole(fs, session, source, name, bbox, out, size, checksum)


def subset_granules(sources, bbox, out_dir, progress: bool = True, **options) -> list[SubsetResult]:
    """:func:`subset_granule` for each source in order (granule records or URLs/paths), with a progress bar.

    A :class:`~spectm.data.access.GranuleRecord` passes its URL, size and checksum.
    """
    items = list(sources)
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="subset granules", unit="granule")
    results = []
    for item in items:
        extra = dict(options)
        if hasattr(item, "url"):
            extra.setdefault("size", item.size)
            if item.checksum:
                extra.setdefault("checksum", (item.checksum_algorithm, item.checksum))
            item = item.url
        results.append(subset_granule(item, bbox, out_dir, **extra))
    return results
