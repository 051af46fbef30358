"""The numbers chapters hand to each other, and the table that sets them beside the paper's.

The microcystin chapter condenses its grids into one row per (model, task); the ablation and trust
chapters read its best spectra-only baseline from that record; the side-by-side chapter gathers every
record into one table. Keeping these steps here, not in the notebooks, lets a test run the whole hand-off
(on the twin or on real-format files) without executing the chapters.
"""

from __future__ import annotations

import pandas as pd

from spectm.data.layout import source_label
from spectm.evaluate.measured import percent, r2_interval, width_words
from spectm.paper import PAPER
from spectm.verdicts import RULE, judge

#: The microcystin chapter's model rows, in the order the chapter shows them.
SPECTRA_ONLY = "best baseline, spectra only"


def _best(frame: pd.DataFrame, sets) -> pd.DataFrame:
    rows = frame[frame.feature_set.isin(sets)] if sets is not None else frame
    return rows.loc[rows.groupby("task")["r2"].idxmax()].set_index("task")


def microcystin_summary(grid: pd.DataFrame, spectm_grid: pd.DataFrame) -> pd.DataFrame:
    """The best configuration of each model family per task, indexed by (model, task)."""
    spectral_sets = [s for s in grid.feature_set.unique() if "weather" not in s]
    return pd.concat({
        "best baseline (any features)": _best(grid, None),
        SPECTRA_ONLY: _best(grid, spectral_sets),
        "weather only (AUX)": _best(grid, ["weather"]),
        "SpecTM embeddings": _best(spectm_grid, ["embedding"]),
        "SpecTM embeddings + weather": _best(spectm_grid, ["embedding+weather"]),
    }, names=["model"])[["feature_set", "algorithm", "r2", "r2_low", "r2_high"]]  # fmt: skip


def spectra_only_baseline(microcystin: list[dict], task: str) -> dict:
    """The microcystin record's best spectra-only baseline for ``task``: its feature set and algorithm."""
    rows = [r for r in microcystin if r.get("model") == SPECTRA_ONLY and r.get("task") == task]
    if not rows:
        tasks = sorted({str(r.get("task")) for r in microcystin})
        raise ValueError(f"the microcystin result has no {SPECTRA_ONLY!r} row for task {task!r} "
                         f"(tasks present: {tasks}); re-execute chapter 06_microcystin")
    return {"feature_set": rows[0]["feature_set"], "algorithm": rows[0]["algorithm"]}


#: The unit of every microcystin score in the side-by-side table.
R2 = "R² of log10 µg/L"


def _difference(d: dict) -> str:
    return f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] over {d['seeds']} seed{'s' if d['seeds'] != 1 else ''}"


def _trust_rows(trust: dict) -> list[tuple]:
    """The trust chapter's 90 % intervals, coverage and width, with their units (the paper reports none)."""
    on = f"{int(trust['samples'])} held-out samples in {int(trust['weeks'])} weeks, chapter 8"
    return [("90 % interval (CV+), coverage", "% of samples", "not reported", percent(trust.get("coverage_90_cvplus")),
             on),
            ("90 % interval (CV+), mean width", "log10 µg/L", "not reported", width_words(trust.get("width_90_cvplus")),
             on)]


def side_by_side(store, data: dict) -> pd.DataFrame:
    """Every headline claim: the paper's number beside this book's, read from ``store`` (a ResultStore).

    ``data`` is :func:`spectm.experiments.lake_erie_data` of the same source, for the matchup counts.
    """
    reconstruction = pd.DataFrame(store.load("reconstruction")).set_index(["method", "window"])
    microcystin = pd.DataFrame(store.load("microcystin")).set_index(["model", "task"])
    ablations, trust = store.load("ablations"), store.load("trust")

    def mc(model, task):
        row = microcystin.loc[(model, task)]
        return f"{r2_interval(row)} ({row['algorithm']}, {row['feature_set']})"

    def weather_vs_ssl():
        r2 = microcystin["r2"]
        return (f"{r2[('weather only (AUX)', 'current_week')]:.3f} vs "
                f"{r2[('SpecTM embeddings + weather', 'current_week')]:.3f} (current week)")

    recon = reconstruction["r"]
    rows = [
        ("masked-band reconstruction, SpecTM", "Pearson r, pooled", str(PAPER["reconstruction_r"]),
         f"{recon[('spectm', 'overall')]:.4f}", "held-out dates, targeted mask, chapter 5"),
        ("masked-band reconstruction, cubic spline", "Pearson r, pooled", str(PAPER["spline_r"]),
         f"{recon[('cubic', 'overall')]:.4f} (extrapolating); {recon[('cubic (hold)', 'overall')]:.4f} "
         "(holding the last band)", "same pixels, chapter 5"),
        ("matched samples, current week / 8 days ahead", "samples", f"{PAPER['samples_current'].value:g} / {PAPER['samples_ahead'].value:g}",
         f"{data['current'].sizes['sample']} / {data['ahead'].sizes['sample']}",
         "≤ 2 km, ±4 days; 8-12 days before, chapter 2"),
        ("microcystin, current week, SpecTM", R2, str(PAPER["r2_current"]), mc("SpecTM embeddings", "current_week"),
         "week-grouped repeated CV, 95 % interval over weeks, chapter 6"),
        ("microcystin, 8 days ahead, SpecTM", R2, f"{PAPER['r2_ahead'].value:.3f}", mc("SpecTM embeddings", "8_day_ahead"),
         "same protocol, chapter 6"),
        ("best baseline, current week", R2, f"{PAPER['baseline_current']} (Ridge)",
         mc("best baseline (any features)", "current_week"), "nested grid, chapter 6"),
        ("best baseline, 8 days ahead", R2, f"{PAPER['baseline_ahead']} (SVR)", mc("best baseline (any features)", "8_day_ahead"),
         "nested grid, chapter 6"),
        ("weather only (AUX) vs SSL + weather", R2, f"{PAPER['aux_only']} vs {PAPER['ssl_plus_all'].value:.3f}", weather_vs_ssl(), "chapter 6"),
        ("targeted minus random masking, current week", "difference in R²", f"+{PAPER['targeted_minus_random']} R²",
         _difference(ablations["targeted_minus_random"]["current_week"]),
         "same budget, paired by seed, chapter 7"),
        ("targeted minus random masking, 8 days ahead", "difference in R²", "(not reported)",
         _difference(ablations["targeted_minus_random"]["8_day_ahead"]), "chapter 7"),
        ("label efficiency at 5 % of labels, current week", "x fewer labels", str(PAPER["label_efficiency"]),
         ablations["label_efficiency_at_5pct_words"]["current_week"],
         "ridge on each feature set, many subsets, chapter 7"),
    ]  # fmt: skip
    where = source_label(store.source, short=True)
    columns = ["claim", "unit", "paper (Lake Erie, as reported)", f"this book ({where}, {store.profile})", "how"]
    return pd.DataFrame(rows + _trust_rows(trust), columns=columns)


def verdicts(store) -> pd.DataFrame:
    """One row per claim the fair test decides: the paper's effect, the book's paired difference with its
    interval (leave one season out), and the computed verdict (:mod:`spectm.verdicts`)."""
    fair = store.load("fair_test")
    rows = []
    for task, label in (("current", "current week"), ("ahead", "8 days ahead")):
        for row in fair[task]["differences"]:
            if row.get("paper_effect") is None:
                continue
            verdict = judge(row["comparison"], row["paper_effect"], row["difference"], row["low"], row["high"])
            rows.append({"claim": f"{row['comparison']}, {label}", "paper": f"{row['paper_effect']:+.3f} R²",
                         "this book": f"{row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]",
                         "samples": row["samples"], "samples for 80 % power": row["samples_for_80pct"],
                         "verdict": verdict.word})
    frame = pd.DataFrame(rows)
    frame.attrs["rule"] = RULE
    return frame


def verdicts_markdown(store) -> str:
    """The verdict table as a MyST page fragment, for the landing page (written at build time)."""
    frame = verdicts(store)
    where = source_label(store.source)
    header = ["claim", "paper", f"this book ({where})", "verdict"]
    lines = [f"Measured on {where} under the `{store.profile}` profile, seed {store.seed}, when this book was "
             "built ({doc}`details </executed/09_side_by_side>`).", "",
             "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += [f"| {r['claim']} | {r['paper']} | {r['this book']} | **{r['verdict']}** |" for _, r in frame.iterrows()]
    return "\n".join(lines + ["", frame.attrs["rule"], ""])
