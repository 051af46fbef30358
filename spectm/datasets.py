"""Pixel spectra as a PyTorch dataset, the date split, and a synthetic population for tests and benchmarks.

TorchGeo style: a dataset holds arrays and returns dicts of tensors; anything that changes a sample (masking,
normalisation) happens elsewhere (the model's :class:`~spectm.model.Normalizer`, the training loop's mask).

Items of :class:`PixelSpectra` (``B`` bands of the model grid, ``K`` index targets):

* ``values`` (B,) float32 Rrs (sr-1), NaN where the band is missing (the OCI gap, a flagged band);
* ``observed`` (B,) bool, finite ``values``;
* ``future`` (B,) float32 Rrs of the same pixel 8 days later, NaN where no pair exists;
* ``future_observed`` (B,) bool and ``has_future`` () bool;
* ``indices`` (K,) float32 bio-optical indices of the *unmasked* spectrum (:data:`INDEX_NAMES`), computed once
  at construction, in physical units; the training loop standardises them with training-split statistics.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from spectm.bands import as_wavelengths, gap_mask, wavelength_grid
from spectm.data.errors import DataFormatError, refuse_special_file
from spectm.model import nan_mean_std
from spectm.physics import all_indices, simulate_rrs

#: Index targets of the index head: a non-redundant subset of :data:`spectm.physics.INDEX_FUNCTIONS`
#: (``flh`` is ``-ci`` by construction, ``ci_cyano`` a thresholded copy of ``ci`` and ``simis_pc`` a
#: non-linear function of the same three bands as ``simis_ratio`` and ``ndci``).
INDEX_NAMES = ("ci", "ss665", "ndci", "red_edge_height", "pc_baseline_depth", "simis_ratio")


def index_targets(Rrs: np.ndarray, wavelengths, names=INDEX_NAMES) -> np.ndarray:
    """``(N, K)`` float32 indices of ``Rrs`` ``(N, B)`` by :func:`spectm.physics.all_indices`; inf -> NaN."""
    wl = as_wavelengths(wavelengths)
    spectra = xr.DataArray(np.asarray(Rrs, dtype=np.float64), dims=("pixel", "wavelength"),
                           coords={"wavelength": wl})
    table = all_indices(spectra)
    out = np.stack([table[name].values for name in names], axis=-1).astype(np.float32)
    out[~np.isfinite(out)] = np.nan
    return out


class PixelSpectra(torch.utils.data.Dataset):
    """Spectra of single pixels, one row per pixel and date, on one band grid.

    Args:
        Rrs: ``(N, B)`` Rrs on ``wavelengths``; NaN = missing band.
        time: ``(N,)`` acquisition times (anything ``numpy.datetime64`` accepts), for :func:`split_by_date`.
        future: optional ``(N, B)`` Rrs of the same pixel 8 days later (NaN row = no pair).
        wavelengths: grid name or 1-D nm values (default the model grid ``paper122``).
        index_names: which indices to compute as targets.
        transforms: optional callable applied to each sample dict.

    ``dataset[i]`` returns one sample; ``dataset[index_tensor]`` returns a whole batch at once (the training
    loop uses this with ``DataLoader(batch_size=None)``: no per-sample collation on the hot path).
    """

    def __init__(self, Rrs, time=None, future=None, wavelengths="paper122", index_names=INDEX_NAMES,
                 transforms=None, indices=None):
        Rrs = np.asarray(Rrs, dtype=np.float32)
        if Rrs.ndim != 2:
            raise ValueError(f"PixelSpectra: Rrs must be (pixels, bands), got shape {Rrs.shape}")
        wl = as_wavelengths(wavelengths)
        if wl.shape != (Rrs.shape[1],):
            raise ValueError(f"PixelSpectra: Rrs has {Rrs.shape[1]} bands, the grid {wl.size} wavelengths")
        n = Rrs.shape[0]
        if future is None:
            future = np.full_like(Rrs, np.nan)
        future = np.asarray(future, dtype=np.float32)
        if future.shape != Rrs.shape:
            raise ValueError(f"PixelSpectra: future must have Rrs's shape {Rrs.shape}, got {future.shape}")
        self.time = None if time is None else np.asarray(time).astype("datetime64[s]")
        if self.time is not None and self.time.shape != (n,):
            raise ValueError(f"PixelSpectra: time must be ({n},), got shape {self.time.shape}")
        self.wavelengths = wl
        self.index_names = tuple(index_names)
        if indices is None:
            indices = index_targets(Rrs, wl, self.index_names)
        self.values = torch.from_numpy(Rrs)
        self.observed = torch.isfinite(self.values)
        self.future = torch.from_numpy(future)
        self.future_observed = torch.isfinite(self.future)
        self.has_future = self.future_observed.any(1)
        self.indices = torch.as_tensor(np.asarray(indices, dtype=np.float32))
        self.transforms = transforms

    def __len__(self) -> int:
        return self.values.shape[0]

    def __getitem__(self, index) -> dict[str, torch.Tensor]:
        sample = {
            "values": self.values[index],
            "observed": self.observed[index],
            "future": self.future[index],
            "future_observed": self.future_observed[index],
            "has_future": self.has_future[index],
            "indices": self.indices[index],
        }
        return sample if self.transforms is None else self.transforms(sample)

    def subset(self, rows) -> PixelSpectra:
        """The rows ``rows`` as a new dataset, reusing the index targets already computed."""
        rows = np.asarray(rows)
        return PixelSpectra(self.values.numpy()[rows], None if self.time is None else self.time[rows],
                            self.future.numpy()[rows], self.wavelengths, self.index_names, self.transforms,
                            indices=self.indices.numpy()[rows])

    def index_statistics(self) -> dict:
        """Mean and std of every index target over this dataset (call it on the training split)."""
        mean, std = nan_mean_std(self.indices, min_std=1e-12)
        return {"names": list(self.index_names), "mean": mean.tolist(), "std": std.tolist()}


def split_by_date(times, fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, validation)`` with whole days held out: about ``fraction`` of the *dates*.

    Never a random split of pixels: neighbouring pixels of one scene are nearly identical, so a pixel split
    would leak the validation scene into training. With one date only, validation is empty.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"split_by_date: fraction must lie in [0, 1), got {fraction}")
    days = np.asarray(times).astype("datetime64[D]")
    dates = np.unique(days)
    n_val = int(round(fraction * dates.size)) if dates.size > 1 else 0
    n_val = min(max(n_val, 1 if fraction > 0 and dates.size > 1 else 0), dates.size - 1)
    held_out = np.random.default_rng(seed).permutation(dates)[:n_val]
    is_val = np.isin(days, held_out)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def synthetic_spectra(n: int, seed: int = 0, wavelengths="paper122", n_dates: int = 20,
                      future_fraction: float = 0.7, noise: float = 0.02) -> dict[str, np.ndarray]:
    """A SYNTHETIC pixel table (not the Lake Erie twin): ``n`` spectra of :func:`spectm.physics.simulate_rrs`.

    Water types are drawn at random (log-normal chlorophyll, phycocyanin, CDOM and mineral solids, with a
    bloom sub-population rich in phycocyanin); each spectrum gets 2 % multiplicative and 1e-5 sr-1 additive
    Gaussian noise; bands in the OCI gap are NaN. ``future`` is the same pixel with concentrations drifted
    by up to about 30 % (NaN rows for the ``1 - future_fraction`` without a pair). Returns numpy arrays
    ``Rrs``, ``future``, ``time`` and the concentrations ``chl``, ``pc``, ``ag440``, ``tss``.
    """
    rng = np.random.default_rng(seed)
    wl = as_wavelengths(wavelengths)
    bloom = rng.random(n) < 0.3
    chl = np.exp(rng.normal(np.where(bloom, 3.5, 1.5), 0.8))
    pc = chl * np.exp(rng.normal(np.where(bloom, 0.0, -2.0), 0.5))
    ag440 = np.exp(rng.normal(-0.5, 0.6, n))
    tss = np.exp(rng.normal(1.5, 0.7, n))

    def observe(*concentrations):
        Rrs = simulate_rrs(*concentrations, wl, dtype=np.float64)
        Rrs = Rrs * (1 + noise * rng.standard_normal(Rrs.shape)) + 1e-5 * rng.standard_normal(Rrs.shape)
        Rrs[:, gap_mask(wl).values] = np.nan
        return Rrs.astype(np.float32)

    drift = np.exp(rng.normal(0.0, 0.3, (4, n)))
    future = observe(chl * drift[0], pc * drift[1], ag440 * drift[2], tss * drift[3])
    future[rng.random(n) >= future_fraction] = np.nan
    start = np.datetime64("2024-06-01T16:00:00")
    time = start + rng.integers(0, n_dates, n) * np.timedelta64(1, "D")
    return {"Rrs": observe(chl, pc, ag440, tss), "future": future, "time": time,
            "chl": chl, "pc": pc, "ag440": ag440, "tss": tss, "wavelength": wl}


def from_pixel_table(table: xr.Dataset, lead_days: int = 8, max_distance_km: float = 1.0, **options) -> PixelSpectra:
    """The pretraining dataset of a pixel table (:func:`spectm.data.pixels.build_pixel_table`).

    Each pixel gets as ``future`` the spectrum of its 8-day partner (:func:`spectm.data.matchup.future_pairs`:
    the nearest valid pixel ``lead_days`` later within ``max_distance_km``), NaN where none exists.
    """
    from spectm.data.matchup import future_pairs

    Rrs = np.asarray(table["Rrs"].values, dtype=np.float32)
    future = np.full_like(Rrs, np.nan)
    pairs = future_pairs(table, lead_days=lead_days, max_distance_km=max_distance_km, with_spectra=False)
    future[pairs["pixel_index"].values] = Rrs[pairs["future_index"].values]
    return PixelSpectra(Rrs, table["time"].values, future, table["wavelength"].values, **options)


def _numeric_spectra(table: dict, path) -> np.ndarray:
    try:
        rrs = np.asarray(table["Rrs"], dtype=np.float32)
    except (TypeError, ValueError):
        raise DataFormatError(path, "Rrs", "numbers (Rrs in sr^-1)",
                              found=f"dtype {np.asarray(table['Rrs']).dtype}") from None
    if rrs.ndim != 2 or rrs.shape[0] == 0:
        raise DataFormatError(path, "Rrs", "a (pixel, wavelength) array with at least one pixel",
                              found=f"shape {rrs.shape}")
    return rrs


def check_pixel_table(table: dict, path) -> None:
    """Refuse, with one :class:`DataFormatError`, a pixel table pretraining cannot learn from.

    A table whose every value is NaN or infinite trains to a loss of exactly 0 and says nothing, so it is
    refused too, as are a band count that is not the grid's, times that are not times, one per pixel.
    """
    rrs = _numeric_spectra(table, path)
    wavelengths = table.get("wavelength")
    grid = "the paper122 grid" if wavelengths is None else "the table's wavelength field"
    n_bands = wavelength_grid("paper122").size if wavelengths is None else np.asarray(wavelengths).size
    if rrs.shape[1] != n_bands:
        raise DataFormatError(path, "Rrs", f"{n_bands} bands, one per wavelength of {grid}",
                              found=f"{rrs.shape[1]} bands")
    try:
        times = np.asarray(table["time"]).astype("datetime64[s]")
    except (TypeError, ValueError) as error:
        raise DataFormatError(path, "time", "acquisition times (datetime64 or ISO text)",
                              found=str(error)) from None
    if times.shape != rrs.shape[:1]:
        raise DataFormatError(path, "time", f"one time per pixel ({rrs.shape[0]})",
                              found=f"shape {times.shape}")
    future = table.get("future")
    if future is not None and np.shape(future) != rrs.shape:
        raise DataFormatError(path, "future", f"Rrs's shape {rrs.shape}", found=f"shape {np.shape(future)}")
    if not np.isfinite(rrs).any():
        raise DataFormatError(path, "Rrs", "at least one finite value",
                              found=f"only NaN or infinity in {rrs.shape[0]} pixels")


def load_pixel_table(path) -> dict[str, np.ndarray]:
    """A pixel table from ``.npz`` or netCDF: ``Rrs`` (pixel, wavelength), ``time`` (pixel), optional
    ``future`` (pixel, wavelength) and ``wavelength`` (nm). Missing fields are named in the error. Files
    written before the field was spelled ``Rrs`` (``rrs``) are read too."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"pixel table {path} does not exist (expected .npz or .nc with Rrs and time)")
    refuse_special_file(path, "a pixel table: .npz or netCDF")
    try:
        if path.suffix == ".npz":
            with np.load(path) as f:
                table = {key: f[key] for key in f.files}
        else:
            with xr.open_dataset(path) as ds:
                if "Rrs" in ds and "future" not in ds and {"latitude", "longitude"} <= set(ds.variables):
                    # a pixel table of spectm.data.pixels: the 8-day pairs are found here
                    spectra = from_pixel_table(ds.load())
                    table = {"Rrs": spectra.values.numpy(), "time": spectra.time,
                             "future": spectra.future.numpy(), "wavelength": spectra.wavelengths}
                else:
                    table = {name: ds[name].values for name in ("Rrs", "rrs", "time", "future") if name in ds}
                    if "wavelength" in ds.coords:
                        table["wavelength"] = ds["wavelength"].values
    except DataFormatError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:  # not a table at all
        reason = (str(error).splitlines() or [""])[0]  # xarray's own message runs over several lines
        raise DataFormatError(path, "file", "a pixel table: .npz or netCDF with Rrs and time",
                              found=f"{type(error).__name__}: {reason}") from error
    if "rrs" in table and "Rrs" not in table:
        table["Rrs"] = table.pop("rrs")
    for field in ("Rrs", "time"):
        if field not in table:
            raise DataFormatError(path, field, "Rrs and time fields",
                                  found=f"{field!r} missing (has {', '.join(table)})")
    check_pixel_table(table, path)
    return table
