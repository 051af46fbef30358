"""Checkpoints that survive a crash and load under ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors and plain Python values only (no numpy, no dataclasses, no Namespaces),
so loading it never executes pickled code. It is written to a temporary file in the same directory,
flushed to disk with ``fsync`` and moved over the old one with ``os.replace``, which is atomic on POSIX:
a run killed while saving leaves the previous checkpoint intact.

A run folder also keeps the checkpoint before the last one (:data:`PREVIOUS_NAME`), so a checkpoint
damaged after it was written (a truncated copy, a bad disk block) costs a few steps, not the run; and
one process at a time owns a run folder (:func:`run_lock`), so two runs never interleave their files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import warnings
from pathlib import Path

import torch

import spectm
from spectm.atomic import atomic_write

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_NAME = "checkpoint.previous.pt"
LOCK_NAME = "run.lock"
FORMAT = "spectm-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded (truncated, damaged, or not a SpecTM checkpoint)."""


class ResumeError(ValueError):
    """A run folder this run must not continue (other config, data or code; no loadable checkpoint)."""


class RunInUseError(RuntimeError):
    """A run folder that another live process is writing."""


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
    """``torch.save`` to ``path`` through :func:`spectm.atomic.atomic_write` (temporary, fsync, rename)."""
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def checkpoint_path(path) -> Path:
    """A checkpoint file, or the :data:`CHECKPOINT_NAME` inside a run directory."""
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load with ``weights_only=True``; a clear error names the file if it is missing, damaged or not ours."""
    path = checkpoint_path(path)
    if not path.exists():
        raise FileNotFoundError(f"no SpecTM checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError... for a damaged file
        raise CheckpointError(f"{path} cannot be loaded ({type(error).__name__}: {_first_line(error)}); "
                              "it is truncated or damaged") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a SpecTM checkpoint (expected format {FORMAT!r})")
    return state


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no message"


def save_rotating(obj: dict, run_dir) -> Path:
    """Save ``obj`` as the run's checkpoint, keeping the one it replaces as :data:`PREVIOUS_NAME`.

    A kill between the two renames leaves only the previous checkpoint, which :func:`load_resumable`
    then uses; every file under a final name is always complete."""
    run_dir = Path(run_dir)
    current = run_dir / CHECKPOINT_NAME
    if current.exists():
        os.replace(current, run_dir / PREVIOUS_NAME)
    return save_atomic(obj, current)


def load_resumable(run_dir, map_location="cpu", set_aside: bool = False) -> dict | None:
    """The newest loadable checkpoint of a run folder; None when it has none at all.

    A damaged newest checkpoint is named in a warning and the previous one is used; with ``set_aside``
    (the writing rank) the damaged file is renamed ``checkpoint.pt.damaged``, kept for inspection but out
    of the rotation, so the next save does not push the good previous one out. When no checkpoint
    loads, :class:`ResumeError` says so (``resume=False`` starts over)."""
    run_dir = Path(run_dir)
    candidates = [p for p in (run_dir / CHECKPOINT_NAME, run_dir / PREVIOUS_NAME) if p.exists()]
    if not candidates:
        return None
    problems = []
    for path in candidates:
        try:
            state = load_checkpoint(path, map_location=map_location)
        except CheckpointError as error:
            problems.append(str(error))
            continue
        except FileNotFoundError:  # set aside by rank 0 meanwhile (DDP): the next candidate is the one
            continue
        if problems:
            warnings.warn(f"{problems[0]}: resuming from the older checkpoint {path} instead", stacklevel=2)
            if set_aside:
                os.replace(candidates[0], candidates[0].with_name(CHECKPOINT_NAME + ".damaged"))
        return state
    raise ResumeError(f"{run_dir} has no loadable checkpoint ({'; '.join(problems)}); "
                      "use another folder, or resume=False (--no-resume) to start over")


def source_fingerprint(root=None) -> str:
    """A short hash of the package source: every ``*.py`` file and every resource file under ``root``
    (default: the installed ``spectm`` folder), with their relative paths, in sorted order.

    Why all of it: any module can change what a run learns (band grids, readers, matchups, physics), and
    a list of "training modules" goes stale the day someone adds one; a needless retrain is cheaper than a
    silently reused run."""
    root = Path(spectm.__file__).parent if root is None else Path(root)
    files = [p for p in root.rglob("*") if p.is_file() and _is_source(p.relative_to(root))]
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        content = path.read_bytes()
        name = path.relative_to(root).as_posix().encode()
        digest.update(len(name).to_bytes(8, "little") + name + len(content).to_bytes(8, "little") + content)
    return digest.hexdigest()[:16]


def _is_source(relative: Path) -> bool:
    """Python modules anywhere, plus data files under ``resources/``; never caches or hidden files."""
    parts = relative.parts
    if "__pycache__" in parts or any(part.startswith(".") for part in parts):
        return False
    return relative.suffix == ".py" or (parts[0] == "resources" and relative.suffix != ".pyc")


_HELD_LOCKS: dict[Path, int] = {}
_LOCK_FILES: dict[Path, object] = {}  # the open lock file of each folder held, for forked children to close


def _close_locks_in_forked_child() -> None:
    """A forked child (a DataLoader worker) shares the parent's lock file and would keep the folder locked
    after the parent is killed, until it exits in turn; it closes its copy (the parent keeps the lock)."""
    for handle in _LOCK_FILES.values():
        handle.close()


os.register_at_fork(after_in_child=_close_locks_in_forked_child)


@contextlib.contextmanager
def run_lock(run_dir):
    """Hold the run folder's exclusive lock (``run.lock``, ``fcntl.flock``) for the duration.

    A second process is refused at once with :class:`RunInUseError` naming the folder and the holder's
    pid. The kernel drops the lock when its holder exits, however it dies, so a stale lock file never
    blocks; a holder that releases the lock empties the file, so a pid still in it when the lock is free
    names a process that died holding the folder, and a warning says the folder is taken over.
    Re-entrant within one process (``experiments.pretrain`` holds it around ``train``). Taking the lock
    removes the temporaries that killed writers left behind: nobody else can be writing them."""
    import fcntl

    run_dir = Path(run_dir).absolute()
    if run_dir in _HELD_LOCKS:
        _HELD_LOCKS[run_dir] += 1
        try:
            yield run_dir
        finally:
            _HELD_LOCKS[run_dir] -= 1
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / LOCK_NAME, "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RunInUseError(f"{run_dir} is in use by another run (pid {holder}); wait for it to finish "
                                "or use another folder") from None
        except OSError as error:  # a file system without locks (some network mounts): say so, go on
            warnings.warn(f"{run_dir} cannot be locked ({error}); nothing stops a second run from writing "
                          "there at the same time", stacklevel=3)
        _take_over(handle, run_dir)
        remove_run_temporaries(run_dir)
        _HELD_LOCKS[run_dir], _LOCK_FILES[run_dir] = 1, handle
        try:
            yield run_dir
        finally:
            del _HELD_LOCKS[run_dir], _LOCK_FILES[run_dir]
            if not handle.closed:  # closed: a forked child leaving the block, the parent still holds it
                handle.truncate(0)  # released cleanly: no pid left behind
    finally:
        handle.close()  # releases the flock


def _take_over(handle, run_dir: Path) -> None:
    """Write our pid into the lock file just acquired, warning when a dead holder's pid was still there."""
    handle.seek(0)
    left = handle.read().strip()
    if left and left != str(os.getpid()):
        warnings.warn(f"{run_dir} was left locked by pid {left}, which ended without releasing it (killed?); "
                      "taking the run folder over", stacklevel=4)
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()


def remove_run_temporaries(run_dir) -> list[Path]:
    """Delete the temporaries of killed writers in a run folder (``.tmp-*`` of :mod:`spectm.atomic`, and the
    ``.*.tmp`` / ``*.part`` names of earlier versions); call only while holding :func:`run_lock`. Returns
    what was removed."""
    run_dir = Path(run_dir)
    stale = sorted({*run_dir.glob(".tmp-*"), *run_dir.glob(".*.tmp"), *run_dir.glob("*.part")})
    for path in stale:
        if path.is_file():
            path.unlink(missing_ok=True)
    return stale
