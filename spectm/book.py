"""Execute the book's MyST notebooks with papermill, one profile at a time.

The book is built in two steps (run first, render later, as OB.DAAC and Pythia do): this module turns a
jupytext MyST source into an executed ``.ipynb`` under a named profile; jupyter-book then renders the
executed notebooks without running them again. A failing notebook (a cell that raises, runs past the
per-cell timeout or kills its kernel) stops the build with a message naming the notebook and the cell,
and leaves the failed copy beside the target for inspection; the
target itself is only written (atomically) when every cell ran.

Usage: ``python -m spectm.book execute book/notebooks/x.md executed/x.ipynb --profile quick``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from spectm.atomic import atomic_write
from spectm.profiles import PROFILES, get_profile
from spectm.results import SOURCES

#: Tag papermill gives the cell it injects; we hide that cell in the rendered book because the
#: provenance cell of every notebook shows the same values in a readable table.
INJECTED_TAG = "injected-parameters"


class NotebookFailed(RuntimeError):
    """A notebook cell raised: the message names the notebook and the cell."""


def _hide_injected_cell(notebook) -> None:
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if INJECTED_TAG in tags and "remove-cell" not in tags:
            tags.append("remove-cell")


def cell_timeout(profile: str) -> int | None:
    """Seconds one cell may run under ``profile`` (None: no limit); the profile's ``book`` section."""
    seconds = get_profile(profile)["book"]["cell_timeout_s"]
    return None if seconds is None else int(seconds)


def execute(source: Path, target: Path, profile: str = "quick", timeout: int | None = None,
            data: str = "twin") -> float:
    """Run ``source`` (MyST markdown) top to bottom with ``profile`` and write ``target``; returns seconds.

    ``timeout``: seconds per cell, by default the profile's (:func:`cell_timeout`).
    ``data`` is the notebooks' ``source`` parameter: ``"twin"`` (offline) or ``"real"`` (files fetched by
    ``spectm fetch``). It is passed only when not the default, so notebooks without it still run.
    """
    import jupytext
    import nbformat

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    if data not in SOURCES:
        raise ValueError(f"unknown data source {data!r}: expected one of {', '.join(SOURCES)}")
    timeout = cell_timeout(profile) if timeout is None else timeout
    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(source, fmt="md:myst")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    staged = target.with_suffix(".staged.ipynb")
    running = target.with_suffix(".running.ipynb")
    failed = target.with_suffix(".failed.ipynb")
    nbformat.write(notebook, staged)
    start = time.perf_counter()
    try:
        parameters = {"profile": profile} if data == "twin" else {"profile": profile, "source": data}
        _run_papermill(staged, running, source.parent, parameters, timeout)
    except Exception as error:  # a raising cell, a cell timeout, a dead kernel: all named the same way
        raise _named_failure(error, source, running, failed, timeout) from None
    finally:
        staged.unlink(missing_ok=True)
    executed = nbformat.read(running, as_version=4)
    _hide_injected_cell(executed)
    with atomic_write(target) as partial:
        nbformat.write(executed, partial)
    running.unlink(missing_ok=True)
    failed.unlink(missing_ok=True)
    return time.perf_counter() - start


#: The kernel's environment beside the caller's. One BLAS thread for numpy and scipy: the chapters' linear
#: algebra is on matrices of a few hundred rows, where a second OpenBLAS thread only spins against torch's
#: threads in the same kernel (measured on the 2-core machine: chapter 7's downstream R^2 took 5x less CPU
#: with one thread, the same numbers). torch keeps its own thread count.
KERNEL_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1"}


@contextlib.contextmanager
def _kernel_environment():
    """:data:`KERNEL_ENVIRONMENT` set while the kernel starts (it inherits this process's environment)."""
    saved = {name: os.environ.get(name) for name in KERNEL_ENVIRONMENT}
    os.environ.update(KERNEL_ENVIRONMENT)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_papermill(staged: Path, running: Path, cwd: Path, parameters: dict, timeout: int) -> None:
    """papermill saves ``running`` after every cell, so a failed run leaves the cells that did run."""
    import papermill

    with _kernel_environment():
        papermill.execute_notebook(str(staged), str(running), parameters=parameters, kernel_name="python3",
                                   cwd=str(cwd), execution_timeout=timeout, progress_bar=False, report_mode=False)


def _named_failure(error: Exception, source: Path, running: Path, failed: Path,
                   timeout: int) -> NotebookFailed:
    """One message for every way a run stops: the notebook, the cell, what happened, the cell's code."""
    from papermill import PapermillExecutionError

    kept = running.exists()
    if kept:
        os.replace(running, failed)
    else:
        failed.unlink(missing_ok=True)  # a copy from an earlier run would be mistaken for this one
    if isinstance(error, PapermillExecutionError):
        index, count, code = error.cell_index, error.exec_count, error.source
    else:
        index, count, code = _last_started_cell(failed) if kept else (None, None, "")
    where = "before any cell ran:" if index is None else f"cell {index} (execution count {count})"
    partly = f"the partly executed notebook is in {failed}" if kept else "no cell output was saved"
    shown = f"\n--- cell source ---\n{code}" if code else ""
    return NotebookFailed(f"{source}: {where} {_what_happened(error, timeout)}{shown}\n({partly})")


def _what_happened(error: Exception, timeout: int) -> str:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        return f"raised {error.ename}: {error.evalue}"
    if isinstance(error, CellTimeoutError):
        return f"did not finish within the {timeout} s cell timeout (CellTimeoutError)"
    if isinstance(error, DeadKernelError):
        return f"killed the kernel (DeadKernelError: {error})"
    return f"stopped the run with {type(error).__name__}: {error}"


def _last_started_cell(path: Path) -> tuple[int | None, int | None, str]:
    """(index, execution count, source) of the last cell papermill started; papermill stamps a start time
    on a cell before running it, and a timeout or a dead kernel leaves no other trace of which cell it was."""
    import nbformat

    try:
        cells = nbformat.read(path, as_version=4).cells
    except (OSError, ValueError):  # cut short while papermill was saving it
        return None, None, ""
    started = [i for i, cell in enumerate(cells) if cell.metadata.get("papermill", {}).get("start_time")]
    if not started:
        return None, None, ""
    cell = cells[started[-1]]
    return started[-1], cell.get("execution_count"), cell.source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spectm.book", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("execute", help="execute one MyST notebook into an .ipynb")
    run.add_argument("source", type=Path)
    run.add_argument("target", type=Path)
    run.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    run.add_argument("--source", dest="data", default="twin", choices=sorted(SOURCES),
                     help="data the notebooks read: the twin, or real files fetched by `spectm fetch`")
    run.add_argument("--timeout", type=int, default=None,
                     help="seconds allowed per cell (default: the profile's book.cell_timeout_s)")
    args = parser.parse_args(argv)
    print(f"executing {args.source} -> {args.target} (profile {args.profile}, data {args.data})", flush=True)
    try:
        seconds = execute(args.source, args.target, args.profile, args.timeout, args.data)
    except NotebookFailed as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    print(f"executed {args.source} in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
