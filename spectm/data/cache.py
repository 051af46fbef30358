"""Derived-table caches that are never half written and never stale.

Why: the pixel table of a season takes minutes to build and is read by every later step. A cache file
either exists complete under its final name or not at all (written to a temporary name in the same
folder, fsync'd, then ``os.replace``d, which is atomic on POSIX and Windows), and its name carries a key
computed from every input file's name, size and modification time plus the build settings, so a
changed input or setting builds a new file instead of silently reusing an old one.

A cache file damaged after it was written (a truncated copy, a bad block) is rebuilt with a warning that
names it (:func:`open_or_discard`), and the temporaries of writers that were killed are removed on the
next start (:func:`remove_stale_temporaries`): their names carry the writer's host and pid, so only
files whose writer is known to be dead are touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

from spectm.atomic import TEMPORARY_NAME, host_name

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


def stale_temporaries(cache_dir) -> list[Path]:
    """Temporary files left in ``cache_dir`` by killed processes (``.tmp-*``), for cleanup by a caller."""
    folder = Path(cache_dir)
    return sorted(folder.glob(".tmp-*")) if folder.is_dir() else []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def remove_stale_temporaries(cache_dir) -> list[Path]:
    """Delete the temporaries in ``cache_dir`` whose writer process is dead (written on this host, pid no
    longer running); a live writer's file and another host's are left alone. Returns what was removed."""
    removed = []
    for path in stale_temporaries(cache_dir):
        match = TEMPORARY_NAME.match(path.name)
        if match is None or match["host"] not in (None, host_name()) or _pid_alive(int(match["pid"])):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


#: What opening a damaged file raises (netCDF4/HDF5 raise OSError, xarray ValueError or KeyError).
DAMAGED_FILE_ERRORS = (OSError, ValueError, KeyError, RuntimeError, EOFError)


def open_or_discard(path, opener):
    """``opener(path)`` for a cache file that exists and opens; None when it does not exist, or when it is
    damaged: then a warning names it and it is deleted, so the caller rebuilds it."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return opener(path)
    except DAMAGED_FILE_ERRORS as error:
        warnings.warn(f"cache file {path} is damaged ({type(error).__name__}: {error}); rebuilding it",
                      stacklevel=2)
        path.unlink(missing_ok=True)
        return None
