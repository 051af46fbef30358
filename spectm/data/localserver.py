"""A local HTTP server on 127.0.0.1 that honours ``Range`` and counts the bytes it sends.

The streaming tests, ``python -m benchmarks data`` and chapter 2 measure streamed subsets against it:
what a granule's window costs in bytes (against the compressed chunks that intersect it and the whole
file) and how many granules a minute go through, with no network and no credentials.
"""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import h5py


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_HEAD(self):
        self._answer(body=False)

    def do_GET(self):
        server = self.server
        with server.lock:
            server.gets += 1
            hang_up = server.fail_after is not None and server.gets > server.fail_after
        if hang_up:  # the connection drops: no status line at all
            self.close_connection = True
            return
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        server = self.server
        server.authorizations.add(self.headers.get("Authorization"))
        path = Path(server.root) / unquote(self.path.lstrip("/"))
        if not path.is_file() or server.refuse:
            self.send_response(server.refuse or 404)
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

    def __init__(self, root, ranges=True, refuse=None):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.root, self.httpd.ranges, self.httpd.lock = Path(root), ranges, threading.Lock()
        self.httpd.refuse = refuse  # an HTTP status to answer every request with (401, 403)
        self.httpd.fail_after, self.httpd.gets = None, 0  # hang up on every GET after this many
        self.httpd.authorizations = set()
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


def _window(result) -> tuple[slice, slice]:
    return (slice(result.line_offset, result.line_offset + result.lines),
            slice(result.pixel_offset, result.pixel_offset + result.pixels))


def measure_streaming(granules, bbox, out_dir) -> list[dict]:
    """Stream the ``bbox`` window of each local granule through a :class:`RangeServer`; one row per granule.

    Rows: file bytes, bytes sent, the compressed bytes of the chunks the window intersects, the requests,
    the seconds from the first request to the subset on disk and the subset's size. Granules outside
    ``bbox`` get no row.
    """
    import fsspec

    from spectm.data.stream import subset_granule

    rows = []
    for path in map(Path, granules):
        with RangeServer(path.parent) as server:
            started = time.perf_counter()
            http = fsspec.filesystem("http", skip_instance_cache=True)
            result = subset_granule(server.url(path.name), bbox, out_dir, fs=http)
            seconds = time.perf_counter() - started
            if result.path is None:
                continue
            rows.append({"granule": path.name, "file_bytes": path.stat().st_size,
                         "sent_bytes": server.bytes_served,
                         "needed_bytes": intersecting_chunk_bytes(path, *_window(result)),
                         "requests": server.httpd.requests, "seconds": seconds,
                         "subset_bytes": result.path.stat().st_size})
    return rows
