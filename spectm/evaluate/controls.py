"""The controls a fair test of SpecTM needs: what simpler knowledge already predicts microcystin.

A frozen encoder's R^2 means little alone. Measured on real GLERL samples without any satellite, the
previous visit at the station already explains ~0.55 of the variance of log microcystin and the day of
year ~0.4; a reviewer's first questions are whether embeddings beat those, and an encoder of the same
shape that never trained. Each control here is a feature matrix (rows = samples of a matchup table, in
its order) fed to the same downstream model on the same folds as the embeddings
(:func:`score_controls`), so every difference is paired:

- ``climatology``: day of year (``doy_sin``, ``doy_cos``);
- ``persistence``: log10 microcystin of the previous GLERL visit at the station (current week: the last
  visit before the sample's date; 8 days ahead: the last visit on or before the image date), with the
  days since it; a sample with no earlier visit gets the training mean and a missing-value indicator;
- ``indices``: CI, PC line height, Simis PC and NDCI of the matched pixel; ``indices_3x3`` their median
  and interquartile range over the 3 x 3 pixels around it (same granule);
- ``log_rrs_pca``: log10 Rrs of every observed band, reduced by a PCA fitted inside each training fold;
- ``bucket``: the sample's own lab chlorophyll-a and phycocyanin, an upper reference ("what a bucket
  knows"): no satellite method can know the water better than a sample of it.

Embedding controls (an untrained encoder, random masking) come from :mod:`spectm.experiments`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from spectm.data.glerl import utc_to_local
from spectm.evaluate import protocol
from spectm.evaluate.ablations import ClippedToTrainingRange
from spectm.evaluate.censored import TobitRegressor
from spectm.evaluate.features import band_features, index_features, season_features

#: The four indices a limnologist would try first (names of :func:`spectm.physics.indices.all_indices`).
CONTROL_INDICES = ("ci", "pc_baseline_depth", "simis_pc", "ndci")

#: Smallest Rrs (sr^-1) taken before a log: real Rrs can be slightly negative after atmospheric correction.
LOG_RRS_FLOOR = 1e-5

#: The most principal components a reduced feature set keeps (few samples: more would overfit).
MAX_COMPONENTS = 10


def _local_dates(times) -> np.ndarray:
    return utc_to_local(pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]"))).normalize().tz_localize(
        None).to_numpy("datetime64[D]")


def previous_visit(table: xr.Dataset, samples: pd.DataFrame, lead_days: int = 0,
                   nondetects: str = "substitute_limit") -> pd.DataFrame:  # fmt: skip
    """The latest earlier surface visit at each matched sample's station: ``previous_log_mc``, ``days_since``.

    ``lead_days=0``: the last visit strictly before the sample's local date. ``lead_days=8``: the last
    visit on or before the local date of the image the forecast is made from (``pixel_time``), so the
    control knows nothing the forecast could not. Samples with no such visit get NaN in both columns.
    """
    surface = samples[samples["depth_category"].astype(str).str.lower() == "surface"]
    surface = surface.dropna(subset=["particulate_microcystin", "time"])
    y, keep = protocol.log10_target(surface["particulate_microcystin"].to_numpy(),
                                    surface["mc_censored"].to_numpy(bool), nondetects)
    visits = pd.DataFrame({"station": surface["station"].to_numpy(str)[keep],
                           "date": _local_dates(surface["time"].to_numpy())[keep], "log_mc": y})
    visits = visits.groupby(["station", "date"], as_index=False)["log_mc"].mean()
    by_station = {s: g.sort_values("date") for s, g in visits.groupby("station")}
    stations = np.asarray(table["station"].values, str)
    sample_dates = _local_dates(table["time"].values)
    cutoff = sample_dates if lead_days == 0 else _local_dates(table["pixel_time"].values)
    rows = []
    for station, date, limit in zip(stations, sample_dates, cutoff):
        history = by_station.get(station)
        earlier = history[history["date"] < limit] if lead_days == 0 else history[history["date"] <= limit]
        if history is None or earlier.empty:
            rows.append((np.nan, np.nan))
        else:
            last = earlier.iloc[-1]
            rows.append((float(last["log_mc"]), float((date - last["date"]) / np.timedelta64(1, "D"))))
    return pd.DataFrame(rows, columns=["previous_log_mc", "days_since"])


def bucket_features(table: xr.Dataset) -> pd.DataFrame:
    """log10 of the sample's own lab chlorophyll-a and phycocyanin (ug/L; non-detects at their limit)."""
    out = {}
    for name in ("chlorophyll_a", "phycocyanin"):
        if name not in table:
            raise ValueError(f"matchup table lacks the lab variable {name!r} (expected match_samples(...).table)")
        values = np.asarray(table[name].values, np.float64)
        out[f"log10_{name}"] = np.log10(np.where(values > 0, values, np.nan))
    return pd.DataFrame(out)


def log_rrs(table: xr.Dataset) -> pd.DataFrame:
    """log10 Rrs of every observed band, floored at :data:`LOG_RRS_FLOOR`."""
    bands = band_features(table, "all")
    return np.log10(bands.clip(lower=LOG_RRS_FLOOR))


def neighbourhood(table: xr.Dataset, pixels: xr.Dataset, radius: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per matched sample, the (2 * radius + 1)^2 valid pixels around its pixel in the same granule.

    Returns ``(spectra, counts)``: ``spectra`` (sample, 9, wavelength) with NaN where a neighbour is not a
    valid water pixel, and how many neighbours were found. A single pixel carries its sensor noise and
    its own patch of scum; the neighbourhood's median and spread say how representative it is.
    """
    keys = {(g, l, c): i for i, (g, l, c) in enumerate(zip(pixels["granule_index"].values.tolist(),
                                                           pixels["line"].values.tolist(),
                                                           pixels["column"].values.tolist()))}
    rrs = np.asarray(pixels["Rrs"].values, np.float64)
    offsets = [(dl, dc) for dl in range(-radius, radius + 1) for dc in range(-radius, radius + 1)]
    out = np.full((table.sizes["sample"], len(offsets), rrs.shape[1]), np.nan)
    counts = np.zeros(table.sizes["sample"], np.int64)
    for s, row in enumerate(np.asarray(table["pixel_index"].values, np.int64)):
        g, l, c = (int(pixels[name].values[row]) for name in ("granule_index", "line", "column"))
        for k, (dl, dc) in enumerate(offsets):
            found = keys.get((g, l + dl, c + dc))
            if found is not None:
                out[s, k] = rrs[found]
                counts[s] += 1
    return out, counts


def neighbourhood_index_features(table: xr.Dataset, pixels: xr.Dataset) -> pd.DataFrame:
    """The four control indices of the 3 x 3 neighbourhood: their median and interquartile range."""
    spectra, _ = neighbourhood(table, pixels)
    n, k, b = spectra.shape
    flat = xr.DataArray(spectra.reshape(n * k, b), dims=("sample", "wavelength"),
                        coords={"wavelength": table["wavelength"].values})
    values = index_features(xr.Dataset({"Rrs": flat}))[list(CONTROL_INDICES)].to_numpy().reshape(n, k, -1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods stay NaN (imputed later)
        median = np.nanmedian(values, axis=1)
        spread = np.nanpercentile(values, 75, axis=1) - np.nanpercentile(values, 25, axis=1)
    return pd.DataFrame(np.hstack([median, spread]), columns=[f"{i}_median3x3" for i in CONTROL_INDICES]
                        + [f"{i}_iqr3x3" for i in CONTROL_INDICES])


def control_features(table: xr.Dataset, samples: pd.DataFrame, lead_days: int = 0,
                     pixels: xr.Dataset | None = None) -> dict[str, pd.DataFrame]:  # fmt: skip
    """Every control's feature matrix for one matchup table (rows in the table's order). With the pixel
    table, also ``indices_3x3``: the indices' median and spread over each matched pixel's neighbours."""
    indices = index_features(table)
    missing = [name for name in CONTROL_INDICES if name not in indices]
    if missing:
        raise ValueError(f"index features lack {missing}; available: {list(indices.columns)}")
    return {"climatology": season_features(table),
            "persistence": previous_visit(table, samples, lead_days),
            "indices": indices[list(CONTROL_INDICES)],
            "log_rrs_pca": log_rrs(table),
            "bucket": bucket_features(table),
            **({"indices_3x3": neighbourhood_index_features(table, pixels)} if pixels is not None else {})}  # fmt: skip


#: Ridge penalties searched inside each training fold.
RIDGE_ALPHAS = tuple(np.logspace(-2, 5, 29).tolist())


def downstream_model(n_components: int | None = None, censored_at: float | None = None):
    """The one downstream model of every control and embedding: impute (training mean, with an indicator),
    standardise, optionally a PCA fitted on the training fold, ridge with its alpha chosen by CV grouped by
    sampling week inside the training fold (:class:`WeekGroupedRidgeCV`; fit it with
    :func:`~spectm.evaluate.protocol.fit_with_weeks`),
    predictions clipped to the training range. ``censored_at`` (log10 of the detection limit) swaps the
    ridge for a :class:`~spectm.evaluate.censored.TobitRegressor` that reads non-detects as "below"."""
    steps = [("impute", SimpleImputer(strategy="mean", add_indicator=True, keep_empty_features=True)),
             ("scale", StandardScaler())]
    if n_components:
        steps.append(("pca", _BoundedPCA(n_components)))
    if censored_at is None:
        steps.append(("ridge", WeekGroupedRidgeCV(RIDGE_ALPHAS)))
    else:
        steps.append(("tobit", TobitRegressor(limit=censored_at, alpha=1.0)))
    return ClippedToTrainingRange(Pipeline(steps))


class WeekGroupedRidgeCV(RegressorMixin, BaseEstimator):
    """Ridge whose penalty is chosen by K-fold CV over whole sampling weeks of the training data.

    Why not RidgeCV's leave-one-out: samples of one week share the image, the weather and the bloom, so
    leaving one sample out leaves its week-mates in and rewards a weak penalty (measured on the twin: the
    alpha LOO chose for embeddings was 0.01-0.3, and leave-one-season-out R^2 rose when weeks chose it).
    Without ``groups`` (or with fewer weeks than folds) it falls back to leave-one-out.
    """

    def __init__(self, alphas=RIDGE_ALPHAS, n_splits: int = 5):
        self.alphas = alphas
        self.n_splits = n_splits

    def fit(self, X, y, groups=None):
        X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
        if groups is None or np.unique(groups).size < self.n_splits:
            self.alpha_ = float(RidgeCV(alphas=self.alphas).fit(X, y).alpha_)
        else:
            errors = np.zeros(len(self.alphas))
            for train, test in GroupKFold(self.n_splits).split(X, y, groups):
                errors += ridge_path_errors(X[train], y[train], X[test], y[test], self.alphas)
            self.alpha_ = float(np.asarray(self.alphas)[int(np.argmin(errors))])
        self.ridge_ = Ridge(alpha=self.alpha_).fit(X, y)
        return self

    def predict(self, X):
        return self.ridge_.predict(np.asarray(X, np.float64))


def ridge_path_errors(X_train, y_train, X_test, y_test, alphas) -> np.ndarray:
    """Summed squared test errors of ridge (with intercept, as :class:`~sklearn.linear_model.Ridge`) for every
    penalty in ``alphas``, from one SVD of the centred training matrix instead of one fit per penalty (the
    fair test makes thousands of these small fits; per-fit input checks cost more than the algebra)."""
    x_mean, y_mean = X_train.mean(axis=0), y_train.mean()
    u, s, vt = np.linalg.svd(X_train - x_mean, full_matrices=False)
    alphas = np.asarray(alphas, np.float64)
    shrunk = (s / (s**2 + alphas[:, None])) * (u.T @ (y_train - y_mean))  # (penalties, components)
    predictions = ((X_test - x_mean) @ vt.T) @ shrunk.T + y_mean  # (test samples, penalties)
    return np.sum((predictions - y_test[:, None]) ** 2, axis=0)


class _BoundedPCA(PCA):
    """PCA that keeps at most as many components as the training fold allows."""

    def fit(self, X, y=None):
        self.n_components = min(self.n_components, X.shape[0] - 1, X.shape[1])
        return super().fit(X, y)

    def fit_transform(self, X, y=None):
        self.n_components = min(self.n_components, X.shape[0] - 1, X.shape[1])
        return super().fit_transform(X, y)


#: Controls whose features are reduced inside the fold, and to how many components.
REDUCED = {"log_rrs_pca": MAX_COMPONENTS}


def score_controls(table: xr.Dataset, features: dict[str, pd.DataFrame | np.ndarray], n_splits: int = 5,
                   n_repeats: int = 5, seed: int = 0, nondetects: str = "substitute_limit",
                   reduce: dict[str, int] | None = None, n_boot: int = 1000,
                   splitter=None) -> pd.DataFrame:  # fmt: skip
    """R^2 (with its week-bootstrap interval) of every feature matrix under one protocol and the same folds.

    ``features`` maps a name to a matrix with one row per sample of ``table`` (controls from
    :func:`control_features`, embeddings from the encoders). ``reduce`` names the matrices that get a
    PCA inside each training fold (default :data:`REDUCED`; embeddings are usually added to it).
    ``splitter`` (e.g. :class:`~spectm.evaluate.protocol.LeaveOneSeasonOut`) replaces the week-grouped
    K-fold; either way every matrix is scored on the same folds. The out-of-fold predictions are kept in
    ``frame.attrs["oof"]`` for paired differences and the power analysis.
    """
    reduce = dict(REDUCED if reduce is None else reduce)
    y, keep = protocol.table_target(table, nondetects)
    groups = protocol.table_groups(table)[keep]
    rows, oof = [], {}
    for name, matrix in features.items():
        X = np.asarray(matrix, np.float64)
        if X.shape[0] != keep.size:
            raise ValueError(f"features {name!r} have {X.shape[0]} rows; the table has {keep.size} samples")
        result = protocol.evaluate_features(X[keep], y, groups, lambda k=reduce.get(name): downstream_model(k),
                                            n_splits=n_splits, n_repeats=n_repeats, seed=seed, n_boot=n_boot,
                                            splitter=splitter)
        oof[name] = result.oof
        rows.append({"features": name, **result.summary()})
    frame = pd.DataFrame(rows)
    frame.attrs["oof"], frame.attrs["y"], frame.attrs["groups"] = oof, y, groups
    return frame


def score_across_seasons(table: xr.Dataset, features: dict, nondetects: str = "substitute_limit",
                         reduce: dict[str, int] | None = None, level: float = 0.95, n_boot: int = 1000,
                         seed: int = 0, censored_at: float | None = None) -> pd.DataFrame:  # fmt: skip
    """Leave-one-season-out R^2 of every feature set: fit on the other seasons, predict the held-out one.

    ``table`` holds the matched samples of every season (its ``date`` gives the season). A value of
    ``features`` is either one matrix (a control that learns nothing from imagery) or a dict
    ``{held-out season: matrix}`` built by an encoder pretrained *without* that season's imagery, so no
    test-season image reaches pretraining. Out-of-fold predictions are pooled over the held-out seasons;
    the interval is the week bootstrap of :mod:`~spectm.evaluate.protocol`. Also reported per held-out
    season (``r2_<season>``). ``censored_at`` fits the Tobit model of :func:`downstream_model` instead
    of the ridge.
    """
    reduce = dict(REDUCED if reduce is None else reduce)
    y, keep = protocol.table_target(table, nondetects)
    dates = table["date"].values if "date" in table else table["time"].values
    seasons = protocol.sample_season(dates)[keep]
    groups = protocol.table_groups(table)[keep]
    splitter = protocol.LeaveOneSeasonOut(seasons)
    rows, oof_all = [], {}
    for name, matrices in features.items():
        oof = np.full(y.size, np.nan)
        for train, test in splitter.repeat_splits(groups):
            held_out = int(seasons[test[0]])
            matrix = matrices[held_out] if isinstance(matrices, dict) else matrices
            X = np.asarray(matrix, np.float64)[keep]
            model = protocol.fit_with_weeks(downstream_model(reduce.get(name), censored_at), X[train], y[train],
                                           groups[train])
            oof[test] = model.predict(X[test])
        boot = protocol.week_bootstrap_r2(y, oof, groups, n_boot=n_boot, seed=seed)
        low, high = np.nanquantile(boot, [(1 - level) / 2, (1 + level) / 2])
        row = {"features": name, **protocol.scores(y, oof), "r2_low": float(low), "r2_high": float(high),
               "n_samples": int(y.size), "n_weeks": int(np.unique(groups).size)}
        for season in np.unique(seasons):
            here = seasons == season
            row[f"r2_{season}"] = protocol.scores(y[here], oof[here])["r2"]
        rows.append(row)
        oof_all[name] = oof
    frame = pd.DataFrame(rows)
    frame.attrs["oof"], frame.attrs["y"], frame.attrs["groups"], frame.attrs["seasons"] = oof_all, y, groups, seasons
    frame.attrs["censored"] = np.asarray(table["mc_censored"].values, bool)[keep]
    return frame
