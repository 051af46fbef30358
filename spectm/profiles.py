"""Named parameter sets shared by the CLI, the notebooks (papermill ``-p profile``) and the benchmarks.

Plain values, nanoGPT style: a profile is a dict of scalars, nothing is computed from it here.

- ``quick``: CPU, minutes; what CI and ``make book`` run on the small twin.
- ``paper``: the paper's settings (6-layer ViT, width 256, AdamW lr 1e-4, weight decay 0.01, batch 256,
  100 epochs, loss weights 1.0 / 0.5 / 0.3); meant for a GPU and for real data.
"""

from __future__ import annotations

PAPER_SETTINGS_SOURCE = "Imtiaz, Nasr Azadani & Alamdari (2026), SpecTM, Sections III-C and IV"

PROFILES: dict[str, dict] = {
    "quick": {
        "device": "cpu",
        "twin_size": "quick",
        "seed": 0,
        "batch_size": 256,
        "epochs": 4,
        "learning_rate": 3e-3,
        "precision": "fp32",  # the quick model is too narrow (width 64) for bf16 to pay on a CPU: measured slower
        "weight_decay": 0.01,
        "loss_weights": (1.0, 0.5, 0.3),
        "ablation_seeds": 2,  # pretraining seeds per ablation run (2 keeps CI within 20 min; the fair test is primary)
        "ablation_epochs": 1,  # a shorter budget than the main run, the same for every ablation
        "ablation_fraction": 0.5,  # share of the training pixels the ablation runs see
        "label_draws": 30,  # random label subsets per fraction
        "fair_seasons": (2024, 2025),  # leave-one-season-out: each season held out in turn
        "fair_seeds": 1,  # pretraining seeds per arm of the fair test
        "fair_epochs": 1,  # the fair test's matched pretraining budget
    },
    "paper": {
        "device": "cuda",
        "twin_size": "season",
        "seed": 0,
        "batch_size": 256,
        "epochs": 100,
        "learning_rate": 1e-4,
        "precision": "auto",  # bf16 on GPUs and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32
        "weight_decay": 0.01,
        "loss_weights": (1.0, 0.5, 0.3),
        "ablation_seeds": 3,
        "ablation_epochs": 100,
        "ablation_fraction": 1.0,
        "label_draws": 200,
        "fair_seasons": (2024, 2025),
        "fair_seeds": 5,
        "fair_epochs": 100,
    },
}

#: ``study``: quick's model and chapters, with a fair test sized to resolve (or say why not) the masking effect on
#: this 2-core machine in at most 2 hours of ``make book`` (measured timings in README.md).
PROFILES["study"] = {
    **PROFILES["quick"],
    "fair_seasons": (2020, 2021, 2022, 2023, 2024, 2025),  # six held-out seasons: six times one season's samples
    "fair_seeds": 5,  # pretraining seeds per arm
    "fair_epochs": 2,
    "fair_pixels": 10_000,  # training pixels per fair run, the same for every arm, seed and held-out season
}


def get_profile(name: str) -> dict:
    """A copy of the named profile; an unknown name is an error that lists the known ones."""
    try:
        return dict(PROFILES[name])
    except KeyError:
        raise ValueError(f"unknown profile {name!r}: expected one of {', '.join(PROFILES)}") from None
