"""The fair test of the paper's claims: SpecTM against its controls, leave one season out first.

The question: do embeddings of an encoder pretrained with targeted masking predict microcystin better
than (a) what simpler knowledge already predicts (the season, the previous visit, pigment indices, a PCA
of the spectrum, the lab's own bucket), (b) the same encoder untrained, and (c) the same encoder
pretrained with random masking at the same budget? And is the sample size large enough to tell?

Design, in the order the chapters report it:

1. **Leave one season out** (primary). For each held-out season, every encoder is pretrained on the
   imagery of the *other* seasons only (no test-period image, so neither the reconstruction nor the
   8-day head ever sees it) and the downstream model is fitted on the other seasons' samples.
2. **Week-grouped CV within a season** (secondary), as in the paper: one encoder pretrained on the
   season's imagery, downstream folds by sampling week.
3. **Arms**: ``targeted`` and ``random`` masking at the same budget, ``seeds`` pretraining seeds each;
   embeddings with every band visible and with the diagnostic bands masked as in pretraining; an
   untrained encoder of the same shape. All reduced by a PCA fitted inside each training fold.
4. **Paired differences**: targeted minus random, paired by seed and by fold (the same folds and the same
   week draws for both arms), with a week-bootstrap interval; the same draws feed the power curve.

Everything returned carries the profile, source and seeds it was made with; :mod:`spectm.verdicts`
turns the differences into words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from spectm import experiments
from spectm.embeddings import frozen_embeddings, untrained_model
from spectm.evaluate import censored, controls, power, protocol
from spectm.profiles import get_profile
from spectm.train import load_pretrained, resolve_config

#: Masking families compared at a matched budget.
ARMS = ("targeted", "random")

#: Principal components kept from embeddings inside each fold.
EMBEDDING_COMPONENTS = controls.MAX_COMPONENTS


def fair_budget(profile: str) -> dict:
    """Pretraining seeds, seasons, epochs and pixel budget of the fair test under ``profile``.

    ``pixels`` (the ``fair`` section's, None for all) caps the training pixels of each run, drawn from every
    training season alike: with many seasons, the cost of a run then stays that of one season while the
    held-out samples, which set the power, grow with the seasons.
    """
    fair = get_profile(profile)["fair"]
    pixels = fair["pixels"]
    return {"seeds": int(fair["seeds"]), "epochs": int(fair["epochs"]), "seasons": tuple(fair["seasons"]),
            "pixels": None if pixels is None else int(pixels)}


def season_data(profile: str, seed: int, source: str, seasons) -> dict[int, dict]:
    """:func:`spectm.experiments.lake_erie_data` of each season."""
    return {int(s): experiments.lake_erie_data(profile, seed=seed, year=int(s), source=source) for s in seasons}


def _concat_seasons(tables: list[xr.Dataset], dim: str) -> xr.Dataset:
    return tables[0] if len(tables) == 1 else xr.concat(tables, dim=dim, data_vars="minimal", coords="minimal",
                                                        compat="override", join="override")


def pretrain_without(data: dict[int, dict], held_out: int, profile: str, arm: str, seed: int, epochs: int,
                     max_pixels: int | None = None):  # fmt: skip
    """The run of ``arm`` pretrained on the imagery of every season but ``held_out``.

    ``max_pixels`` keeps that many training pixels of the date split, drawn at random with a fixed seed, so
    every arm and every pretraining seed of one held-out season sees the same pixels; the validation loss
    is then measured on a fixed draw of :data:`VALIDATION_SHARE` times as many validation pixels.
    """
    pixels = _concat_seasons([d["pixels"] for s, d in sorted(data.items()) if s != held_out], "pixel")
    config = resolve_config(profile=profile, masking=arm, seed=seed, epochs=epochs, progress=False)
    if max_pixels is None:
        return experiments.pretrain(pixels, config)
    train, validation, _, _ = experiments.pretraining_data(pixels, seed=0)
    if max_pixels >= len(train):
        return experiments.pretrain(pixels, config)
    validation = validation_for_budget(validation, max_pixels)
    return experiments.pretrain(pixels, config, train.subset(_fixed_draw(len(train), max_pixels, 0)), validation,
                                data_tag=f"fair-pixels{max_pixels}-validation{len(validation)}")


def validation_for_budget(validation, n_train: int):
    """A fixed draw of :data:`VALIDATION_SHARE` x ``n_train`` pixels of ``validation`` (all when fewer): the
    validation set of a run trained on ``n_train`` pixels, the same rows for every arm and seed."""
    size = max(1, int(VALIDATION_SHARE * n_train))
    return validation.subset(_fixed_draw(len(validation), size, 1))


#: Validation pixels of a run under a pixel budget, as a share of that budget. The validation loss is a
#: diagnostic no chapter reads and never changes the trained weights; over every held-out date it cost a
#: fifth of each fair-test run (CI's time budget), and a fixed draw of this size measures it as well.
VALIDATION_SHARE = 0.25


def _fixed_draw(n: int, size: int, stream: int) -> np.ndarray:
    """``size`` of ``range(n)`` (all when fewer), sorted, drawn with the fixed seed ``stream``: the same rows
    for every arm and seed."""
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(stream).choice(n, size=int(size), replace=False))


def encoder_features(data: dict[int, dict], task: str, profile: str, seeds, epochs: int, arms=ARMS,
                     max_pixels: int | None = None) -> dict[str, dict[int, np.ndarray]]:  # fmt: skip
    """``{name: {held-out season: embeddings of every sample of every season}}`` for every encoder arm.

    Names: ``"<arm> seed <k>"`` (every band visible), ``"<arm> masked seed <k>"`` (diagnostic bands
    masked as in pretraining; targeted only, where it differs) and ``"untrained seed <k>"``.
    """
    rrs = np.concatenate([d[task]["Rrs"].values for _, d in sorted(data.items())])
    out: dict[str, dict[int, np.ndarray]] = {}
    for held_out in sorted(data):
        for k in seeds:
            for arm in arms:
                model = load_pretrained(pretrain_without(data, held_out, profile, arm, k, epochs, max_pixels))
                out.setdefault(f"{arm} seed {k}", {})[held_out] = frozen_embeddings(model, rrs)
                if arm == "targeted":
                    out.setdefault(f"{arm} masked seed {k}", {})[held_out] = frozen_embeddings(model, rrs, masked=True)
                    out.setdefault(f"untrained seed {k}", {})[held_out] = frozen_embeddings(
                        untrained_model(model, seed=k), rrs)
    return out


def task_table(data: dict[int, dict], task: str) -> tuple[xr.Dataset, pd.DataFrame]:
    """The matched samples of every season as one table, and every season's GLERL samples."""
    table = _concat_seasons([d[task] for _, d in sorted(data.items())], "sample")
    samples = pd.concat([d["samples"] for _, d in sorted(data.items())], ignore_index=True)
    return table, samples


def neighbourhood_controls(data: dict[int, dict], task: str) -> pd.DataFrame:
    """``indices_3x3`` of every season's matched samples (each against its own season's pixel table)."""
    return pd.concat([controls.neighbourhood_index_features(d[task], d["pixels"]) for _, d in sorted(data.items())],
                     ignore_index=True)


def leave_one_season_out(data: dict[int, dict], task: str, profile: str, seeds, epochs: int,
                         n_boot: int = 1000, seed: int = 0,
                         max_pixels: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Every control and every encoder arm scored leave-one-season-out on the same held-out seasons.

    Besides R^2 (ridge), each row carries the views that do not lean on substituting non-detects
    (:func:`other_views`): R^2 on detected samples, AUROC at the advisory thresholds, and R^2 of a Tobit
    model fitted on the same folds.
    """
    table, samples = task_table(data, task)
    lead = 0 if task == "current" else 8
    features: dict = dict(controls.control_features(table, samples, lead))
    features["indices_3x3"] = neighbourhood_controls(data, task)
    encoders = encoder_features(data, task, profile, seeds, epochs, max_pixels=max_pixels)
    features.update(encoders)
    reduce = {**controls.REDUCED, **{name: EMBEDDING_COMPONENTS for name in encoders}}
    with one_blas_thread():
        scores = controls.score_across_seasons(table, features, reduce=reduce, n_boot=n_boot, seed=seed)
        tobit = controls.score_across_seasons(table, features, reduce=reduce, n_boot=10, seed=seed,
                                              censored_at=float(np.log10(DETECTION_LIMIT_UG_L)))
    views = other_views(scores).merge(tobit[["features", "r2"]].rename(columns={"r2": "r2_tobit"}), on="features")
    merged = scores.merge(views, on="features")
    merged.attrs.update(scores.attrs)
    return merged


def masking_families(data: dict[int, dict], task: str, profile: str, seeds, epochs: int, families,
                     n_boot: int = 1000, seed: int = 0,
                     max_pixels: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Every masking family's embeddings scored leave-one-season-out, on the fair test's folds and protocol.

    Runs of ``targeted`` and ``random`` are the fair test's own (the same configuration, so they are reused
    from the run cache); each other family is pretrained the same way, without the held-out season.
    """
    table, _ = task_table(data, task)
    encoders = encoder_features(data, task, profile, seeds, epochs, arms=tuple(families),
                                max_pixels=max_pixels)
    visible = {name: value for name, value in encoders.items() if "masked" not in name and "untrained" not in name}
    with one_blas_thread():
        return controls.score_across_seasons(table, visible, reduce=dict.fromkeys(visible, EMBEDDING_COMPONENTS),
                                             n_boot=n_boot, seed=seed)


def one_blas_thread():
    """A context with one BLAS thread: the downstream fits are of a few hundred samples, where a second
    thread only waits (and spins against the torch threads of the same kernel); measured 20x less CPU for
    the alpha search on a shared 2-core machine. threadpoolctl comes with scikit-learn."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def family_differences(scores: pd.DataFrame, seeds, families, reference: str = "targeted", n_boot: int = 2000,
                       seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """``reference`` minus each other family, paired by seed, fold and week (:func:`week_paired_difference`),
    with the paper's masking effect as the effect of the power curve."""
    from spectm.paper import PAPER

    rows = []
    for family in families:
        if family == reference:
            continue
        effect = PAPER["targeted_minus_random"].value
        result = week_paired_difference(scores, seeded(reference, seeds), seeded(family, seeds), effect,
                                        n_boot=n_boot, seed=seed)
        result.pop("power_curve")
        rows.append({"comparison": f"{reference} - {family}", **result})
    return pd.DataFrame(rows)


#: GLERL's reporting limit for particulate microcystin (ug/L): non-detects carry it.
DETECTION_LIMIT_UG_L = 0.1


def other_views(scores: pd.DataFrame) -> pd.DataFrame:
    """Per feature set, from its out-of-fold predictions: R^2 on detected samples only and AUROC for
    exceeding each advisory threshold (:data:`~spectm.evaluate.censored.ADVISORY_THRESHOLDS_UG_L`)."""
    y, censored_flags = scores.attrs["y"], scores.attrs["censored"]
    rows = []
    for name, oof in scores.attrs["oof"].items():
        row = {"features": name, "r2_detected": censored.r2_detected(y, oof, censored_flags)}
        for threshold in censored.ADVISORY_THRESHOLDS_UG_L:
            row[f"auroc_{threshold:g}ug"] = censored.exceedance_auroc(y, oof, threshold)
        rows.append(row)
    return pd.DataFrame(rows)


def seeded(prefix: str, seeds) -> list[str]:
    """The names ``"<prefix> seed <k>"`` of an encoder arm's seeds."""
    return [f"{prefix} seed {k}" for k in seeds]


def week_paired_difference(scores: pd.DataFrame, treatment: list[str], reference: list[str], effect: float,
                      level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict:  # fmt: skip
    """Mean R^2 of the ``treatment`` rows minus mean R^2 of the ``reference`` rows, paired by fold and week.

    Rows are names of ``scores`` (e.g. :func:`seeded` arms, or one control). Every row was scored on the
    same folds, and each bootstrap draw resamples the same weeks for both sides, so the interval is that
    of the paired difference. ``samples_for_80pct`` is where the power curve for ``effect`` (the paper's
    claim) crosses 80 % with this difference's own noise.
    """
    oof, y, groups = scores.attrs["oof"], scores.attrs["y"], scores.attrs["groups"]
    a, b = (np.vstack([oof[name] for name in names]) for names in (treatment, reference))
    n_weeks = int(np.unique(groups).size)
    draws = power.simulated_differences(y, a, b, groups, n_weeks, n_boot, seed)
    r2 = lambda rows: float(np.mean([protocol.scores(y, p)["r2"] for p in rows]))  # noqa: E731
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    curve = power.power_curve(y, a, b, groups, effect=effect, level=level, n_draws=n_boot, seed=seed)
    return {"treatment": ", ".join(treatment), "reference": ", ".join(reference), "difference": r2(a) - r2(b),
            "low": float(low), "high": float(high), "samples": int(y.size), "weeks": n_weeks,
            "samples_for_80pct": power.samples_for_power(curve), "power_curve": curve}


#: Controls that stand in for "a baseline" (the bucket is an upper reference, not a baseline).
BASELINE_CONTROLS = ("climatology", "persistence", "indices", "indices_3x3", "log_rrs_pca")


def comparisons(scores: pd.DataFrame, seeds, task: str, n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """The paired differences the chapters report, each with the paper's effect where it states one.

    ``task`` is ``"current"`` or ``"ahead"``. The best baseline control is chosen by its own R^2 on these
    folds, which flatters the control, not SpecTM.
    """
    from spectm.paper import PAPER

    names = set(scores["features"])
    controls_here = [c for c in BASELINE_CONTROLS if c in names]
    best = scores[scores["features"].isin(controls_here)].sort_values("r2").iloc[-1]["features"]
    spectm_r2 = PAPER["r2_current" if task == "current" else "r2_ahead"].value
    baseline_r2 = PAPER["baseline_current" if task == "current" else "baseline_ahead"].value
    targeted = seeded("targeted", seeds)
    plan = [("targeted - random masking", targeted, seeded("random", seeds),
             PAPER["targeted_minus_random"].value if task == "current" else None),
            (f"targeted - best baseline ({best})", targeted, [best], spectm_r2 - baseline_r2),
            ("targeted - untrained encoder", targeted, seeded("untrained", seeds), None),
            ("targeted - persistence", targeted, ["persistence"], None),
            ("targeted, diagnostic bands masked - every band visible", seeded("targeted masked", seeds), targeted,
             None)]  # fmt: skip
    rows = []
    for name, treatment, reference, effect in plan:
        result = week_paired_difference(scores, treatment, reference,
                                        effect if effect else PAPER["targeted_minus_random"].value, n_boot=n_boot,
                                        seed=seed)
        rows.append({"comparison": name, "paper_effect": effect, **result})
    return rows


def result_record(scores: dict[str, pd.DataFrame], differences: dict[str, list[dict]], budget: dict) -> dict:
    """What the microcystin chapter saves as ``fair_test`` (plain values), per task."""
    def plain(row):
        return {**{k: v for k, v in row.items() if k != "power_curve"},
                "power_curve": row["power_curve"].to_dict("records")}

    return {task: {"scores": frame.drop(columns=["rmse", "mae"], errors="ignore").to_dict("records"),
                   "differences": [plain(row) for row in differences[task]],
                   "budget": {**budget, "seasons": list(budget["seasons"])}}
            for task, frame in scores.items()}


#: The columns of :func:`score_table`: R^2 with its interval and the views that do not lean on substitutes.
SCORE_COLUMNS = ("r2", "r2_low", "r2_high", "r2_detected", "auroc_1ug", "auroc_6ug", "r2_tobit")


def score_table(scores: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every task's scores in one table indexed by (task, features).

    The frames' ``attrs`` (out-of-fold arrays of different lengths per task) are left behind: pandas
    compares ``attrs`` when it concatenates, and arrays of different shapes cannot be compared.
    """
    parts = {}
    for task, frame in scores.items():
        part = frame.set_index("features")[[c for c in SCORE_COLUMNS if c in frame.columns]].copy()
        part.attrs = {}
        parts["current week" if task == "current" else "8 days ahead" if task == "ahead" else task] = part
    return pd.concat(parts, names=["task", "features"])
