"""Parts of the book's pages made from the build itself, so they cannot go stale.

- ``python -m spectm.pages timings executed/timings.md executed/*.ipynb``: the landing page's "how long it
  takes" table: reading time from the words of each chapter's source (200 words a minute, the rate MyST
  uses), executing time from papermill's own record in each executed notebook, with the profile and
  machine it was measured on.
- ``python -m spectm.pages claims executed/claims.md``: the landing page's table of the paper's headline
  claims, from :mod:`spectm.paper` (the one place the paper's numbers are typed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from pathlib import Path

from spectm.atomic import atomic_write_text
from spectm.paper import PAPER

WORDS_PER_MINUTE = 200
SOURCE_FOLDER = Path("book/notebooks")


def reading_minutes(source: Path) -> int:
    """Minutes to read a MyST notebook's prose and code at :data:`WORDS_PER_MINUTE`, at least 1."""
    text = re.sub(r"\A---\n.*?\n---\n", "", source.read_text(encoding="utf-8"), flags=re.S)
    return max(1, round(len(text.split()) / WORDS_PER_MINUTE))


def executed_record(notebook: Path) -> dict:
    """Title, wall time (s) and parameters papermill stored in an executed notebook."""
    try:
        data = json.loads(notebook.read_text(encoding="utf-8"))
        record = data["metadata"]["papermill"]
        seconds = float(record["duration"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{notebook}: no papermill duration in metadata.papermill ({error}); "
                         "execute it with python -m spectm.book execute") from None
    title = next((line[2:].strip() for cell in data.get("cells", []) if cell.get("cell_type") == "markdown"
                  for line in "".join(cell.get("source", "")).splitlines() if line.startswith("# ")),
                 notebook.stem)
    return {"title": title, "seconds": seconds, "parameters": record.get("parameters", {})}


def format_duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def timings_table(notebooks: list[Path], sources: Path = SOURCE_FOLDER) -> str:
    """The Markdown table, one row per executed chapter, and a line saying where it was measured."""
    rows, profiles, total = [], set(), 0.0
    for number, notebook in enumerate(sorted(notebooks), start=1):
        record = executed_record(notebook)
        source = sources / f"{notebook.stem}.md"
        reading = f"{reading_minutes(source)} min" if source.is_file() else "n/a"
        profiles.add(str(record["parameters"].get("profile", "?")))
        total += record["seconds"]
        rows.append(f"| {number}. {record['title']} | {reading} | {format_duration(record['seconds'])} |")
    profile = ", ".join(sorted(profiles))
    header = ["| chapter | reading | executing |", "| --- | --- | --- |"]
    machine = f"{os.cpu_count()} CPU cores, {platform.machine()}"
    footer = (f"\nExecuting times were measured when this book was built: profile `{profile}`, {machine}, "
              f"{format_duration(total)} in all. Reading times count the words of each chapter at "
              f"{WORDS_PER_MINUTE} words a minute.\n")
    return "\n".join(header + rows) + "\n" + footer


#: The landing page's headline claims, in the abstract's order.
HEADLINE_CLAIMS = ("r2_current", "r2_ahead", "targeted_minus_random", "reconstruction_r", "spline_r",
                   "label_efficiency")


def claims_table(keys=HEADLINE_CLAIMS) -> str:
    """The paper's headline claims as a Markdown table: what, the paper's number, the paper's section."""
    rows = ["| claim (the paper's) | the paper's number | section |", "| --- | --- | --- |"]
    for key in keys:
        what = PAPER[key].what.replace("R^2", "R²")
        rows.append(f"| {what} | {PAPER[key]} | {PAPER[key].section} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spectm.pages", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    timings = commands.add_parser("timings", help="the landing page's run-time table")
    timings.add_argument("output", type=Path)
    timings.add_argument("notebooks", type=Path, nargs="+")
    claims = commands.add_parser("claims", help="the landing page's table of the paper's headline claims")
    claims.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    try:
        table = timings_table(args.notebooks) if args.command == "timings" else claims_table()
    except ValueError as error:
        print(f"spectm.pages: {error}", file=sys.stderr)
        return 1
    atomic_write_text(args.output, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
