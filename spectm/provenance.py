"""What produced a notebook's numbers: profile, data source, seed, package versions and git commit.

Every executed chapter shows this table in a small visible cell, so a figure in the rendered book can be
traced to the code and settings that made it.
"""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

import spectm

_PACKAGES = ("numpy", "xarray", "torch", "scikit-learn", "matplotlib", "cartopy", "papermill")


def git_commit(path: Path | str | None = None) -> str:
    """The commit of the working tree holding ``path`` (``+dirty`` when it has uncommitted changes)."""
    cwd = Path(path or Path(spectm.__file__).parent)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return "unknown (not a git checkout)"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git unavailable)"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance(profile: str, seed: int | None = None, source: str = "twin") -> pd.DataFrame:
    """A one-column table of everything needed to trace a notebook's results."""
    rows = {
        "profile": profile,
        "data source": source,
        "seed": "n/a" if seed is None else str(seed),
        "spectm": spectm.__version__,
        "git commit": git_commit(),
        "python": platform.python_version(),
    }
    rows.update({package: _version(package) for package in _PACKAGES})
    rows["executed (UTC)"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    return pd.DataFrame({"value": rows}).rename_axis("provenance")
