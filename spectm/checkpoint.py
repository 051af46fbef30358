"""Checkpoints that survive a crash and load under ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors and plain Python values only (no numpy, no dataclasses, no Namespaces),
so loading it never executes pickled code. It is written to a temporary file in the same directory,
flushed to disk with ``fsync`` and moved over the old one with ``os.replace``, which is atomic on POSIX:
a run killed while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import torch

import spectm

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "spectm-checkpoint/1"


def code_version() -> dict:
    """``spectm.__version__`` and the git commit of the source tree (None outside a git checkout)."""
    commit = None
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(spectm.__file__).parent,
                                capture_output=True, text=True, timeout=5)
        if result.returncode == 0 and result.stdout.strip():
            commit = result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"spectm": spectm.__version__, "git_commit": commit}


def rng_states() -> dict:
    """Global torch RNG states (CPU, and every CUDA device when available), for dropout after a resume."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def restore_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if states.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_atomic(obj: dict, path) -> Path:
    """``torch.save`` to ``path`` via a temporary file in the same directory, fsync, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def checkpoint_path(path) -> Path:
    """A checkpoint file, or the :data:`CHECKPOINT_NAME` inside a run directory."""
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load with ``weights_only=True``; a clear error names the file when it is missing or not ours."""
    path = checkpoint_path(path)
    if not path.exists():
        raise FileNotFoundError(f"no SpecTM checkpoint at {path}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a SpecTM checkpoint (expected format {FORMAT!r})")
    return state
