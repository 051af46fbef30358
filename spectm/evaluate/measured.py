"""Chapter 9's tables beyond the headline claims, each read from the results the earlier chapters saved.

Every table here is one row per quantity, its unit in its name, and its cells already formatted (counts as
integers, R² to 3 decimals), so a page shows them without an index column and without a width problem.
A quantity an earlier chapter did not save in this build reads "not measured in this build", never a
number typed here.
"""

from __future__ import annotations

import pandas as pd

from spectm.evaluate.selection import TASK_LABELS
from spectm.paper import PAPER

NOT_MEASURED = "not measured in this build"
TASKS = {"current": "current week", "ahead": "8 days ahead"}


def _r2(value) -> str:
    return NOT_MEASURED if value is None else f"{value:.3f}"


def r2_interval(row) -> str:
    """``r2 [r2_low, r2_high]`` of a score row, to three decimals."""
    return f"{row['r2']:.3f} [{row['r2_low']:.3f}, {row['r2_high']:.3f}]"


def detected_frame(fair: dict) -> pd.DataFrame:
    """The fair test's arms scored on every sample and on detected samples only (non-detects left out)."""
    rows = []
    for task, label in TASKS.items():
        for score in fair[task]["scores"]:
            rows.append({"task": label, "features": score["features"],
                         "R², all samples [95 % interval]": r2_interval(score),
                         "R², detected samples only": _r2(score.get("r2_detected")),
                         "AUROC, > 1 µg/L": _r2(score.get("auroc_1ug")),
                         "samples (all)": f"{int(score['n_samples']):d}"})
    return pd.DataFrame(rows)


def detected_counts(fair: dict) -> dict[str, tuple[int, int]]:
    """``{task: (arms with R² < 0 on detected samples, arms)}``."""
    out = {}
    for task, label in TASKS.items():
        values = [s.get("r2_detected") for s in fair[task]["scores"] if s.get("r2_detected") is not None]
        out[label] = (sum(v < 0 for v in values), len(values))
    return out


def _at(table: dict, key: str, model: str):
    return table.get(key, {}).get(model) if table else None


def robustness_frame(trust: dict) -> pd.DataFrame:
    """Chapter 8's robustness numbers, one row per quantity, one column per model (fitted on clean spectra)."""
    noise, shift = trust.get("noise_r2", {}), trust.get("shift_r2", {})
    worst = trust.get("worst_missing_band", {})
    models = list(next(iter(noise.values()), {})) or list(worst)
    if not models:
        return pd.DataFrame({"robustness (chapter 8)": [NOT_MEASURED]})
    lines = {"R², clean spectra (held-out weeks)": lambda m: _r2(_at(noise, "0%", m)),
             "R², band centres shifted by +1 nm": lambda m: _r2(_at(shift, "+1nm", m)),
             "R², band centres shifted by -1 nm": lambda m: _r2(_at(shift, "-1nm", m)),
             "R², 5 % Gaussian noise added": lambda m: _r2(_at(noise, "5%", m)),
             "the one missing band that hurts most (nm)":
                 lambda m: f"{worst[m]['wavelength_nm']:g}" if m in worst else NOT_MEASURED,
             "R², that band missing": lambda m: _r2(worst.get(m, {}).get("r2"))}
    return pd.DataFrame({"quantity": list(lines), **{m: [f(m) for f in lines.values()] for m in models}})


def interval_frame(trust: dict) -> pd.DataFrame:
    """Chapter 8's 90 % intervals: coverage in percent, width in log10 units and as a factor."""
    rows = [("90 % CV+ interval, coverage of held-out weeks' samples (%)", percent(trust.get("coverage_90_cvplus")),
             f"{int(trust['samples']):d} samples in {int(trust['weeks']):d} weeks"),
            ("90 % CV+ interval, mean width (log10 µg/L)", width_words(trust.get("width_90_cvplus")), "same samples"),
            ("90 % split-conformal interval, coverage (%)", percent(trust.get("coverage_90_split")), "same samples"),
            ("90 % CV+ interval from the Lake Erie twin, coverage on the turbid bay twin (%)",
             percent(trust.get("transfer_coverage_90")), "the bay's samples, nothing refitted")]
    return pd.DataFrame(rows, columns=["quantity", "this book", "on"])


def percent(value) -> str:
    """A fraction as a whole percentage, or :data:`NOT_MEASURED`."""
    return NOT_MEASURED if value is None else f"{100 * value:.0f} %"


def interval_factor(width: float) -> float:
    """A width of ``width`` log10 units as the ratio of the interval's upper end to its lower end."""
    return 10.0 ** width


def width_words(width) -> str:
    """An interval's width in log10 units, said as the factor between its ends."""
    if width is None:
        return NOT_MEASURED
    return f"{width:.2f} log10 units: the upper end is {interval_factor(width):,.0f} times the lower"


def budget_frame(profile: str, seed: int, source: str, fair: dict, selection: dict, epochs: int,
                 samples: tuple[int, int]) -> pd.DataFrame:  # fmt: skip
    """What the numbers were made with: profile, seeds, epochs, seasons, pixels and samples, beside the paper's."""
    budget = fair["current"]["budget"]
    pixels = budget.get("pixels")
    counts = [r["configurations"] for r in selection.get("tasks", [])]
    rows = [("profile, seed, data", f"{profile}, seed {seed}, {source}", "-"),
            ("pretraining epochs, main encoder (chapters 4-8)", f"{epochs:d}", f"{PAPER['epochs'].value:g}"),
            ("pretraining seeds per arm, fair test", f"{int(budget['seeds']):d}", "not reported"),
            ("pretraining epochs per run, fair test", f"{int(budget['epochs']):d}", f"{PAPER['epochs'].value:g}"),
            ("seasons (each held out in turn)", ", ".join(str(s) for s in budget["seasons"]), "one season, CV"),
            ("training pixels per pretraining run, fair test", NOT_MEASURED if "pixels" not in budget
             else "every pixel" if pixels is None else f"{int(pixels):,d}", "not reported"),
            ("matched samples, current week / 8 days ahead, one season",
             f"{samples[0]:d} / {samples[1]:d}",
             f"{PAPER['samples_current'].value:g} / {PAPER['samples_ahead'].value:g}"),
            ("matched samples, current week / 8 days ahead, fair test (all seasons)",
             " / ".join(f"{int(fair[t]['scores'][0]['n_samples']):d}" for t in TASKS), "-"),
            ("baseline configurations compared per task (N; hyper-parameters searched inside each)",
             f"{counts[0]:d}" if counts else NOT_MEASURED,
             f"{PAPER['baseline_configurations'].value:,.0f} over both tasks, each setting counted")]
    return pd.DataFrame(rows, columns=["budget", "this book", "the paper"])


def styled(frame: pd.DataFrame):
    """A table for a page: no index column, cells left-aligned (they are formatted text)."""
    return frame.style.hide(axis="index").set_properties(**{"text-align": "left"})


def _verdict_counts(verdicts: pd.DataFrame) -> str:
    counts = verdicts["verdict"].value_counts()
    return ", ".join(f"{n:d} {word}" for word, n in counts.items())


def _model_r2(microcystin: list[dict], model: str, task: str) -> float:
    return next(r["r2"] for r in microcystin if r["model"] == model and r["task"] == task)


def findings(verdicts: pd.DataFrame, microcystin: list[dict], fair: dict, trust: dict, selection: dict) -> list[str]:
    """Chapter 9's closing list, in numbers, from the same saved results as its tables."""
    lines = [f"**Verdicts**: of {len(verdicts):d} comparisons the fair test decides, {_verdict_counts(verdicts)}."]
    for task, label in (("current_week", "current week"), ("8_day_ahead", "8 days ahead")):
        lines.append(f"**SpecTM, {label}**: R² {_model_r2(microcystin, 'SpecTM embeddings', task):.3f} on "
                     f"embeddings alone against {_model_r2(microcystin, 'best baseline (any features)', task):.3f} "
                     "for the best baseline of the grid (R² of log10 µg/L, within one season).")
    negative = detected_counts(fair)
    lines.append("**Detected samples only**: R² is below zero for " + ", ".join(
        f"{n:d} of {total:d} arms ({label})" for label, (n, total) in negative.items()) + " of the fair test.")
    if trust.get("shift_r2") and trust.get("worst_missing_band"):
        robustness = robustness_frame(trust).set_index("quantity")
        spectm = robustness.columns[0]
        column = robustness[spectm]
        lines.append(f"**Robustness** ({spectm}): R² {column['R², clean spectra (held-out weeks)']} on clean spectra, "
                     f"{column['R², band centres shifted by +1 nm']} and {column['R², band centres shifted by -1 nm']} "
                     f"with the band centres shifted by +1 and -1 nm, {column['R², that band missing']} without the "
                     f"{column['the one missing band that hurts most (nm)']} nm band.")
    lines.append(f"**Intervals**: a 90 % CV+ interval covers {percent(trust.get('coverage_90_cvplus'))} of held-out "
                 f"samples and is {width_words(trust.get('width_90_cvplus'))}.")
    for row in selection.get("tasks", []):
        lines.append(f"**Best of {row['configurations']:d}, {TASK_LABELS.get(row['task'], row['task'])}**: "
                     f"the winner's R² {row['winner_r2_cv']:.3f} within {selection['season']} becomes "
                     f"{row['winner_r2_other_season']:.3f} on {selection['other_season']} (rank "
                     f"{row['winner_rank_other_season']:d} of {row['configurations']:d}); choosing it added "
                     f"{row['selection_effect']:+.3f} R² beyond the median configuration's change.")
    return [f"- {line}" for line in lines]
