"""Streaming the bbox window of L2 AOP granules over HTTP byte ranges (local server on 127.0.0.1 only).

The granules are written by the project's writer with the real l2gen chunking (32 lines x 256 pixels x
40 bands) but a reduced swath (:data:`LINES` x :data:`PIXELS` instead of 1710 x 1272): the writer needs
all 172 bands, and a full swath of them takes minutes and gigabytes on the shared test machine. The
window still crosses chunk boundaries on every axis, and the bytes bound below is per chunk.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import fsspec
import h5py
import netCDF4
import numpy as np
import pandas as pd
import pytest
import requests

from spectm.bands import oci_rrs_centers
from spectm.data import stream
from spectm.data.access import DataAccessError
from spectm.data.errors import DataFormatError
from spectm.data.pace import flag_bits, open_l2_aop, write_l2_aop

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
    unc = np.abs(rrs) * 0.05 + 1e-4
    return write_l2_aop(folder, rrs, lat, lon, flags, start, layout=layout, rrs_unc=unc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_HEAD(self):
        self._answer(body=False)

    def do_GET(self):
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        server = self.server
        path = Path(server.root) / unquote(self.path.lstrip("/"))
        if not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = path.stat().st_size
        start, stop = 0, size
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match and server.ranges:
            start = int(match[1])
            stop = min(size, int(match[2]) + 1 if match[2] else size)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        else:
            self.send_response(200)
        with open(path, "rb") as source:
            source.seek(start)
            data = source.read(stop - start)
        self.send_header("Accept-Ranges", "bytes" if server.ranges else "none")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self._send(data)

    def _send(self, data: bytes) -> None:
        sent = 0
        try:
            for offset in range(0, len(data), 65536):
                self.wfile.write(data[offset : offset + 65536])
                sent += min(65536, len(data) - offset)
        except (BrokenPipeError, ConnectionResetError):
            pass
        with self.server.lock:
            self.server.bytes_served += sent
            self.server.requests += 1


class RangeServer:
    """A ThreadingHTTPServer on 127.0.0.1 (port 0) serving a folder, counting bytes and GET requests."""

    def __init__(self, root, ranges=True):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.root, self.httpd.ranges, self.httpd.lock = Path(root), ranges, threading.Lock()
        self.httpd.bytes_served = self.httpd.requests = 0
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    @property
    def bytes_served(self) -> int:
        return self.httpd.bytes_served

    def reset(self) -> None:
        self.httpd.bytes_served = self.httpd.requests = 0

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def intersecting_chunk_bytes(path, rows: slice, cols: slice) -> int:
    """Compressed bytes of every chunk a bbox read must touch: Rrs, Rrs_unc, l2_flags, lat, lon and
    line attributes, each chunk counted when its extent meets the (rows, cols) window."""
    total = 0
    with h5py.File(path, "r") as h5:
        names = ["geophysical_data/Rrs", "geophysical_data/Rrs_unc", "geophysical_data/l2_flags",
                 "navigation_data/latitude", "navigation_data/longitude"]  # fmt: skip
        names += [f"scan_line_attributes/{n}" for n in h5["scan_line_attributes"]]
        for name in names:
            dset = h5[name]
            window = (rows, cols)[: dset.ndim]
            for i in range(dset.id.get_num_chunks()):
                info = dset.id.get_chunk_info(i)
                meets = all(
                    o < w.stop and o + c > w.start for o, c, w in zip(info.chunk_offset, dset.chunks, window)
                )
                total += info.size if meets else 0
    return total


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("granules")
    paths = {layout: write_granule(folder / layout, layout) for layout in ("3.1", "3.2")}
    return paths


def _http():
    return fsspec.filesystem("http", skip_instance_cache=True)


def _window(path):
    whole = open_l2_aop(path, bbox=BBOX)
    y, x = whole["y"].values, whole["x"].values
    return whole, slice(int(y[0]), int(y[-1]) + 1), slice(int(x[0]), int(x[-1]) + 1)
