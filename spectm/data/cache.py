"""Derived-table caches that are never half written and never stale.

Why: the pixel table of a season takes minutes to build and is read by every later step. A cache file
either exists complete under its final name or not at all (written to a temporary name in the same
folder, fsync'd, then ``os.replace``d, which is atomic on POSIX and Windows), and its name carries a key
computed from every input file's name, size and modification time plus the build settings, so a
changed input or setting builds a new file instead of silently reusing an old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from pathlib import Path

#: Bump when the layout or meaning of a cached table changes, so old caches are not reused.
CACHE_FORMAT = "1"


def file_fingerprint(path) -> dict:
    """What identifies one input file for caching: absolute path, size in bytes and mtime in ns.

    A missing file is fingerprinted as missing (so it can still be reported as skipped).
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return {"path": os.fspath(path.absolute()), "size": None, "mtime_ns": None}
    return {"path": os.fspath(path.absolute()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def cache_key(paths, settings: dict, length: int = 20) -> str:
    """Hex key of the input files (in order) and the ``settings`` (JSON-serialisable values)."""
    payload = {
        "format": CACHE_FORMAT,
        "files": [file_fingerprint(p) for p in paths],
        "settings": settings,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def cache_path(cache_dir, prefix: str, key: str, suffix: str = ".nc") -> Path:
    """``<cache_dir>/<prefix>-<key><suffix>``."""
    return Path(cache_dir) / f"{prefix}-{key}{suffix}"


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path):
    """Yield a temporary path next to ``path``; on success fsync it and rename it onto ``path``.

    On any exception (including KeyboardInterrupt) the temporary file is removed and ``path`` is left
    as it was, so readers never see a half-written file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}-{path.name}")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def stale_temporaries(cache_dir) -> list[Path]:
    """Temporary files left in ``cache_dir`` by killed processes (``.tmp-*``), for cleanup by a caller."""
    folder = Path(cache_dir)
    return sorted(folder.glob(".tmp-*")) if folder.is_dir() else []
