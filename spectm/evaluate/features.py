"""Feature sets for the microcystin baselines, and the factorised table of the paper's 78.

Base groups, each computed from a matchup table (``match_samples(...).table``):

- ``bands_<subset>``: Rrs on the paper122 grid, bands that hold no value in any sample (the 9 OCI gap
  bands) left out. Subsets: ``all`` (every observed band), ``context`` (observed bands outside the
  diagnostic windows), ``diagnostic`` (the 28 bands of the mask D), ``key`` (:data:`KEY_BANDS_NM`).
- ``ratios``: ``Rrs(a) / Rrs(b)`` for every pair a < b of :data:`KEY_BANDS_NM` (66 ratios).
- ``indices``: the bio-optical indices of :func:`spectm.physics.indices.all_indices` (9).
- ``weather``: the 52 gridMET features of :mod:`spectm.data.weather` (the paper's "AUX").
- ``doy``: season as ``sin`` and ``cos`` of the day of year of the sample's local date (2).
- ``embedding``: a frozen encoder's per-sample vectors, passed in by the chapter that makes them.

A feature set's name joins its groups with ``+`` (``"bands_key+indices+weather"``).

**The 78 feature sets** (profile ``paper``, :func:`feature_sets`). The paper states 7 algorithms x 78
feature combinations without listing them; this project's factorisation is

    spectral part: band subset {none, all, context, diagnostic, key} x ratios {no, yes} x indices {no, yes}
    x weather {no, yes}  -> 5 * 2 * 2 * 2 = 40 combinations, less the empty one = 39
    x season (doy) {no, yes}                                                     -> 78

so the AUX-only model is the set ``"weather"`` and every spectral subset is seen with and without weather
and season. Embeddings are not part of the 78 (the baselines have no encoder); the SSL chapter adds them.
The ``quick`` profile keeps 6 sets (:data:`QUICK_FEATURE_SETS`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from spectm.bands import diagnostic_mask
from spectm.data.weather import WEATHER_FEATURES
from spectm.physics.indices import all_indices

#: Twelve bands spanning the spectrum, all on the paper122 grid and observed by OCI: blue (chl-a and
#: CDOM absorption), green (scattering peak), 585 (PC baseline), 620 (phycocyanin), 645, 665 (chl-a),
#: 680 (fluorescence), 710 (red-edge peak), 717.5 (NIR shoulder).
KEY_BANDS_NM = (415.0, 442.5, 490.0, 510.0, 555.0, 585.0, 620.0, 645.0, 665.0, 680.0, 710.0, 717.5)

BAND_SUBSETS = ("all", "context", "diagnostic", "key")

#: Groups a feature-set name may contain (besides ``bands_<subset>``).
OTHER_GROUPS = ("ratios", "indices", "weather", "doy", "embedding")

#: The feature sets of the ``quick`` profile.
QUICK_FEATURE_SETS = ("bands_all", "ratios+indices", "indices", "weather", "bands_key+weather",
                      "ratios+indices+weather")  # fmt: skip


@dataclass(frozen=True)
class FeatureSet:
    """One combination of base groups."""

    bands: str | None = None  # one of BAND_SUBSETS or None
    ratios: bool = False
    indices: bool = False
    weather: bool = False
    doy: bool = False
    embedding: bool = False

    @property
    def name(self) -> str:
        parts = [f"bands_{self.bands}"] if self.bands else []
        parts += [g for g in OTHER_GROUPS if getattr(self, g)]
        return "+".join(parts)

    @property
    def groups(self) -> list[str]:
        return self.name.split("+")


def parse_feature_set(name: str) -> FeatureSet:
    """The :class:`FeatureSet` of a name such as ``"bands_context+ratios+weather"``."""
    kwargs: dict = {}
    for part in name.split("+"):
        if part.startswith("bands_"):
            subset = part[len("bands_") :]
            if subset not in BAND_SUBSETS or "bands" in kwargs:
                raise ValueError(f"feature set {name!r}: bad band part {part!r}; expected one of "
                                 f"{', '.join('bands_' + s for s in BAND_SUBSETS)}, at most once")  # fmt: skip
            kwargs["bands"] = subset
        elif part in OTHER_GROUPS:
            kwargs[part] = True
        else:
            raise ValueError(f"feature set {name!r}: unknown group {part!r}; expected bands_<subset> or one of "
                             f"{', '.join(OTHER_GROUPS)}")  # fmt: skip
    return FeatureSet(**kwargs)


def _paper_feature_sets() -> dict[str, FeatureSet]:
    out = {}
    for doy, weather, bands, ratios, indices in itertools.product(
        (False, True), (False, True), (None,) + BAND_SUBSETS, (False, True), (False, True)
    ):
        if not (bands or ratios or indices or weather):
            continue
        fs = FeatureSet(bands=bands, ratios=ratios, indices=indices, weather=weather, doy=doy)
        out[fs.name] = fs
    return out


#: name -> FeatureSet, the paper profile's 78 combinations.
FEATURE_SETS: dict[str, FeatureSet] = _paper_feature_sets()


def feature_sets(profile: str = "quick") -> dict[str, FeatureSet]:
    """The feature sets of a profile: ``paper`` -> all 78, ``quick`` -> :data:`QUICK_FEATURE_SETS`."""
    if profile == "paper":
        return dict(FEATURE_SETS)
    if profile in ("quick", "study"):  # study: quick's grid, a larger fair test
        return {name: parse_feature_set(name) for name in QUICK_FEATURE_SETS}
    raise ValueError(f"unknown profile {profile!r}: expected 'quick', 'study' or 'paper'")


# --------------------------------------------------------------------------------------------------
# base groups


def _rrs(table: xr.Dataset) -> xr.DataArray:
    if "Rrs" not in table or "wavelength" not in table["Rrs"].dims:
        raise ValueError("matchup table lacks Rrs(sample, wavelength) (expected match_samples(...).table)")
    return table["Rrs"].transpose("sample", "wavelength")


def band_features(table: xr.Dataset, subset: str = "all") -> pd.DataFrame:
    """Rrs of the observed bands of ``subset`` (columns ``Rrs_<nm>``)."""
    rrs = _rrs(table)
    wl = rrs["wavelength"].values
    observed = ~np.all(np.isnan(rrs.values), axis=0)
    if subset == "all":
        chosen = observed
    elif subset == "context":
        chosen = observed & ~diagnostic_mask(wl).values
    elif subset == "diagnostic":
        chosen = observed & diagnostic_mask(wl).values
    elif subset == "key":
        chosen = np.isin(np.round(wl, 3), np.round(KEY_BANDS_NM, 3)) & observed
        missing = set(np.round(KEY_BANDS_NM, 3)) - set(np.round(wl[chosen], 3))
        if missing:
            raise ValueError(f"matchup Rrs lacks key bands {sorted(missing)} nm (expected the paper122 grid)")
    else:
        raise ValueError(f"band subset {subset!r}: expected one of {', '.join(BAND_SUBSETS)}")
    values = rrs.values[:, chosen].astype(np.float64)
    return pd.DataFrame(values, columns=[f"Rrs_{w:g}" for w in wl[chosen]])


def ratio_features(table: xr.Dataset) -> pd.DataFrame:
    """``Rrs(a)/Rrs(b)`` for all pairs a < b of :data:`KEY_BANDS_NM` (66 columns ``ratio_<a>_<b>``)."""
    key = band_features(table, "key").to_numpy()
    a, b = np.triu_indices(len(KEY_BANDS_NM), k=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = key[:, a] / key[:, b]
    ratios[~np.isfinite(ratios)] = np.nan
    names = [f"ratio_{KEY_BANDS_NM[i]:g}_{KEY_BANDS_NM[j]:g}" for i, j in zip(a, b)]
    return pd.DataFrame(ratios, columns=names)


def index_features(table: xr.Dataset) -> pd.DataFrame:
    """The bio-optical indices of :func:`~spectm.physics.indices.all_indices` (columns = index names)."""
    indices = all_indices(_rrs(table))
    return pd.DataFrame({name: indices[name].values.astype(np.float64) for name in indices.data_vars})


def weather_columns(table: xr.Dataset, weather: pd.DataFrame | None = None) -> pd.DataFrame:
    """The 52 weather features, from ``weather`` (rows = samples) or from variables of the table."""
    names = list(WEATHER_FEATURES)
    if weather is None:
        missing = [n for n in names if n not in table]
        if missing:
            raise ValueError(f"matchup table lacks weather features {missing[:3]}...; pass weather= "
                             "(weather_features(...) of the samples) or attach_weather() first")  # fmt: skip
        return pd.DataFrame({n: np.asarray(table[n].values, np.float64) for n in names})
    missing = [n for n in names if n not in weather.columns]
    if missing or len(weather) != table.sizes["sample"]:
        raise ValueError(f"weather frame: expected the 52 WEATHER_FEATURES columns and {table.sizes['sample']} rows, "
                         f"got {len(weather)} rows, missing {missing[:3]}")  # fmt: skip
    return weather[names].reset_index(drop=True).astype(np.float64)


def attach_weather(table: xr.Dataset, weather: pd.DataFrame) -> xr.Dataset:
    """A copy of ``table`` with the 52 weather features as ``sample`` variables."""
    frame = weather_columns(table, weather)
    return table.assign({name: ("sample", frame[name].to_numpy(), {"long_name": WEATHER_FEATURES[name]})
                         for name in frame.columns})  # fmt: skip


def season_features(table: xr.Dataset) -> pd.DataFrame:
    """``doy_sin``, ``doy_cos`` of the local sample date (365.25-day cycle)."""
    dates = table["date"].values if "date" in table else table["time"].values
    doy = pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[ns]")).day_of_year.to_numpy(np.float64)
    angle = 2.0 * np.pi * (doy - 1.0) / 365.25
    return pd.DataFrame({"doy_sin": np.sin(angle), "doy_cos": np.cos(angle)})


def feature_matrix(table: xr.Dataset, feature_set: str | FeatureSet, weather: pd.DataFrame | None = None,
                   embedding=None) -> pd.DataFrame:  # fmt: skip
    """The samples x features frame of one feature set (columns named, in group order)."""
    fs = parse_feature_set(feature_set) if isinstance(feature_set, str) else feature_set
    parts = []
    if fs.bands:
        parts.append(band_features(table, fs.bands))
    if fs.ratios:
        parts.append(ratio_features(table))
    if fs.indices:
        parts.append(index_features(table))
    if fs.weather:
        parts.append(weather_columns(table, weather))
    if fs.doy:
        parts.append(season_features(table))
    if fs.embedding:
        if embedding is None:
            raise ValueError(f"feature set {fs.name!r} needs embedding= (array of shape (sample, dim))")
        embedding = np.asarray(embedding, np.float64)
        if embedding.ndim != 2 or embedding.shape[0] != table.sizes["sample"]:
            raise ValueError(f"embedding shape {embedding.shape}: expected ({table.sizes['sample']}, dim)")
        parts.append(pd.DataFrame(embedding, columns=[f"emb_{i}" for i in range(embedding.shape[1])]))
    if not parts:
        raise ValueError("empty feature set")
    return pd.concat(parts, axis=1)


def feature_set_table(profile: str = "paper") -> pd.DataFrame:
    """The feature sets of a profile as a table (one row each, a column per factor) for the book."""
    rows = [{"feature_set": name, "bands": fs.bands or "-", "ratios": fs.ratios, "indices": fs.indices,
             "weather": fs.weather, "doy": fs.doy} for name, fs in feature_sets(profile).items()]  # fmt: skip
    return pd.DataFrame(rows)
