"""How well the masked diagnostic bands are rebuilt: SpecTM against interpolation across the windows.

The paper scores reconstruction of the masked bands with Pearson r and compares it with a cubic spline
through the visible bands ("cubic spline r = 0.96"). This module gives both sides the same pixels, the same
mask and the same scored values:

* :func:`interpolate_masked` rebuilds masked bands from the visible ones (cubic spline, linear, PCHIP);
* :func:`reconstruction_metrics` scores any prediction: r and RMSE overall, per window, per wavelength, and
  per pixel spectrum;
* :func:`held_out_predictions` runs a trained SpecTM and the interpolators on held-out pixels;
* :func:`evaluate_reconstruction` turns that into one tidy table (method, window, r, rmse, n, ...).

Scored values are the entries that are masked *and* observed (finite); the nine OCI gap bands 590-610 nm
are NaN and never masked by ``targeted``, so they never enter a score.

**The red edge is extrapolation, not interpolation.** The red-edge window [695, 720) runs to the end of the
``paper122`` grid (717.5 nm): no visible band lies beyond it, so every method must continue its last piece
from the context bands 680-692.5 nm over 10 bands (25 nm). With ``extrapolation="polynomial"`` (default):

* ``cubic``: :class:`scipy.interpolate.CubicSpline` (not-a-knot ends) extrapolates its last cubic piece;
* ``pchip``: :class:`scipy.interpolate.PchipInterpolator` extrapolates its last (monotone) cubic piece;
* ``linear``: the straight line through the last two visible bands (690 and 692.5 nm) is continued.

With ``extrapolation="hold"`` every method holds the value of the outermost visible band instead. Neither
can know that Rrs peaks near 700-710 nm and falls again: this, not the method, is why interpolation is a
weak baseline at the red edge. Continuing a cubic piece 25 nm past its data also amplifies the noise of
the last few visible bands (the spline's end curvature is fitted to them), so on noisy spectra polynomial
extrapolation can miss by more than the signal itself; hold is flat and therefore has no spectral shape
(its per-pixel r is undefined). Report both.

The phycocyanin and chlorophyll-a windows are bracketed by visible bands and are true interpolation.
:func:`reconstruction_metrics` reports, per window, the fraction of scored values that lie beyond the
outermost visible band of their pixel (``extrapolated``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr
from scipy.interpolate import CubicSpline, PchipInterpolator

from spectm.bands import DIAGNOSTIC_WINDOWS, as_wavelengths, window_name

METHODS = ("cubic", "linear", "pchip")
EXTRAPOLATION = ("polynomial", "hold")

#: Label of the pooled row in the metrics (all scored values, every window together).
OVERALL = "overall"
#: Label of scored bands outside the diagnostic windows (only random-family masks hit them).
CONTEXT = "context"

#: Fewest scored bands in a pixel for its per-spectrum r to count (two points always give |r| = 1).
MIN_SPECTRUM_BANDS = 3


# --------------------------------------------------------------------------------------------------
# input checks


def _array(values, name: str, dtype=np.float64) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    if isinstance(values, xr.DataArray):
        values = values.values
    return np.asarray(values, dtype=dtype)


def _spectra(values, name: str, n_bands: int) -> np.ndarray:
    x = _array(values, name)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != n_bands:
        raise ValueError(f"{name} must have shape (n_pixels, {n_bands}) to match the wavelengths, "
                         f"got {x.shape}")
    return x


def _flags(values, name: str, shape: tuple[int, int]) -> np.ndarray:
    flags = _array(values, name, dtype=bool)
    if flags.ndim == 1:
        flags = flags[None, :]
    try:
        return np.broadcast_to(flags, shape)
    except ValueError:
        raise ValueError(f"{name} must broadcast to the spectra's shape {shape}, got {flags.shape}") from None


# --------------------------------------------------------------------------------------------------
# interpolation baselines


def _edges(fit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per band: index of the nearest fit band at or left of it, at or right of it (-1 / B if none); per
    row: index of the first and last fit band (-1 if the row has none)."""
    b = fit.shape[1]
    index = np.broadcast_to(np.arange(b), fit.shape)
    left = np.maximum.accumulate(np.where(fit, index, -1), axis=1)
    right = np.minimum.accumulate(np.where(fit, index, b)[:, ::-1], axis=1)[:, ::-1]
    has = fit.any(1)
    first = np.where(has, right[:, 0], -1)
    last = np.where(has, left[:, -1], -1)
    return left, right, first, last


def _second(fit: np.ndarray, end: np.ndarray, direction: int) -> np.ndarray:
    """Index of the fit band next to ``end`` going inwards (direction -1: the one before the last)."""
    b = fit.shape[1]
    index = np.arange(b)
    if direction < 0:
        return np.where(fit & (index < end[:, None]), index, -1).max(1)
    return np.where(fit & (index > end[:, None]), index, b).min(1)


def _linear(y: np.ndarray, wl: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """Piecewise-linear through the fit bands of all rows at once; beyond the ends the end segment goes on."""
    n, b = y.shape
    left, right, first, last = _edges(fit)
    before_last = _second(fit, last, -1)
    after_first = _second(fit, first, +1)
    beyond_right, beyond_left = right == b, left == -1
    lo = np.where(beyond_right, before_last[:, None], np.where(beyond_left, first[:, None], left))
    hi = np.where(beyond_right, last[:, None], np.where(beyond_left, after_first[:, None], right))
    ok = (lo >= 0) & (hi < b)
    lo_c, hi_c = np.clip(lo, 0, b - 1), np.clip(hi, 0, b - 1)
    rows = np.arange(n)[:, None]
    y_lo, y_hi = y[rows, lo_c], y[rows, hi_c]
    x_lo, x_hi = wl[lo_c], wl[hi_c]
    span = np.where(hi_c > lo_c, x_hi - x_lo, 1.0)
    weight = np.where(hi_c > lo_c, (wl - x_lo) / span, 0.0)
    return np.where(ok, y_lo + weight * (y_hi - y_lo), np.nan)


def _pattern_groups(fit: np.ndarray) -> list[np.ndarray]:
    """Row indices of every distinct fit pattern (one group for targeted masking on clean data)."""
    packed = np.packbits(fit, axis=1)
    _, inverse = np.unique(packed, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def _spline(y: np.ndarray, wl: np.ndarray, fit: np.ndarray, method: str) -> np.ndarray:
    """Cubic spline or PCHIP per row, one scipy call per distinct fit pattern (rows along axis 0)."""
    out = np.full(y.shape, np.nan)
    for rows in _pattern_groups(fit):
        bands = np.flatnonzero(fit[rows[0]])
        if bands.size < 2:
            continue  # nothing to draw a curve through: left NaN
        x, samples = wl[bands], y[np.ix_(rows, bands)]
        if method == "cubic":
            curve = CubicSpline(x, samples, axis=1, bc_type="not-a-knot", extrapolate=True)
        else:
            curve = PchipInterpolator(x, samples, axis=1, extrapolate=True)
        out[rows] = curve(wl)
    return out


def interpolate_masked(values, wavelengths, mask, method: str = "cubic", extrapolation: str = "polynomial",
                       observed=None) -> np.ndarray:
    """Rebuild the masked bands of ``values`` (N, B) from the bands that are observed and not masked.

    ``mask`` (N, B) or (B,) bool, True = masked; ``observed`` optional (N, B) bool, defaults to the finite
    entries of ``values``. Returns a float64 copy of ``values`` with every masked band replaced by the
    prediction (unmasked bands keep their values, NaN included). A pixel with fewer than two visible bands
    gets NaN at its masked bands.

    ``method``: ``"cubic"`` (not-a-knot cubic spline), ``"linear"`` or ``"pchip"`` (shape-preserving
    cubic). ``extrapolation`` for masked bands beyond the outermost visible band (the red edge on
    ``paper122``): ``"polynomial"`` continues the method's end piece, ``"hold"`` repeats the end value.

    Linear is fully vectorised; the splines make one scipy call per distinct visible-band pattern, so a
    targeted mask (one pattern) costs one call however many pixels there are.
    """
    if method not in METHODS:
        raise ValueError(f"interpolate_masked: unknown method {method!r}: "
                         f"expected one of {', '.join(METHODS)}")
    if extrapolation not in EXTRAPOLATION:
        raise ValueError(f"interpolate_masked: extrapolation must be one of {', '.join(EXTRAPOLATION)}, "
                         f"got {extrapolation!r}")
    wl = as_wavelengths(wavelengths, min_size=2, increasing=True)
    y = _spectra(values, "values", wl.size)
    mask = _flags(mask, "mask", y.shape)
    finite = np.isfinite(y)
    observed = finite if observed is None else finite & _flags(observed, "observed", y.shape)
    fit = observed & ~mask
    if method == "linear":
        predicted = _linear(y, wl, fit)
    else:
        predicted = _spline(y, wl, fit, method)
    if extrapolation == "hold":
        left, right, first, last = _edges(fit)
        rows = np.arange(y.shape[0])
        head = y[rows, np.clip(first, 0, None)][:, None]
        tail = y[rows, np.clip(last, 0, None)][:, None]
        predicted = np.where(left == -1, head, np.where(right == wl.size, tail, predicted))
    predicted[fit.sum(1) < 2] = np.nan
    return np.where(mask, predicted, y)


def extrapolated(mask, observed, wavelengths=None) -> np.ndarray:
    """(N, B) bool: masked bands that lie beyond the outermost visible band of their pixel, so that an
    interpolator must extrapolate there (on ``paper122`` with the targeted mask: the 10 red-edge bands)."""
    mask = _array(mask, "mask", dtype=bool)
    mask = mask[None, :] if mask.ndim == 1 else mask
    observed = _flags(observed, "observed", mask.shape)
    left, right, _, _ = _edges(observed & ~mask)
    return mask & ((left == -1) | (right == mask.shape[1]))


# --------------------------------------------------------------------------------------------------
# metrics


def _varies(x: np.ndarray, where: np.ndarray, axis) -> np.ndarray:
    """True where the selected entries are not all equal (a constant has no correlation)."""
    high = np.where(where, x, -np.inf).max(axis=axis, initial=-np.inf)
    low = np.where(where, x, np.inf).min(axis=axis, initial=np.inf)
    return high > low


def _pearson(x: np.ndarray, y: np.ndarray, where: np.ndarray, axis) -> tuple[np.ndarray, np.ndarray,
                                                                          np.ndarray]:
    """Pearson r, RMSE and count of ``(x, y)`` over the entries ``where`` along ``axis`` (two-pass)."""
    n = where.sum(axis=axis)
    safe_n = np.maximum(n, 1)
    x0, y0 = np.where(where, x, 0.0), np.where(where, y, 0.0)
    dx = np.where(where, x0 - np.expand_dims(x0.sum(axis=axis) / safe_n, axis), 0.0)
    dy = np.where(where, y0 - np.expand_dims(y0.sum(axis=axis) / safe_n, axis), 0.0)
    sxy, sxx, syy = (dx * dy).sum(axis=axis), (dx * dx).sum(axis=axis), (dy * dy).sum(axis=axis)
    varies = _varies(x, where, axis) & _varies(y, where, axis)  # exact test: rounding leaves sxx > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where((n >= 2) & varies & (sxx > 0) & (syy > 0), sxy / np.sqrt(sxx * syy), np.nan)
        rmse = np.where(n >= 1, np.sqrt(((x0 - y0) ** 2).sum(axis=axis) / safe_n), np.nan)
    return np.clip(r, -1.0, 1.0), rmse, n


def _window_labels(wl: np.ndarray, scored: np.ndarray) -> list[tuple[str, np.ndarray]]:
    names = window_name(wl).values
    labels = [(OVERALL, np.ones(wl.size, dtype=bool))]
    labels += [(window, names == window) for window in DIAGNOSTIC_WINDOWS]
    context = names == ""
    if (scored & context).any():
        labels.append((CONTEXT, context))
    return labels


def _checked_inputs(true, predicted, mask, observed, n_bands: int) -> tuple[np.ndarray, ...]:
    """(truth, prediction, mask, observed) as arrays of one shape; a prediction missing where scored is refused."""
    truth = _spectra(true, "true", n_bands)
    pred = _spectra(predicted, "predicted", n_bands)
    if pred.shape != truth.shape:
        raise ValueError(f"predicted has shape {pred.shape}, true has {truth.shape}")
    mask = _flags(mask, "mask", truth.shape)
    finite = np.isfinite(truth)
    observed = finite if observed is None else finite & _flags(observed, "observed", truth.shape)
    missing = mask & observed & ~np.isfinite(pred)
    if missing.any():
        raise ValueError(f"predicted is not finite at {int(missing.sum())} scored (masked, observed) values")
    return truth, pred, mask, observed


def _window_scores(truth: np.ndarray, pred: np.ndarray, scored: np.ndarray, beyond: np.ndarray,
                   wl: np.ndarray) -> tuple[list[str], dict[str, list]]:
    """Window names and, per window, the pooled and per-pixel scores of :func:`reconstruction_metrics`."""
    windows, columns = [], {k: [] for k in ("r", "rmse", "n", "spectral_r", "n_spectra", "extrapolated")}
    for window, in_window in _window_labels(wl, scored):
        where = scored & in_window
        r, rmse, n = _pearson(truth.ravel(), pred.ravel(), where.ravel(), axis=0)
        r_pixel, _, n_pixel = _pearson(truth, pred, where, axis=1)
        usable = (n_pixel >= MIN_SPECTRUM_BANDS) & np.isfinite(r_pixel)
        windows.append(window)
        columns["r"].append(float(r))
        columns["rmse"].append(float(rmse))
        columns["n"].append(int(n))
        columns["spectral_r"].append(float(np.median(r_pixel[usable])) if usable.any() else np.nan)
        columns["n_spectra"].append(int(usable.sum()))
        columns["extrapolated"].append(float(beyond[where].mean()) if n else np.nan)
    return windows, columns


def reconstruction_metrics(true, predicted, mask, observed=None, wavelengths=None) -> xr.Dataset:
    """Scores of a reconstruction on the entries that are masked and observed (and finite in ``true``).

    Inputs (N, B): ``true`` spectra, ``predicted`` spectra (only masked bands are read), ``mask`` (True =
    masked), ``observed`` (default: finite ``true``); ``wavelengths`` (B,) nm.

    Returns an ``xr.Dataset``:

    * on ``window`` (``overall``, ``phycocyanin``, ``chlorophyll_a``, ``red_edge``, and ``context`` when
      a mask hides bands outside the windows): ``r`` and ``rmse`` pooled over every scored (pixel, band)
      value of the window, ``n`` values; ``spectral_r`` = median over pixels of the r between true and
      predicted *across the bands of one pixel* (pixels with at least :data:`MIN_SPECTRUM_BANDS` scored
      bands), with ``n_spectra``; ``extrapolated`` = fraction of scored values beyond the outermost visible
      band of their pixel (see :func:`extrapolated`);
    * on ``wavelength``: ``r_by_wavelength``, ``rmse_by_wavelength``, ``n_by_wavelength``, pooled over
      pixels for each band (NaN where a band is never scored).

    Why two kinds of r: the pooled r mixes every pixel, and bright and dark waters differ by far more than
    any reconstruction error, so it is dominated by between-pixel brightness variance and can look close to
    1 even for a poor shape. ``spectral_r`` removes each pixel's level and asks whether the *shape* inside
    the window (the trough, the peak) was rebuilt: the stricter view. A pixel whose truth or prediction is
    flat over the window (e.g. ``extrapolation="hold"``) has no spectral r and is not counted.
    """
    wl = as_wavelengths(wavelengths, min_size=2, increasing=True)
    truth, pred, mask, observed = _checked_inputs(true, predicted, mask, observed, wl.size)
    scored = mask & observed
    beyond = extrapolated(mask, observed)

    windows, columns = _window_scores(truth, pred, scored, beyond, wl)
    r_wl, rmse_wl, n_wl = _pearson(truth, pred, scored, axis=0)

    wl_coord = {"wavelength": ("wavelength", wl, {"units": "nm", "long_name": "band centre wavelength",
                                                  "standard_name": "radiation_wavelength"})}
    return xr.Dataset(
        {
            "r": ("window", columns["r"],
                  {"long_name": "Pearson r of scored values pooled over pixels and bands"}),
            "rmse": ("window", columns["rmse"], {"long_name": "root-mean-square error of scored values",
                                                 "units": "sr-1"}),
            "n": ("window", columns["n"], {"long_name": "number of scored (masked, observed) values"}),
            "spectral_r": ("window", columns["spectral_r"],
                           {"long_name": "median over pixels of the Pearson r across one pixel's bands"}),
            "n_spectra": ("window", columns["n_spectra"],
                          {"long_name": f"pixels with at least {MIN_SPECTRUM_BANDS} scored bands"}),
            "extrapolated": ("window", columns["extrapolated"],
                             {"long_name": "fraction of scored values beyond the outermost visible band"}),
            "r_by_wavelength": ("wavelength", r_wl, {"long_name": "Pearson r of one band over pixels"}),
            "rmse_by_wavelength": ("wavelength", rmse_wl, {"long_name": "RMSE of one band over pixels",
                                                           "units": "sr-1"}),
            "n_by_wavelength": ("wavelength", n_wl, {"long_name": "scored pixels of one band"}),
        },
        coords={"window": ("window", windows, {"long_name": "diagnostic window"}), **wl_coord},
        attrs={"scored": "entries masked and observed (finite); OCI gap bands are never scored"},
    )


def compare_methods(true, predictions: Mapping[str, np.ndarray], mask, observed=None,
                    wavelengths=None) -> xr.Dataset:
    """:func:`reconstruction_metrics` of several predictions of the same pixels, stacked on ``method``."""
    scores = [reconstruction_metrics(true, p, mask, observed, wavelengths) for p in predictions.values()]
    names = list(predictions)
    method = xr.DataArray(names, dims="method", coords={"method": names}, name="method")
    return xr.concat(scores, dim=method, data_vars="all", coords="minimal", compat="override")


def metrics_frame(scores: xr.Dataset) -> pd.DataFrame:
    """The per-window part of :func:`compare_methods` as a tidy table, one row per (method, window)."""
    columns = ["r", "rmse", "n", "spectral_r", "n_spectra", "extrapolated"]
    frame = scores[columns].to_dataframe().reset_index()
    order = ["method", "window"] if "method" in frame else ["window"]
    return frame[order + columns]


# --------------------------------------------------------------------------------------------------
# held-out evaluation of a trained model


def _table_arrays(table, split) -> tuple[np.ndarray, np.ndarray]:
    """Rrs rows of the held-out pixels and the wavelengths, from an ``xr.Dataset`` pixel table (``Rrs``
    on ``pixel`` x ``wavelength``) or a mapping with ``Rrs`` and ``wavelength``."""
    if isinstance(table, xr.Dataset):
        if "Rrs" not in table or "wavelength" not in table.coords:
            raise ValueError(f"pixel table: expected variable 'Rrs' (pixel, wavelength) and a 'wavelength' "
                             f"coordinate, found variables {', '.join(map(str, table.data_vars))}")
        Rrs = table["Rrs"].transpose("pixel", "wavelength")
        rows = Rrs if split is None else Rrs.isel(pixel=np.asarray(split))
        return np.asarray(rows.values, dtype=np.float64), table["wavelength"].values
    if isinstance(table, Mapping):
        for field in ("Rrs", "wavelength"):
            if field not in table:
                raise ValueError(f"pixel table: field {field!r} missing (has {', '.join(map(str, table))})")
        Rrs = np.asarray(table["Rrs"], dtype=np.float64)
        rows = Rrs if split is None else Rrs[np.asarray(split)]
        return rows, np.asarray(table["wavelength"], dtype=np.float64)
    raise TypeError(f"pixel table must be an xr.Dataset or a mapping with 'Rrs' and 'wavelength', "
                    f"got {type(table).__name__}")


def _model_reconstruction(model, values: np.ndarray, wl: np.ndarray, mask: np.ndarray, batch_size: int,
                          device) -> np.ndarray:
    import torch

    n_bands = getattr(getattr(model, "config", None), "n_bands", wl.size)
    if n_bands != wl.size:
        raise ValueError(f"model expects {n_bands} bands, the pixel table has {wl.size}")
    model = model.to(device).eval()
    wavelengths = torch.tensor(wl, dtype=torch.float32, device=device)
    out = np.empty(values.shape, dtype=np.float64)
    with torch.no_grad():
        for start in range(0, values.shape[0], batch_size):
            rows = slice(start, start + batch_size)
            x = torch.as_tensor(values[rows], dtype=torch.float32, device=device)
            m = torch.as_tensor(mask[rows], device=device)
            out[rows] = model(x, wavelengths, m)["reconstruction"].float().cpu().numpy()
    return out


def held_out_predictions(model, table, split, masking: str = "targeted", batch_size: int = 1024,
                         device="cpu", methods=("cubic", "linear"), seed: int = 0,
                         extrapolation: str = "polynomial", **mask_options) -> dict:
    """Rebuild the masked bands of the held-out pixels with the model and with each interpolator.

    ``table``: a pixel table (``xr.Dataset`` with ``Rrs``, or a mapping with ``Rrs`` and ``wavelength``);
    ``split``: row indices (or a bool array) of the held-out pixels, e.g. the validation rows of a date
    split, or None for every row. Every method gets the same pixels and the same mask
    (``spectm.masking.make_mask(masking, ...)`` seeded with ``seed``; ``mask_options`` go to it).

    Returns ``true`` (N, B), ``predictions`` {name: (N, B)} with ``"spectm"`` first, ``mask``,
    ``observed``, ``wavelength`` and ``seconds`` {name: wall time of the prediction}.
    """
    import torch

    from spectm.masking import make_mask

    values, wl = _table_arrays(table, split)
    if values.shape[0] == 0:
        raise ValueError("held_out_predictions: the split selects no pixels")
    generator = torch.Generator().manual_seed(seed)
    mask = make_mask(masking, wl, values.shape[0], generator, **mask_options).numpy()
    observed = np.isfinite(values)
    predictions, seconds = {}, {}
    if model is not None:
        start = time.perf_counter()
        predictions["spectm"] = _model_reconstruction(model, values, wl, mask, batch_size, device)
        seconds["spectm"] = time.perf_counter() - start
    for method in methods:
        start = time.perf_counter()
        predictions[method] = interpolate_masked(values, wl, mask, method, extrapolation=extrapolation)
        seconds[method] = time.perf_counter() - start
    return {"true": values, "predictions": predictions, "mask": mask, "observed": observed,
            "wavelength": wl, "seconds": seconds}


def evaluate_reconstruction(model, table, split, masking: str = "targeted", batch_size: int = 1024,
                            device="cpu", methods=("cubic", "linear"), seed: int = 0,
                            extrapolation: str = "polynomial", **mask_options) -> pd.DataFrame:
    """Held-out reconstruction scores of a trained SpecTM next to the interpolators, on the same pixels.

    A tidy table, one row per (method, window): ``method`` (``spectm``, ``cubic``, ``linear``), ``window``
    (``overall`` and the three diagnostic windows), ``r``, ``rmse`` (sr-1), ``n``, ``spectral_r``,
    ``n_spectra``, ``extrapolated`` (see :func:`reconstruction_metrics`) and ``seconds`` (wall time of the
    method on the whole split). Arguments as in :func:`held_out_predictions`; for the error-by-wavelength
    plot call it and :func:`compare_methods` directly.
    """
    run = held_out_predictions(model, table, split, masking, batch_size, device, methods, seed,
                               extrapolation, **mask_options)
    scores = compare_methods(run["true"], run["predictions"], run["mask"], run["observed"], run["wavelength"])
    frame = metrics_frame(scores)
    frame["seconds"] = frame["method"].map(run["seconds"])
    frame.attrs.update(masking=masking, extrapolation=extrapolation, pixels=int(run["true"].shape[0]))
    return frame
