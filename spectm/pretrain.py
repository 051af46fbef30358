"""``spectm pretrain``: the command line of :func:`spectm.train.train` (and ``torchrun -m spectm.pretrain``).

Apart from the loop because it checks the run's length first (:mod:`spectm.budget`, which times steps of
the loop): the loop itself imports nothing above it.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys

import torch

from spectm import budget
from spectm.checkpoint import ResumeError, RunInUseError
from spectm.data import options
from spectm.data.errors import DataFormatError
from spectm.datasets import PixelSpectra, load_pixel_table, split_by_date, synthetic_spectra
from spectm.profiles import PROFILES
from spectm.train import __doc__ as TRAIN_DOC
from spectm.train import resolve_config, train


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not in [0, 1)")
    return value


def main(argv: list[str] | None = None) -> int:
    """``spectm pretrain --profile quick --masking targeted --data synthetic --out DIR [--set key=value]``."""
    parser = argparse.ArgumentParser(prog="spectm pretrain", description=TRAIN_DOC.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    parser.add_argument("--masking", default=None, help="masking family (default: the profile's or targeted)")
    parser.add_argument("--data", required=True, help="pixel table (.npz or .nc) or 'synthetic'")
    parser.add_argument("--out", required=True, help="run directory (checkpoint.pt, metrics.jsonl)")
    parser.add_argument("--val-fraction", type=_fraction, default=0.2,
                        help="fraction of dates held out, in [0, 1)")
    parser.add_argument("--synthetic-size", type=options.positive, default=20000,
                        help="spectra when --data synthetic")
    parser.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    parser.add_argument("--allow-long-run", action="store_true",
                        help="train even when the run is estimated to take hours on this CPU")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key (Python literal), e.g. --set epochs=2")
    args = parser.parse_args(argv)

    config = {"profile": args.profile, "device": "cuda" if torch.cuda.is_available() else "cpu"}
    if args.masking:
        config["masking"] = args.masking
    if args.no_resume:
        config["resume"] = False
    for item in args.set:
        key, _, value = item.partition("=")
        config[key] = _literal(value)
    try:
        config = resolve_config(config)
    except ValueError as error:  # an unknown key or a value no run can use: one line, no traceback
        print(f"spectm pretrain: {error}", file=sys.stderr)
        return 2
    try:
        if args.data == "synthetic":
            table = synthetic_spectra(args.synthetic_size, seed=config["seed"])
        else:
            table = load_pixel_table(args.data)
        data = PixelSpectra(table["Rrs"], table["time"], table.get("future"),
                            table.get("wavelength", "paper122"))
        train_rows, val_rows = split_by_date(data.time, args.val_fraction, config["seed"])
        budget.check_long_run(config, len(train_rows), config["device"], allow=args.allow_long_run)
        summary = train(config, data.subset(train_rows), data.subset(val_rows), args.out)
    except (ResumeError, RunInUseError, DataFormatError, OSError, budget.LongRunRefused) as error:
        print(f"spectm pretrain: {error}", file=sys.stderr)  # a refusal or bad input: one line, no traceback
        return 2
    except KeyboardInterrupt:  # Ctrl-C: every file is whole (atomic writes); say how to go on
        print(f"spectm pretrain: interrupted; {args.out} keeps the last checkpoint, the same command resumes "
              "from it", file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
