"""Named parameter sets shared by the CLI, the notebooks (papermill ``-p profile``) and the benchmarks.

The one table of profiles, nanoGPT style: a profile is one dict of plain values in sections, and every
stage reads its own section through one function (``tests/test_profiles.py`` checks that every key is read):

- ``twin``: the Lake Erie twin's size, :func:`spectm.twin.config.get_size`;
- ``model``: the :class:`spectm.model.ModelConfig` sizes, :func:`spectm.model.model_config`;
- ``training``: what a profile sets in the pretraining loop; :func:`spectm.train.resolve_config` merges it
  over the loop's :data:`spectm.train.DEFAULTS` and under the caller's overrides (the one merge function);
- ``ablation``: chapter 7's budget, :func:`spectm.evaluate.ablations.ablation_budget`;
- ``baselines``: the algorithms with their hyper-parameter grids and the protocol's sizes,
  :func:`spectm.evaluate.baselines.protocol_settings`;
- ``features``: the baselines' feature sets, :func:`spectm.evaluate.features.feature_sets`;
- ``fair``: the fair test's budget, :func:`spectm.fair_test.fair_budget`.

Profiles:

- ``quick``: CPU, minutes; what CI and ``make book`` run on the small twin.
- ``paper``: the paper's settings, read from :mod:`spectm.paper` (encoder depth and width, AdamW learning
  rate and weight decay, batch, epochs, loss weights); meant for a GPU and for real data.
- ``study``: ``quick`` with a fair test sized to resolve the masking effect (below).
- ``smoke``: ``quick`` with a fraction of its work, for CI's run of every chapter on the real path: it checks
  that every code path runs; its numbers mean nothing.

A new profile is an old one with a few values changed, written at module level below the others::

    PROFILES["study"] = derive(PROFILES["quick"], fair={"seeds": 5, "epochs": 20})

:func:`derive` copies the base and updates the named sections key by key; a section or key the base lacks
is an error, so a typo never adds a value nobody reads.
"""

from __future__ import annotations

import copy

import numpy as np

from spectm.paper import LOSS_WEIGHTS, PAPER


def _logspace(lo: float, hi: float, n: int) -> list[float]:
    return [float(v) for v in np.logspace(lo, hi, n)]


#: Per algorithm of :data:`spectm.evaluate.baselines.ALGORITHMS`: 24 hyper-parameter settings each, so that
#: algorithms x feature sets x 2 tasks x 24 gives the paper's count of configurations (a test checks it).
_PAPER_GRIDS = {
    "ridge": {"alpha": _logspace(-3, 4, 24)},
    "lasso": {"alpha": _logspace(-4, 1, 24)},
    "elasticnet": {"alpha": _logspace(-4, 1, 6), "l1_ratio": [0.1, 0.5, 0.7, 0.9]},
    "svr": {"C": [0.1, 1.0, 10.0, 100.0], "gamma": ["scale", 0.01, 0.001], "epsilon": [0.05, 0.2]},
    "random_forest": {"max_depth": [None, 4, 8, 16], "max_features": [1.0, "sqrt", 0.33], "min_samples_leaf": [1, 5]},
    "gradient_boosting": {"learning_rate": [0.03, 0.1], "max_depth": [2, 3, 4], "n_estimators": [100, 300],
                          "subsample": [0.7, 1.0]},
    "knn": {"n_neighbors": [3, 5, 7, 9, 11, 15], "weights": ["uniform", "distance"], "p": [1, 2]},
}  # fmt: skip

PROFILES: dict[str, dict] = {
    "quick": {
        "twin": {"name": "quick", "pixel_km": 3.6},  # CI: the May-October season at 3.6 km pixels
        "model": {  # ~0.1M parameters: CPU minutes
            "n_layers": 2, "width": 64, "n_heads": 4, "mlp_ratio": 4.0, "dropout": 0.0,
            "n_wavelength_frequencies": 16, "decoder_width": 64, "decoder_depth": 1, "decoder_heads": 4,
            "encoder_sees_mask_tokens": False,
        },
        "training": {  # the rest of the loop's values: spectm.train.DEFAULTS
            "batch_size": 256,  # per process
            "epochs": 4,
            "learning_rate": 3e-3,
            # "auto" (bf16 where the device computes it natively, else fp32), "bf16" or "fp32"; the quick model
            # is too narrow (width 64) for bf16 to pay on a CPU: measured slower
            "precision": "fp32",
            "weight_decay": 0.01,  # on matrices only; biases, norms and tokens are not decayed
            "loss_weights": (1.0, 0.5, 0.3),  # reconstruction, indices, temporal
        },
        "ablation": {
            "seeds": 2,  # pretraining seeds per ablation run (2 keeps CI within 20 min; the fair test is primary)
            "epochs": 1,  # a shorter budget than the main run, the same for every ablation
            "fraction": 0.25,  # share of the training pixels the ablation runs see (CI's 20-minute budget)
            "label_draws": 30,  # random label subsets per fraction
        },
        "baselines": {  # 4 algorithms (linear, kernel, tree ensemble, neighbours), 2-3 settings each
            "grids": {
                "ridge": {"alpha": [1.0, 10.0, 100.0]},
                "svr": {"C": [1.0, 10.0], "gamma": ["scale"], "epsilon": [0.1]},
                "random_forest": {"n_estimators": [25], "max_depth": [4, None], "max_features": [0.33],
                                  "min_samples_leaf": [2]},
                "knn": {"n_neighbors": [5, 10], "weights": ["distance"]},
            },
            "n_splits": 5, "n_repeats": 2, "inner_splits": 3, "n_boot": 500,  # outer CV, inner search, bootstrap
        },
        "features": {"sets": ("bands_all", "ratios+indices", "indices", "weather", "bands_key+weather",
                              "ratios+indices+weather")},
        "fair": {
            "seasons": (2024, 2025),  # leave-one-season-out: each season held out in turn
            "seeds": 1,  # pretraining seeds per arm of the fair test
            "epochs": 1,  # the fair test's matched pretraining budget
            "pixels": 8_000,  # training pixels per run (None: every pixel of the training seasons' date split)
        },
        "book": {"cell_timeout_s": 1800},  # a cell running longer stops the build, naming the cell (a hang in CI)
    },
    "paper": {
        "twin": {"name": "season", "pixel_km": 1.2},  # the May-October season at 1.2 km pixels, one overpass a day
        "model": {  # ~6M parameters; heads, frequencies and the light decoder (2 x 192) are this project's
            "n_layers": int(PAPER["encoder_layers"].value), "width": int(PAPER["encoder_width"].value),
            "n_heads": 8, "mlp_ratio": 4.0, "dropout": 0.0, "n_wavelength_frequencies": 32,
            "decoder_width": 192, "decoder_depth": 2, "decoder_heads": 6, "encoder_sees_mask_tokens": False,
        },
        "training": {
            "batch_size": int(PAPER["batch_size"].value),
            "epochs": int(PAPER["epochs"].value),
            "learning_rate": PAPER["learning_rate"].value,
            "precision": "auto",  # bf16 on GPUs and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32
            "weight_decay": PAPER["weight_decay"].value,
            "loss_weights": tuple(LOSS_WEIGHTS.values()),
        },
        "ablation": {"seeds": 3, "epochs": 100, "fraction": 1.0, "label_draws": 200},
        "baselines": {"grids": _PAPER_GRIDS, "n_splits": 5, "n_repeats": 10, "inner_splits": 4, "n_boot": 2000},
        "features": {"sets": "all"},  # every one of the 78 of spectm.evaluate.features.FEATURE_SETS
        "fair": {"seasons": (2024, 2025), "seeds": 5, "epochs": 100, "pixels": None},
        "book": {"cell_timeout_s": None},  # days of pretraining in one cell on a GPU: no cell limit
    },
}  # fmt: skip


def derive(base: dict, **sections: dict) -> dict:
    """A copy of profile ``base`` with the given sections' keys replaced; an unknown section or key is an
    error."""
    profile = copy.deepcopy(base)
    for name, values in sections.items():
        if name not in profile:
            raise ValueError(f"a profile has no section {name!r}: expected one of {', '.join(profile)}")
        unknown = sorted(set(values) - set(profile[name]))
        if unknown:
            raise ValueError(f"profile section {name!r} has no keys {unknown}: "
                             f"expected some of {sorted(profile[name])}")
        profile[name].update(copy.deepcopy(values))
    return profile

#: ``study``: quick's model and chapters, with a fair test sized to resolve (or say why not) the masking effect
#: on this 2-core machine in at most 2 hours of ``make book``: six held-out seasons (six times one season's
#: samples), five pretraining seeds per arm, and a pixel budget per run that is the same for every arm, seed and
#: held-out season, so a run's cost stays that of one season while the held-out samples grow.
PROFILES["study"] = derive(PROFILES["quick"], fair={"seasons": (2020, 2021, 2022, 2023, 2024, 2025), "seeds": 5,
                                                    "epochs": 2, "pixels": 10_000},
                           book={"cell_timeout_s": 3 * 3600})  # chapter 6's fair-test cell trains 60 runs

#: ``smoke``: quick's model, data and code paths with a fraction of the work, for CI's run of every chapter on
#: the real path (``tests/test_book_real.py``); it checks that every code path runs, its numbers mean nothing.
#: Two ablation seeds stay (chapter 7's paired differences need two). The baselines stay quick's: the
#: best one feeds chapter 8, and a smaller grid chose one (random forest on band ratios) whose key bands
#: chapter 8's wavelength-shift curve pushes off the grid, a failure quick does not meet.
PROFILES["smoke"] = derive(PROFILES["quick"], training={"epochs": 1}, ablation={"fraction": 0.1, "label_draws": 5},
                           fair={"pixels": 2_000})


def get_profile(name: str) -> dict:
    """A deep copy of the named profile; an unknown name is an error that lists the known ones."""
    try:
        return copy.deepcopy(PROFILES[name])
    except KeyError:
        raise ValueError(f"unknown profile {name!r}: expected one of {', '.join(PROFILES)}") from None
