"""One computed word per claim: does the book's measurement agree with the paper's?

Every claim of the paper that the book tests is a *comparison*: SpecTM against a baseline, targeted
against random masking, SpecTM's reconstruction against a spline. The book measures the same
comparison as a difference with an interval, and the verdict is read off that interval, with the sign
of the paper's effect taken as "the paper's direction":

- **inconsistent**: the whole interval lies below the paper's value (the book's data rule out an effect
  as large as the paper's: a smaller one, none, or one in the other direction);
- **consistent**: otherwise, when the interval excludes zero (the book resolves an effect in the paper's
  direction at least as large as the paper's value allows);
- **not resolvable at this sample size**: the interval holds both zero and the paper's value.

A consistent or inconsistent verdict on the twin is a verdict about the method on simulated physics; on
real data it is a verdict about the paper. :data:`RULE` is the sentence the book prints next to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONSISTENT, INCONSISTENT, UNRESOLVED = "consistent", "inconsistent", "not resolvable at this sample size"

RULE = ("Each verdict reads the book's 95 % interval for the same comparison as the paper's effect, in the "
        "paper's direction: 'inconsistent' if the whole interval lies below the paper's value, 'consistent' "
        "if it reaches the paper's value and excludes zero, 'not resolvable at this sample size' if it holds "
        "both zero and the paper's value.")


@dataclass(frozen=True)
class Verdict:
    """The paper's effect, the book's estimate and interval for it, and the word."""

    claim: str
    paper_effect: float
    estimate: float
    low: float
    high: float
    word: str

    def as_row(self) -> dict:
        return {"claim": self.claim, "paper": self.paper_effect, "book": self.estimate,
                "book_low": self.low, "book_high": self.high, "verdict": self.word}


def judge(claim: str, paper_effect: float, estimate: float, low: float, high: float) -> Verdict:
    """The :class:`Verdict` of one comparison (see the module docstring for the rule)."""
    if not np.isfinite([paper_effect, estimate, low, high]).all():
        raise ValueError(f"{claim}: every number must be finite (paper {paper_effect}, book {estimate} "
                         f"[{low}, {high}])")
    if low > high:
        raise ValueError(f"{claim}: interval [{low}, {high}] is reversed")
    if paper_effect == 0:
        raise ValueError(f"{claim}: a claim of no effect cannot be judged by this rule")
    direction = np.sign(paper_effect)
    lo, hi = sorted((direction * low, direction * high))  # the paper's direction is now positive
    effect = abs(paper_effect)
    if hi < effect:
        word = INCONSISTENT
    elif lo > 0:
        word = CONSISTENT
    else:
        word = UNRESOLVED
    return Verdict(claim, paper_effect, estimate, low, high, word)
