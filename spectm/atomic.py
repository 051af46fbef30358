"""The package's one way to write a file: never half written under its final name.

Why: a reader (a later chapter, a resumed run, a second process) must see the old file or the new one,
never a torn one. :func:`atomic_write` yields a temporary path in the same folder; when the caller's block
ends without an exception the temporary is fsync'd and ``os.replace``d onto the target (atomic on POSIX
and Windows) and the folder is fsync'd so the rename itself survives a power cut. On any exception
(KeyboardInterrupt included) the temporary is removed and the target is left as it was.

Temporary names are ``.tmp-<host>_<pid>-<token>-<name>`` (:data:`TEMPORARY_NAME`), so a cleaner can tell
whose writer died (:func:`spectm.data.cache.remove_stale_temporaries`, :func:`spectm.checkpoint.run_lock`).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
from pathlib import Path

#: ``.tmp-[<host>_]<pid>-<token>-<name>``: the writer's host (absent in older names) and process id.
TEMPORARY_NAME = re.compile(r"^\.tmp-(?:(?P<host>[A-Za-z0-9]+)_)?(?P<pid>\d+)-")


def host_name() -> str:
    """This machine's name reduced to letters and digits (a folder may be shared over a network)."""
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname()) or "localhost"


def temporary_path(path: Path) -> Path:
    """A fresh temporary name next to ``path`` that carries this writer's host and pid."""
    return path.with_name(f".tmp-{host_name()}_{os.getpid()}-{secrets.token_hex(4)}-{path.name}")


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where directories cannot be opened, e.g. Windows)."""
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
    """Yield a temporary path next to ``path`` for the caller to write; on success fsync it and rename it
    onto ``path``. The parent folder is created if missing.

    ``with atomic_write(out) as tmp: frame.to_csv(tmp)`` -- any writer that takes a path fits."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_write`; returns ``path``."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
