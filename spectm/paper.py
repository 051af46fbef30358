"""The paper's numbers, each once, with the section that states it.

Imtiaz, Nasr Azadani and Alamdari (2026), *SpecTM: Spectral Targeted Masking for Trustworthy Foundation
Models*. The paper ships no code and no data, so its numbers are claims to test, not results to reuse:
chapters quote them from here (and only from here) and set the book's own measurements beside them.
Every value below is the paper's, measured on NASA PACE OCI imagery and NOAA GLERL samples of Lake Erie.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """One number the paper reports: what it measures, its value and unit, and where the paper says it."""

    key: str
    what: str
    value: float
    unit: str
    section: str

    def __str__(self) -> str:
        return f"{self.number}{' ' + self.unit if self.unit else ''}"

    @property
    def number(self) -> str:
        """The value as prose writes it: ``0.695``, ``26,208``, ``1e-4``, ``6M``."""
        return _prose_number(self.value)


def _prose_number(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if value == int(value) and abs(value) >= 1000:
        return f"{int(value):,}"
    if 0 < abs(value) < 1e-3:
        mantissa, exponent = f"{value:.0e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:g}"


_CLAIMS = (
    Claim("reconstruction_r", "masked-band reconstruction, SpecTM (pooled r, held-out split)", 0.999, "",
          "IV-A"),
    Claim("spline_r", "masked-band reconstruction, cubic-spline interpolation (pooled r)", 0.96, "", "IV-A"),
    Claim("samples_current", "matched samples, current week (<= 2 km, +-4 days)", 147, "samples", "IV"),
    Claim("samples_ahead", "temporally paired samples, 8 days ahead", 98, "samples", "IV"),
    Claim("matchup_km", "largest sample-to-pixel distance of a match", 2, "km", "IV"),
    Claim("matchup_days", "largest sample-to-image time difference of a match", 4, "days", "IV"),
    Claim("r2_current", "microcystin R^2, current week, SpecTM", 0.695, "", "Abstract, IV-B"),
    Claim("r2_ahead", "microcystin R^2, 8 days ahead, SpecTM", 0.620, "", "Abstract, IV-B"),
    Claim("baseline_current", "best baseline R^2, current week (Ridge)", 0.51, "", "Abstract, IV-B"),
    Claim("baseline_ahead", "best baseline R^2, 8 days ahead (SVR)", 0.31, "", "Abstract, IV-B"),
    Claim("aux_only", "weather (AUX) features only, R^2", 0.624, "", "IV-C"),
    Claim("ssl_plus_all", "SSL embeddings + all features, R^2", 0.640, "", "IV-C"),
    Claim("targeted_minus_random", "targeted minus random masking, R^2", 0.037, "", "Abstract, IV-C"),
    Claim("label_efficiency", "label efficiency at 5 % of labels", 2.2, "x", "Abstract"),
    Claim("baseline_configurations", "baseline configurations searched (7 algorithms x 78 feature sets)",
          26208, "", "IV"),
    Claim("microcystin_min", "smallest matched microcystin", 0.10, "ug/L", "IV"),
    Claim("microcystin_max", "largest matched microcystin", 10.70, "ug/L", "IV"),
    Claim("diagnostic_bands", "diagnostic bands masked (of the model's bands)", 28, "bands", "III-A"),
    Claim("model_bands", "PACE OCI bands the model sees", 122, "bands", "III-A"),
    Claim("encoder_parameters", "encoder parameters (6-layer ViT, width 256)", 6e6, "", "III-C"),
)

#: The pretraining settings the paper reports (the ``paper`` profile of :mod:`spectm.profiles` reads them).
_SETTINGS = (
    Claim("encoder_layers", "encoder depth (ViT blocks)", 6, "layers", "III-C"),
    Claim("encoder_width", "encoder width (token dimension)", 256, "", "III-C"),
    Claim("epochs", "SSL pretraining epochs", 100, "epochs", "III-C"),
    Claim("learning_rate", "AdamW learning rate", 1e-4, "", "III-C"),
    Claim("weight_decay", "AdamW weight decay", 0.01, "", "III-C"),
    Claim("batch_size", "pretraining batch size", 256, "samples", "III-C"),
)

#: The claims by key: ``PAPER["r2_current"].value`` is 0.695.
PAPER: dict[str, Claim] = {claim.key: claim for claim in _CLAIMS + _SETTINGS}

#: The SSL task weights lambda1 (reconstruction), lambda2 (indices), lambda3 (8-day prediction), Section III-C.
LOSS_WEIGHTS = {"reconstruction": 1.0, "indices": 0.5, "temporal": 0.3}


def claim(key: str) -> Claim:
    """The paper's claim ``key``; an unknown key names the known ones."""
    try:
        return PAPER[key]
    except KeyError:
        raise KeyError(f"the paper has no claim {key!r}: known claims are {', '.join(PAPER)}") from None



def glue_claims(*keys: str) -> None:
    """Glue each claim's number as ``paper_<key>`` (and the loss weights as ``paper_lambda_<task>``) in the
    running notebook, so a chapter's prose quotes the paper as ``{glue:text}`paper_r2_current``` and never
    types a number itself. Glued as strings: MyST shows a string's text as it is (``26,208``, ``1.0``)."""
    from myst_nb import glue

    for key in keys:
        glue(f"paper_{key}", claim(key).number, display=False)
    for task, weight in LOSS_WEIGHTS.items():
        glue(f"paper_lambda_{task}", repr(float(weight)), display=False)
