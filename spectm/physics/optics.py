"""A semi-analytical forward model of lake-water remote-sensing reflectance Rrs (sr^-1).

Why: the Lake Erie twin needs spectra whose pigment features (the 620 nm phycocyanin trough, the
675 nm chlorophyll trough, the 681 nm fluorescence bump, the 700-710 nm red-edge peak) respond to
known concentrations, so that masking those bands and predicting them from context can be scored.

Model (every constant, with its source, is in ``spectm/resources/optics/constants.json``):

- absorption ``a = aw + aph + apc + ag + anap`` (1/m)

  - ``aw``: pure water, Williamson & Hollins (2022) / Buiteveld et al. (1994) table (via jerlov 0.22.0);
  - ``aph = Aphi * Chl^Ephi`` (Bricaud et al. 1998). Above Chl = 25 mg m-3 (the top of Bricaud's fit)
    the spectrum at 25 is scaled linearly, ``aph(Chl) = aph(25) * Chl / 25``, because the fitted
    exponents become unphysical there (aph(550) > aph(490) at 100 mg m-3). Below 400 nm Aphi and Ephi
    are held at their 400 nm values; above 700 nm Aphi decays as ``exp(-(l - 700)/10 nm)``;
    the red band (640-710 nm, Bricaud's shape above a straight baseline) is lifted so that the
    chl-specific absorption at 665 nm is at least Gons' (1999) 0.0161 m2 mg-1 for turbid eutrophic
    lakes (Bricaud's oceanic law gives ~0.008 above 25 mg m-3, half of it: too weak a red trough
    and too weak a red edge for Lake Erie blooms);
  - ``apc = PC * a*pc(620) * s(l)``, a*pc(620) = 0.0095 m2 mg-1 (Simis 2005), with ``s`` the measured
    C-phycocyanin band of Patel et al. (2005) relative to 620 nm (``phycocyanin_patel2005.csv``): an
    asymmetric band with a broad blue shoulder (half the peak at 565 nm), zero above 680 nm;
  - ``ag = ag440 * exp(-0.0176 (l - 440))`` (CDOM, Babin et al. 2003 slope);
  - ``anap = 0.04 * TSS * exp(-0.011 (l - 440))`` (non-algal particles; TSS in g m-3).
- backscatter ``bb = bbw + bbp`` (1/m)

  - ``bbw``: Morel's pure-water formula as in Boss & Pegau (2001), fresh water (S = 0);
  - ``bbp = 0.01 * 0.347 Chl^0.766 * (660 / l)`` (Morel & Maritorena 2001 bp, ratio 0.01)
    ``+ 0.015 * TSS * (555 / l)^0.5`` (mineral particles).
- reflectance (Lee et al. 2002): ``u = bb/(a + bb)``, ``rrs = u (0.089 + 0.125 u)``,
  ``Rrs = 0.52 rrs / (1 - 1.7 rrs)``.
- chlorophyll fluorescence is an *added Rrs term* (not an IOP): a Gaussian at 685 nm, sigma 10.6 nm,
  peak ``5e-4 * Chl / (Chl + 5)`` sr^-1, which saturates as reabsorption grows in dense blooms.

All functions broadcast their concentration arguments (any shape) and return a trailing wavelength
axis; the per-wavelength tables are computed once per wavelength grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import xarray as xr

from spectm.bands import as_wavelengths
from spectm.physics.tables import bricaud_table, constants, phycocyanin_shape_table, water_absorption_table

RRS_ATTRS = {
    "units": "sr-1",
    "long_name": "remote-sensing reflectance",
    "standard_name": (
        "surface_ratio_of_upwelling_radiance_emerging_from_sea_water_to_downwelling_radiative_flux_in_air"
    ),
    "source": "spectm.physics.optics semi-analytical model (Lee et al. 2002 reflectance, Bricaud 1998 aph)",
}


def pure_water_absorption(wavelengths) -> np.ndarray:
    """Pure-water absorption aw (1/m), linear between the 1 nm table's points (300-800 nm)."""
    wl = as_wavelengths(wavelengths, positive=True)
    table = water_absorption_table()
    lo, hi = table["wavelength_nm"][0], table["wavelength_nm"][-1]
    if wl.min() < lo or wl.max() > hi:
        raise ValueError(
            f"pure-water absorption table covers {lo:g}-{hi:g} nm; requested {wl.min():g}-{wl.max():g} nm"
        )
    return np.interp(wl, table["wavelength_nm"], table["aw_per_m"])


def pure_water_backscattering(wavelengths, salinity: float | None = None) -> np.ndarray:
    """Pure-water backscatter bbw (1/m): Morel's formula as written by Boss & Pegau (2001).

    ``beta_w(theta) = A (1 + r cos^2 theta)`` with ``A = 1.38e-4 (l/500)^-4.32 (1 + 0.3 S/37)`` and
    ``r = (1 - delta)/(1 + delta)``, delta = 0.09; integrated over the backward hemisphere this is
    ``bbw = 2 pi A (1 + r/3)``. Salinity defaults to 0 (Lake Erie is fresh).
    """
    k = constants()
    wl = as_wavelengths(wavelengths, positive=True)
    salinity = k["water_salinity"] if salinity is None else float(salinity)
    spectral = (wl / 500.0) ** -k["water_vsf_exponent"]
    amplitude = k["water_vsf90_500nm"] * spectral * (1 + 0.3 * salinity / 37.0)
    delta = k["water_depolarisation_ratio"]
    ratio = (1 - delta) / (1 + delta)
    return 2 * np.pi * amplitude * (1 + ratio / 3)


def bricaud_coefficients(wavelengths) -> tuple[np.ndarray, np.ndarray]:
    """``(Aphi, Ephi)`` of Bricaud et al. (1998) on any grid, extended outside 400-700 nm.

    Linear interpolation inside the 2 nm table; below 400 nm both are held at 400 nm; above 700 nm
    Ephi is held and Aphi decays with a 10 nm e-folding (the table's own 690-700 nm decay rate).
    """
    wl = as_wavelengths(wavelengths, positive=True)
    table = bricaud_table()
    x = table["wavelength_nm"]
    aphi = np.interp(wl, x, table["aphi_m2_per_mg"])
    ephi = np.interp(wl, x, table["ephi"])
    above = wl > x[-1]
    aphi[above] *= np.exp(-(wl[above] - x[-1]) / constants()["aph_red_tail_efolding_nm"])
    return aphi, ephi


@dataclass(frozen=True)
class SpectralBasis:
    """Everything of the model that depends on wavelength only, for one grid (computed once)."""

    wavelength: np.ndarray
    aw: np.ndarray
    bbw: np.ndarray
    aphi: np.ndarray
    ephi: np.ndarray
    apc_star: np.ndarray  # m2 mg-1
    cdom_shape: np.ndarray  # ag(l)/ag(440)
    nap_specific: np.ndarray  # m2 g-1
    bbp_phyto_shape: np.ndarray  # bbp(l)/bbp(660)
    bbp_mineral_specific: np.ndarray  # m2 g-1
    fluorescence_shape: np.ndarray  # peak-normalised Gaussian
    red_band_shape: np.ndarray  # Bricaud's 640-710 nm chl-a band above its baseline, 1 at 665 nm
    aphi_665: float
    ephi_665: float


@lru_cache(maxsize=32)
def _basis_cached(wavelengths: tuple[float, ...]) -> SpectralBasis:
    k = constants()
    wl = np.asarray(wavelengths)
    aphi, ephi = bricaud_coefficients(wl)
    fields = dict(
        wavelength=wl,
        aw=pure_water_absorption(wl),
        bbw=pure_water_backscattering(wl),
        aphi=aphi,
        ephi=ephi,
        apc_star=k["apc_star_620"] * _phycocyanin_shape(wl),
        cdom_shape=np.exp(-k["cdom_slope"] * (wl - 440.0)),
        nap_specific=k["nap_specific_440"] * np.exp(-k["nap_slope"] * (wl - 440.0)),
        bbp_phyto_shape=(660.0 / wl) ** k["bbp_slope_phytoplankton"],
        bbp_mineral_specific=k["bbp_mineral_specific_555"] * (555.0 / wl) ** k["bbp_slope_mineral"],
        fluorescence_shape=np.exp(
            -0.5 * ((wl - k["fluorescence_centre_nm"]) / k["fluorescence_sigma_nm"]) ** 2
        ),
        red_band_shape=_red_band_shape(wl),
    )
    for array in fields.values():
        array.flags.writeable = False
    aphi_665, ephi_665 = (float(v[0]) for v in bricaud_coefficients([665.0]))
    return SpectralBasis(**fields, aphi_665=aphi_665, ephi_665=ephi_665)


def _phycocyanin_shape(wl: np.ndarray) -> np.ndarray:
    """Phycocyanin absorption relative to 620 nm (Patel et al. 2005), 0 outside the 400-700 nm table."""
    table = phycocyanin_shape_table()
    x, y = table["wavelength_nm"], table["relative_absorption"]
    return np.interp(wl, x, y, left=0.0, right=0.0) / np.interp(620.0, x, y)


def _red_band_shape(wl: np.ndarray) -> np.ndarray:
    """Bricaud's red chl-a absorption band above a straight 640-710 nm baseline, normalised at 665 nm."""
    lo, hi = constants()["aph_red_band_nm"], 710.0
    aphi = bricaud_coefficients(np.array([lo, 665.0, hi]))[0]
    grid = np.clip(wl, lo, hi)
    band = bricaud_coefficients(grid)[0] - np.interp(grid, [lo, hi], [aphi[0], aphi[2]])
    at_665 = aphi[1] - np.interp(665.0, [lo, hi], [aphi[0], aphi[2]])
    return np.where((wl > lo) & (wl < hi), np.maximum(band, 0.0) / at_665, 0.0)


def _gons_lift(chl: np.ndarray, basis: SpectralBasis) -> np.ndarray:
    """Extra chl-specific absorption at 665 nm (m2 mg-1) that lifts Bricaud's red band to Gons'."""
    log_capped, scale = _chl_terms(chl)
    bricaud_665 = basis.aphi_665 * np.exp(basis.ephi_665 * log_capped) * scale / np.maximum(chl, 1e-12)
    return np.maximum(constants()["aph_star_665_turbid_lake"] - bricaud_665, 0.0)


def spectral_basis(wavelengths) -> SpectralBasis:
    """The per-wavelength tables of the model on ``wavelengths`` (cached per grid)."""
    return _basis_cached(tuple(as_wavelengths(wavelengths, positive=True).tolist()))


def _concentration(value, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if np.any(array < 0):
        raise ValueError(f"{name} must be >= 0 (got a minimum of {np.nanmin(array):g})")
    return array


def _chl_terms(chl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log of the Bricaud concentration (capped at 25) and the linear scale factor above it."""
    cap = constants()["bricaud_linear_above_chl"]
    with np.errstate(divide="ignore"):
        log_capped = np.log(np.minimum(chl, cap))
    return log_capped, np.maximum(chl / cap, 1.0)


def phytoplankton_absorption(chl, wavelengths) -> np.ndarray:
    """aph (1/m), shape ``chl.shape + (n_wavelengths,)``: Bricaud 1998, linear above 25 mg m-3."""
    chl = _concentration(chl, "chl")
    basis = spectral_basis(wavelengths)
    log_capped, scale = _chl_terms(chl)
    bricaud = basis.aphi * np.exp(basis.ephi * log_capped[..., None]) * scale[..., None]
    return bricaud + (_gons_lift(chl, basis) * chl)[..., None] * basis.red_band_shape


def phycocyanin_absorption(pc, wavelengths) -> np.ndarray:
    """apc (1/m) for phycocyanin ``pc`` (mg m-3): Patel et al. (2005) band shape, a*pc(620) = 0.0095 m2 mg-1."""
    return _concentration(pc, "pc")[..., None] * spectral_basis(wavelengths).apc_star


def cdom_absorption(ag440, wavelengths) -> np.ndarray:
    """ag (1/m) = ag440 exp(-0.0176 (l - 440))."""
    return _concentration(ag440, "ag440")[..., None] * spectral_basis(wavelengths).cdom_shape


def nap_absorption(tss, wavelengths) -> np.ndarray:
    """Non-algal particle absorption (1/m) from suspended solids ``tss`` (g m-3)."""
    return _concentration(tss, "tss")[..., None] * spectral_basis(wavelengths).nap_specific


def _bbp660_phyto(chl: np.ndarray) -> np.ndarray:
    k = constants()
    return k["bbp_ratio_phytoplankton"] * k["bp660_coefficient"] * chl ** k["bp660_exponent"]


def phytoplankton_backscattering(chl, wavelengths) -> np.ndarray:
    """Phytoplankton-associated bbp (1/m): 0.01 x Morel & Maritorena (2001) bp(660), times 660/l."""
    chl = _concentration(chl, "chl")
    return _bbp660_phyto(chl)[..., None] * spectral_basis(wavelengths).bbp_phyto_shape


def mineral_backscattering(tss, wavelengths) -> np.ndarray:
    """Mineral bbp (1/m) = 0.015 m2 g-1 x TSS x (555/l)^0.5."""
    return _concentration(tss, "tss")[..., None] * spectral_basis(wavelengths).bbp_mineral_specific


def _fluorescence_peak(chl: np.ndarray) -> np.ndarray:
    k = constants()
    return k["fluorescence_max_rrs"] * chl / (chl + k["fluorescence_half_saturation_chl"])


def fluorescence_rrs(chl, wavelengths) -> np.ndarray:
    """Chlorophyll fluorescence added to Rrs (sr^-1): saturating Gaussian at 685 nm, sigma 10.6 nm."""
    chl = _concentration(chl, "chl")
    return _fluorescence_peak(chl)[..., None] * spectral_basis(wavelengths).fluorescence_shape


def rrs_from_iops(a, bb, g0: float | None = None, g1: float | None = None):
    """Above-water Rrs (sr^-1) from total absorption and backscatter (Lee et al. 2002).

    ``u = bb/(a + bb)``, ``rrs = u (g0 + g1 u)`` with g0 = 0.089, g1 = 0.125 (pass QAA v6's 0.08945 and
    0.1247 if wanted), then ``Rrs = 0.52 rrs / (1 - 1.7 rrs)``. Works on numpy arrays and xarray objects.
    """
    k = constants()
    g0 = k["lee_g0"] if g0 is None else g0
    g1 = k["lee_g1"] if g1 is None else g1
    u = bb / (a + bb)
    rrs = u * (g0 + g1 * u)
    return k["lee_above_surface_numerator"] * rrs / (1 - k["lee_above_surface_denominator"] * rrs)


def backscattering_from_rrs(rrs_above, a, g0: float | None = None, g1: float | None = None):
    """Invert :func:`rrs_from_iops` for bb given Rrs and a (QAA steps 1-2 and Lee's quadratic)."""
    k = constants()
    g0 = k["lee_g0"] if g0 is None else g0
    g1 = k["lee_g1"] if g1 is None else g1
    rrs = rrs_above / (k["lee_above_surface_numerator"] + k["lee_above_surface_denominator"] * rrs_above)
    u = (-g0 + (g0**2 + 4 * g1 * rrs) ** 0.5) / (2 * g1)
    return u * a / (1 - u)


def _simulate_block(chl, pc, ag440, tss, basis: SpectralBasis, fluorescence: bool, out, a, bb) -> None:
    """Rrs of one block of flat pixel vectors into ``out`` (pixels, bands).

    ``a`` and ``bb`` are work buffers of the same shape, reused across blocks: every step is an
    in-place broadcast of a per-pixel column against a per-band row, so a block stays in cache and no
    large temporaries are allocated (this is what makes ~1e6 spectra affordable).
    """
    k = constants()
    dtype = out.dtype

    def column(values):
        return np.asarray(values, dtype=dtype)[:, None]

    def row(values):
        return np.asarray(values, dtype=dtype)

    log_capped, scale = _chl_terms(chl)
    np.multiply(column(log_capped), row(basis.ephi), out=a)
    np.exp(a, out=a)
    a *= row(basis.aphi)
    a *= column(scale)
    np.multiply(column(_gons_lift(chl, basis) * chl), row(basis.red_band_shape), out=out)
    a += out  # a = aph
    a += row(basis.aw)
    for concentration, shape in ((pc, basis.apc_star), (ag440, basis.cdom_shape), (tss, basis.nap_specific)):
        np.multiply(column(concentration), row(shape), out=out)
        a += out
    np.multiply(column(_bbp660_phyto(chl)), row(basis.bbp_phyto_shape), out=bb)
    np.multiply(column(tss), row(basis.bbp_mineral_specific), out=out)
    bb += out
    bb += row(basis.bbw)
    a += bb  # a + bb
    u = np.divide(bb, a, out=out)
    rrs = np.multiply(u, k["lee_g1"], out=bb)
    rrs += k["lee_g0"]
    rrs *= u  # below-surface rrs = u (g0 + g1 u)
    denominator = np.multiply(rrs, -k["lee_above_surface_denominator"], out=a)
    denominator += 1.0
    np.divide(rrs, denominator, out=out)
    out *= k["lee_above_surface_numerator"]
    if fluorescence:
        np.multiply(column(_fluorescence_peak(chl)), row(basis.fluorescence_shape), out=a)
        out += a


def simulate_rrs(
    chl,
    pc,
    ag440,
    tss,
    wavelengths="paper122",
    *,
    fluorescence: bool = True,
    dtype=np.float64,
    block_size: int = 4096,
    as_xarray: bool = False,
):
    """Rrs (sr^-1) for concentrations that broadcast; returns shape ``broadcast_shape + (n_bands,)``.

    Args:
        chl: chlorophyll-a, mg m-3.
        pc: phycocyanin, mg m-3.
        ag440: CDOM absorption at 440 nm, 1/m.
        tss: non-algal (mineral) suspended solids, g m-3.
        wavelengths: grid name (``"paper122"``, ``"oci_rrs172"``, ...), coordinate, or 1-D nm values.
        fluorescence: add the 685 nm chlorophyll fluorescence term.
        dtype: output dtype; ``np.float32`` halves memory for large simulations.
        block_size: pixels per internal block (bounds the temporaries, not the result).
        as_xarray: return :func:`simulate_rrs_dataarray` instead of a numpy array.

    Negative concentrations raise ValueError; NaN inputs give NaN spectra.
    """
    if as_xarray:
        return simulate_rrs_dataarray(chl, pc, ag440, tss, wavelengths, fluorescence=fluorescence,
                                      dtype=dtype)
    basis = spectral_basis(wavelengths)
    arrays = np.broadcast_arrays(
        _concentration(chl, "chl"),
        _concentration(pc, "pc"),
        _concentration(ag440, "ag440"),
        _concentration(tss, "tss"),
    )
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(array).reshape(-1) for array in arrays]
    n_bands = basis.wavelength.size
    out = np.empty((flat[0].size, n_bands), dtype=dtype)
    work = np.empty((2, min(block_size, max(flat[0].size, 1)), n_bands), dtype=dtype)
    for start in range(0, flat[0].size, block_size):
        stop = min(start + block_size, flat[0].size)
        size = stop - start
        _simulate_block(*(array[start:stop] for array in flat), basis, fluorescence, out[start:stop],
                        work[0, :size], work[1, :size])
    return out.reshape(shape + (basis.wavelength.size,))


def _broadcast_inputs(values: dict, dims) -> tuple[dict[str, np.ndarray], tuple[str, ...], dict]:
    """Broadcast DataArray or numpy inputs; return numpy arrays, their dims and coords."""
    if any(isinstance(value, xr.DataArray) for value in values.values()):
        as_arrays = [v if isinstance(v, xr.DataArray) else xr.DataArray(v) for v in values.values()]
        arrays = xr.broadcast(*as_arrays)
        dims_out = arrays[0].dims
        coords = {name: coord for name, coord in arrays[0].coords.items()}
        return {k: a.values for k, a in zip(values, arrays)}, tuple(dims_out), coords
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in values.values()))
    ndim = arrays[0].ndim
    if dims is None:
        dims = ("sample",) if ndim == 1 else tuple(f"dim_{i}" for i in range(ndim))
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
    if len(dims) != ndim:
        raise ValueError(f"dims {dims} do not match the {ndim}-D broadcast shape {arrays[0].shape}")
    return dict(zip(values, arrays)), dims, {}


def _wavelength_coord(wl: np.ndarray) -> dict:
    return {"wavelength": ("wavelength", wl, {"units": "nm", "long_name": "band centre wavelength",
                                             "standard_name": "radiation_wavelength"})}


def simulate_rrs_dataarray(chl, pc, ag440, tss, wavelengths="paper122", *, dims=None, fluorescence=True,
                           dtype=np.float64) -> xr.DataArray:
    """:func:`simulate_rrs` as a DataArray ``(*dims, wavelength)`` with CF attributes.

    DataArray inputs keep their dims and coords; numpy inputs get ``dims`` (default ``sample`` for 1-D).
    """
    values, dims_out, coords = _broadcast_inputs({"chl": chl, "pc": pc, "ag440": ag440, "tss": tss}, dims)
    wl = as_wavelengths(wavelengths, positive=True)
    rrs = simulate_rrs(values["chl"], values["pc"], values["ag440"], values["tss"], wl,
                       fluorescence=fluorescence, dtype=dtype)
    return xr.DataArray(rrs, dims=dims_out + ("wavelength",), coords={**coords, **_wavelength_coord(wl)},
                        name="Rrs", attrs=dict(RRS_ATTRS))


_IOP_ATTRS = {
    "aw": ("absorption by pure water", "m-1"),
    "aph": ("absorption by phytoplankton (chlorophyll-a, Bricaud 1998)", "m-1"),
    "apc": ("absorption by phycocyanin", "m-1"),
    "ag": ("absorption by CDOM", "m-1"),
    "anap": ("absorption by non-algal particles", "m-1"),
    "a": ("total absorption", "m-1"),
    "bbw": ("backscattering by pure water", "m-1"),
    "bbp_phytoplankton": ("backscattering by phytoplankton-associated particles", "m-1"),
    "bbp_mineral": ("backscattering by mineral particles", "m-1"),
    "bb": ("total backscattering", "m-1"),
    "rrs_fluorescence": ("chlorophyll fluorescence added to Rrs", "sr-1"),
    "Rrs": ("remote-sensing reflectance", "sr-1"),
}


def iop_spectra(chl, pc, ag440, tss, wavelengths="paper122", *, dims=None, fluorescence=True) -> xr.Dataset:
    """Each constituent's absorption and backscatter, the totals and Rrs, as a Dataset (for plots).

    Scalars give 1-D spectra over ``wavelength``; arrays broadcast as in :func:`simulate_rrs_dataarray`.
    """
    values, dims_out, coords = _broadcast_inputs({"chl": chl, "pc": pc, "ag440": ag440, "tss": tss}, dims)
    wl = as_wavelengths(wavelengths, positive=True)
    chl, pc, ag440, tss = values["chl"], values["pc"], values["ag440"], values["tss"]
    shape = chl.shape + (wl.size,)
    parts = {
        "aw": np.broadcast_to(pure_water_absorption(wl), shape),
        "aph": phytoplankton_absorption(chl, wl),
        "apc": phycocyanin_absorption(pc, wl),
        "ag": cdom_absorption(ag440, wl),
        "anap": nap_absorption(tss, wl),
    }
    parts["a"] = sum(parts[name] for name in ("aw", "aph", "apc", "ag", "anap"))
    parts["bbw"] = np.broadcast_to(pure_water_backscattering(wl), shape)
    parts["bbp_phytoplankton"] = phytoplankton_backscattering(chl, wl)
    parts["bbp_mineral"] = mineral_backscattering(tss, wl)
    parts["bb"] = parts["bbw"] + parts["bbp_phytoplankton"] + parts["bbp_mineral"]
    parts["rrs_fluorescence"] = fluorescence_rrs(chl, wl) * (1.0 if fluorescence else 0.0)
    parts["Rrs"] = rrs_from_iops(parts["a"], parts["bb"]) + parts["rrs_fluorescence"]
    full_dims = dims_out + ("wavelength",)
    data_vars = {
        name: xr.DataArray(np.array(array), dims=full_dims, attrs={"long_name": _IOP_ATTRS[name][0],
                                                                   "units": _IOP_ATTRS[name][1]})
        for name, array in parts.items()
    }
    data_vars["Rrs"].attrs.update(RRS_ATTRS)
    inputs = {
        "chl": ("mass concentration of chlorophyll-a", "mg m-3"),
        "pc": ("mass concentration of phycocyanin", "mg m-3"),
        "ag440": ("CDOM absorption at 440 nm", "m-1"),
        "tss": ("mass concentration of non-algal suspended solids", "g m-3"),
    }
    for name, (long_name, units) in inputs.items():
        attrs = {"long_name": long_name, "units": units}
        data_vars[name] = xr.DataArray(values[name], dims=dims_out, attrs=attrs)
    return xr.Dataset(data_vars, coords={**coords, **_wavelength_coord(wl)},
                      attrs={"title": "spectm semi-analytical IOP and Rrs spectra",
                             "references": "Lee et al. 2002; Bricaud et al. 1998; Simis et al. 2005; "
                                           "Morel & Maritorena 2001; Boss & Pegau 2001; "
                                           "Williamson & Hollins 2022"})
