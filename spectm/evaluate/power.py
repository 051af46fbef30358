"""How many matched samples does it take to resolve a difference in R^2 such as the paper's masking effect
(``spectm.paper.PAPER["targeted_minus_random"]``)?

The paper compares targeted and random masking on 147 samples from one season, with no interval. The
uncertainty of a *difference* in R^2 between two feature sets scored on the same samples is set by how
much their errors differ from week to week, which the twin measures. :func:`power_curve` simulates
seasons of ``m`` sampling weeks by drawing ``m`` weeks with replacement from the measured weeks (each with
all its samples, as GLERL samples a cruise a week), computes the paired difference of R^2 on each
simulated season, and asks how often a season of that size would show an effect of ``effect`` with a
``level`` interval that excludes zero:

    power(m) = P( effect + (D_m - mean D_m) - z * sd(D_m) > 0 ),   z = Phi^-1((1 + level) / 2),

where ``D_m`` are the simulated differences at size ``m``. Centring on the assumed effect, instead of on
the measured difference, is what makes it a power calculation: it keeps the twin's noise and sets the
truth to the paper's claim. The sample axis is ``m`` times the measured samples per week.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from spectm.evaluate.protocol import _r2_rows


def _week_weights(groups, n_weeks: int, n_draws: int, rng) -> np.ndarray:
    """(draw, sample) weights: how often each sample's week was drawn in a season of ``n_weeks`` weeks."""
    unique, inverse = np.unique(np.asarray(groups), return_inverse=True)
    counts = rng.multinomial(n_weeks, np.full(unique.size, 1.0 / unique.size), size=n_draws).astype(np.float64)
    return counts[:, inverse]


def simulated_differences(y, predictions_a, predictions_b, groups, n_weeks: int, n_draws: int = 2000,
                          seed: int = 0) -> np.ndarray:  # fmt: skip
    """R^2(a) - R^2(b) on ``n_draws`` simulated seasons of ``n_weeks`` weeks (same draws for both arms).

    ``predictions_*`` are out-of-fold predictions, (repeat, n) or (n,), on the same samples and folds.
    """
    y = np.asarray(y, np.float64)
    a = np.atleast_2d(np.asarray(predictions_a, np.float64))
    b = np.atleast_2d(np.asarray(predictions_b, np.float64))
    if a.shape[1] != y.size or b.shape[1] != y.size:
        raise ValueError(f"predictions {a.shape} and {b.shape} must have one column per sample ({y.size})")
    weights = _week_weights(groups, n_weeks, n_draws, np.random.default_rng(seed))
    difference = np.nanmean(_r2_rows(y, a, weights), axis=1) - np.nanmean(_r2_rows(y, b, weights), axis=1)
    return difference[np.isfinite(difference)]


def power_curve(y, predictions_a, predictions_b, groups, effect: float | None = None, weeks=None,
                level: float = 0.95, n_draws: int = 2000, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Power to resolve ``effect`` at each season size (weeks and samples), from the twin's own noise.

    Returns one row per size: ``weeks``, ``samples``, ``sd`` (of the simulated difference), ``power``
    (simulated) and ``power_normal`` (the same from the normal approximation, a check). ``effect`` defaults
    to the paper's targeted-minus-random difference.
    """
    if effect is None:
        from spectm.paper import PAPER

        effect = PAPER["targeted_minus_random"].value
    groups = np.asarray(groups)
    n_weeks_measured = np.unique(groups).size
    per_week = groups.size / n_weeks_measured
    if weeks is None:
        weeks = np.unique(np.round(np.geomspace(max(4, n_weeks_measured // 4), 40 * n_weeks_measured, 24)))
    z = stats.norm.ppf(0.5 + level / 2)
    rows = []
    for m in np.asarray(weeks, int):
        d = simulated_differences(y, predictions_a, predictions_b, groups, int(m), n_draws, seed)
        sd = float(d.std(ddof=1))
        power = float(np.mean(effect + (d - d.mean()) - z * sd > 0))
        rows.append({"weeks": int(m), "samples": float(m * per_week), "sd": sd, "power": power,
                     "power_normal": float(stats.norm.cdf(effect / sd - z)) if sd > 0 else float("nan")})
    return pd.DataFrame(rows)


def samples_for_power(curve: pd.DataFrame, target: float = 0.8) -> float:
    """The number of samples at which ``curve`` first reaches ``target`` power (interpolated); inf if never."""
    reached = np.flatnonzero(curve["power"].to_numpy() >= target)
    if reached.size == 0:
        return float("inf")
    i = reached[0]
    if i == 0:
        return float(curve["samples"].iloc[0])
    x0, x1 = curve["samples"].iloc[i - 1], curve["samples"].iloc[i]
    p0, p1 = curve["power"].iloc[i - 1], curve["power"].iloc[i]
    return float(np.exp(np.interp(target, [p0, p1], [np.log(x0), np.log(x1)])))
