"""What produced a notebook's numbers: profile, data source, seed, package versions and git commit.

Every executed chapter shows this table in a small visible cell, so a figure in the rendered book can be
traced to the code and settings that made it.
"""

from __future__ import annotations

import datetime as _dt
import html
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


class Provenance:
    """Shown as one summary line that opens into the full table (HTML), or as the table (text)."""

    def __init__(self, table: pd.DataFrame):
        self.table = table

    def __getitem__(self, key: str) -> str:
        return self.table.loc[key, "value"]

    def summary(self) -> str:
        keys = ("profile", "data source", "seed", "git commit", "executed (UTC)")
        return " · ".join(f"{key} {self[key]}" for key in keys)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in self.table["value"].items())
        return (f"<details><summary><b>Provenance</b>: {html.escape(self.summary())}</summary>"
                f"<table>{rows}</table></details>")

    def __repr__(self) -> str:
        return self.table.to_string()


def provenance(profile: str, seed: int | None = None, source: str = "twin") -> Provenance:
    """Everything needed to trace a notebook's results: one line in the book, a table when opened."""
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
    return Provenance(pd.DataFrame({"value": rows}).rename_axis("provenance"))
