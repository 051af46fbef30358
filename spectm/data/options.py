"""Option types and the one-line refusal shared by the ``spectm`` subcommands that write data.

Checked when the command line is parsed, a bad value is a usage line before anything is simulated,
fetched or written; an output folder that cannot be written is one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spectm.data.pace import LAYOUT_VERSIONS, SCAN_TIME_SPAN

#: Years whose twin the readers accept: PACE scan times outside :data:`SCAN_TIME_SPAN` (2020-2099) are
#: refused, so a twin of another year would be unreadable.
TWIN_YEARS = range(*(int(str(bound)[:4]) for bound in SCAN_TIME_SPAN))

#: PACE L2 AOP processing versions the reader knows.
PACE_VERSIONS = tuple(LAYOUT_VERSIONS)


def whole_number(text: str, least: int, what: str) -> int:
    """``text`` as an int of at least ``least``: an argparse type's core, so bad values are a usage line."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def positive(text: str) -> int:
    return whole_number(text, 1, "a positive integer")


def non_negative(text: str) -> int:
    return whole_number(text, 0, "a whole number >= 0")


def seed(text: str) -> int:
    return whole_number(text, 0, "a whole number >= 0 (numpy seeds cannot be negative)")


def twin_year(text: str) -> int:
    """A year the twin can be read back in: its PACE scan times must lie in 2020-2099."""
    year = whole_number(text, TWIN_YEARS.start, f"a year within {TWIN_YEARS.start}-{TWIN_YEARS.stop - 1} "
                        "(PACE scan times outside it are refused by the reader)")  # fmt: skip
    if year not in TWIN_YEARS:
        raise argparse.ArgumentTypeError(f"must be a year within {TWIN_YEARS.start}-{TWIN_YEARS.stop - 1}, got {year}")
    return year


def cannot_write(command: str, folder, error: OSError) -> int:
    """An output folder that cannot be written: one line on stderr, exit code 2."""
    folder = Path(folder)
    blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        reason = f"{blocking} is a file, not a folder"
    else:
        reason = error.strerror or str(error)
        reason += f" ({error.filename})" if error.filename and str(error.filename) != str(folder) else ""
    print(f"spectm {command}: cannot write under {folder}: {reason}", file=sys.stderr)
    return 2
