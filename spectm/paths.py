"""Where data, caches and checkpoints live, so every notebook and command finds the same files.

``SPECTM_DATA`` wins; otherwise ``data/`` of the source checkout (the book's default, ignored by git);
otherwise ``~/.cache/spectm`` for an installed package.
"""

from __future__ import annotations

import os
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The root folder for twin files, downloads, pixel tables and checkpoints (created if missing)."""
    if os.environ.get("SPECTM_DATA"):
        root = Path(os.environ["SPECTM_DATA"]).expanduser()
    elif (_CHECKOUT / "pyproject.toml").exists() and (_CHECKOUT / "data").is_dir():
        root = _CHECKOUT / "data"
    else:
        root = Path.home() / ".cache" / "spectm"
    root.mkdir(parents=True, exist_ok=True)
    return root


def twin_dir(size: str, seed: int, year: int = 2024, water: str = "lake_erie") -> Path:
    """The folder of one twin (size, seed, year, and the water body when it is not Lake Erie)."""
    suffix = "" if water == "lake_erie" else f"-{water}"
    return data_dir() / "twin" / f"{size}-seed{seed}-{year}{suffix}"


def real_dir() -> Path:
    """The download cache of the real path (PACE granules, GLERL tables, gridMET files)."""
    return data_dir() / "real"
