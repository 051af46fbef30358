"""Band grids of PACE OCI and the diagnostic set D that SpecTM masks.

One wavelength rule, :func:`diagnostic_mask`, is used by the masking, the indices, the plots and the
tests alike, so that "which bands are diagnostic" is decided in exactly one place.

The paper masks "28 of 122 OCI bands" in three windows but does not say which 122 bands, and no grid of
real OCI bands gives both counts (:func:`grid_summary` counts |D| on each candidate). This project infers
a uniform 2.5 nm grid from 415.0 to 717.5 nm with half-open windows [615, 640), [660, 680), [695, 720):
10 + 8 + 10 = 28 diagnostic bands (closed windows would give 30: 640.0 and 680.0 would join). Files keep
the native 172-band Rrs grid (NASA's OCI band table; ``book/sources.md``); other grids are kept so a reader
can rerun the study on real bands only.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

import numpy as np
import xarray as xr

#: The three pigment-sensitive windows of SpecTM, half-open [start, stop) in nm.
DIAGNOSTIC_WINDOWS: dict[str, tuple[float, float]] = {
    "phycocyanin": (615.0, 640.0),
    "chlorophyll_a": (660.0, 680.0),
    "red_edge": (695.0, 720.0),
}

#: Largest distance (nm) from a model band to a native OCI Rrs band for the model band to count as
#: observed; one native band spacing in the red (1.25 nm). Model bands farther away fall in the OCI gap.
GAP_TOLERANCE_NM = 1.25

GRIDS = ("paper122", "oci_rrs172", "sfrefl122", "native_thinned122")

_GRID_DESCRIPTIONS = {
    "paper122": "uniform 2.5 nm grid 415.0-717.5 nm: the model grid inferred for the paper (project decision)",
    "oci_rrs172": "PACE OCI L2 AOP Rrs band centres (172 bands, 346-719 nm), as in real granules",
    "sfrefl122": "PACE OCI L2 SFREFL rhos bands (122 bands, 346-2258 nm, nominal nm)",
    "native_thinned122": "native OCI Rrs band centres from 395 nm, 1.25 nm red region thinned to 2.5 nm (122 bands)",
}


def _read_grid_csv(name: str) -> dict[str, np.ndarray]:
    text = resources.files("spectm.resources.grids").joinpath(name).read_text()
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    reader = csv.DictReader(rows)
    columns: dict[str, list[float]] = {field: [] for field in reader.fieldnames or []}
    for row in reader:
        for field, value in row.items():
            columns[field].append(float(value))
    return {field: np.asarray(values) for field, values in columns.items()}


@cache
def oci_rrs_nominal() -> np.ndarray:
    """The 172 nominal (integer nm) Rrs wavelengths, as stored in ``wavelength_3d`` of V3.0/3.1 files."""
    return _read_grid_csv("oci_rrs_172.csv")["nominal_nm"].astype(np.int32)


@cache
def oci_rrs_centers() -> np.ndarray:
    """The 172 Rrs band centres (float nm) of NASA's OCI band-pass table, as in V3.2 files."""
    return _read_grid_csv("oci_rrs_172.csv")["center_nm"]


@cache
def oci_sensor_nominal() -> np.ndarray:
    """The 286 L2 sensor bands (integer nm) in file order, as in ``sensor_band_parameters/wavelength``."""
    return _read_grid_csv("oci_sensor_286.csv")["nominal_nm"].astype(np.int32)


def _grid_values(name: str) -> np.ndarray:
    if name == "paper122":
        return 415.0 + 2.5 * np.arange(122)
    if name == "oci_rrs172":
        return oci_rrs_centers().copy()
    if name == "sfrefl122":
        return _read_grid_csv("oci_sfrefl_122.csv")["nominal_nm"]
    if name == "native_thinned122":
        centers = oci_rrs_centers()
        blue_green = centers[(centers >= 395.0) & (centers < 640.0)]
        red_fine = centers[(centers >= 640.0) & (centers < 715.0)][::2]
        red_tail = centers[centers >= 715.0]
        return np.concatenate([blue_green, red_fine, red_tail])
    raise ValueError(f"unknown band grid {name!r}: expected one of {', '.join(GRIDS)}")


def wavelength_grid(name: str = "paper122") -> xr.DataArray:
    """A band grid as a ``wavelength`` coordinate (nm) with CF attributes.

    ``name`` is one of :data:`GRIDS`; ``paper122`` is the model grid.
    """
    values = _grid_values(name).astype(np.float64)
    return xr.DataArray(
        values,
        dims="wavelength",
        coords={"wavelength": values},
        name="wavelength",
        attrs={
            "units": "nm",
            "long_name": "band centre wavelength",
            "standard_name": "radiation_wavelength",
            "grid": name,
            "description": _GRID_DESCRIPTIONS[name],
        },
    )


def as_wavelengths(wavelengths, min_size: int = 1, increasing: bool = False, positive: bool = False) -> np.ndarray:
    """Band centres in nm as a float64 1-D array, from whatever a caller holds.

    Accepts a grid name (``"paper122"``), anything with a ``wavelength`` coordinate (DataArray, Dataset),
    a torch tensor or a plain sequence. The one converter of the package: every module that takes
    wavelengths goes through it, so each accepts the same inputs and refuses them with the same message.
    """
    if isinstance(wavelengths, str):
        wavelengths = wavelength_grid(wavelengths)
    if isinstance(wavelengths, (xr.DataArray, xr.Dataset)) and "wavelength" in wavelengths.coords:
        wavelengths = wavelengths["wavelength"].values
    if hasattr(wavelengths, "detach"):
        wavelengths = wavelengths.detach().cpu().numpy()
    values = np.asarray(wavelengths, dtype=np.float64)
    if values.ndim != 1 or values.size < min_size:
        raise ValueError(f"wavelengths must be a 1-D sequence of at least {min_size} nm value(s), "
                         f"got shape {values.shape}")
    if increasing and np.any(np.diff(values) <= 0):
        raise ValueError("wavelengths must be strictly increasing")
    if positive and (not np.all(np.isfinite(values)) or np.any(values <= 0)):
        raise ValueError("wavelengths must be finite and positive (nm)")
    return values


def _on_wavelength(values: np.ndarray, wavelengths: np.ndarray, name: str, attrs: dict) -> xr.DataArray:
    return xr.DataArray(values, dims="wavelength", coords={"wavelength": wavelengths}, name=name, attrs=attrs)


def diagnostic_mask(wavelengths, windows: dict[str, tuple[float, float]] | None = None) -> xr.DataArray:
    """SpecTM's mask ``m_b = 1[b in D]``: True where band ``b`` lies in a diagnostic window.

    Windows are half-open ``[start, stop)``, which is what reproduces the paper's 28 of 122 on the
    model grid. Accepts a sequence of wavelengths (nm) or anything with a ``wavelength`` coordinate.
    """
    wl = as_wavelengths(wavelengths)
    windows = DIAGNOSTIC_WINDOWS if windows is None else windows
    mask = np.zeros(wl.shape, dtype=bool)
    for start, stop in windows.values():
        mask |= (wl >= start) & (wl < stop)
    return _on_wavelength(
        mask,
        wl,
        "diagnostic_mask",
        {
            "long_name": "SpecTM diagnostic band mask (True = masked during pretraining)",
            "windows_nm": "; ".join(f"{k} [{a:g}, {b:g})" for k, (a, b) in windows.items()),
        },
    )


def window_name(wavelengths, windows: dict[str, tuple[float, float]] | None = None) -> xr.DataArray:
    """The diagnostic window each band falls in (``""`` for context bands)."""
    wl = as_wavelengths(wavelengths)
    windows = DIAGNOSTIC_WINDOWS if windows is None else windows
    names = np.full(wl.shape, "", dtype=object)
    for name, (start, stop) in windows.items():
        names[(wl >= start) & (wl < stop)] = name
    return _on_wavelength(names.astype(str), wl, "window", {"long_name": "diagnostic window"})


def gap_mask(wavelengths, native=None, tolerance_nm: float = GAP_TOLERANCE_NM) -> xr.DataArray:
    """True where no native OCI Rrs band lies within ``tolerance_nm``: bands a sensor never observes.

    On the model grid these are the nine bands 590.0-610.0 nm in the OCI Rrs gap; they are carried as
    missing and never scored.
    """
    wl = as_wavelengths(wavelengths)
    native = oci_rrs_centers() if native is None else as_wavelengths(native)
    distance = np.abs(wl[:, None] - native[None, :]).min(axis=1)
    return _on_wavelength(
        distance > tolerance_nm,
        wl,
        "gap_mask",
        {"long_name": "band without a native observation", "tolerance_nm": tolerance_nm},
    )


def grid_summary() -> list[dict]:
    """For every shipped grid: number of bands, span, and |D| per window (the table of bands.md)."""
    rows = []
    for name in GRIDS:
        wl = wavelength_grid(name)
        windows = window_name(wl)
        row = {
            "grid": name,
            "bands": int(wl.size),
            "first_nm": float(wl[0]),
            "last_nm": float(wl[-1]),
        }
        for window in DIAGNOSTIC_WINDOWS:
            row[window] = int((windows == window).sum())
        row["D"] = int(diagnostic_mask(wl).sum())
        row["gap"] = int(gap_mask(wl).sum())
        rows.append(row)
    return rows
