"""Bio-optical pigment indices on Rrs spectra held as xarray DataArrays.

Why: the indices are what a water-quality analyst reads from the diagnostic bands; SpecTM's index
head predicts them, and the book uses them to check that reconstructed spectra keep the pigment signal.

Every function takes a DataArray with a ``wavelength`` coordinate (nm) in any position and any other
dims, and returns a DataArray over the other dims (their coords kept) with ``long_name``, ``units``,
``reference`` and ``bands_nm`` attributes.

Band lookup (:func:`band`): a band is read "at" a wavelength l when the spectrum has a band within
``BAND_TOLERANCE_NM`` = 1.5 nm of l. If a band sits exactly at l (to 1e-6 nm) it is used; otherwise, if
the nearest band below *and* the nearest band above l are both within the tolerance, the value is
linearly interpolated between them; otherwise the nearest band within tolerance is used as is. A
needed band farther away raises ValueError naming the index, the band and the spectrum's range; a band
that exists but holds NaN gives NaN.

Band choices hold on both the model grid ``paper122`` (415-717.5 nm at 2.5 nm, 590-610 nm carried as
missing) and the native OCI grid ``oci_rrs172`` (no bands between 588.1 and 612.7 nm, none above
719.3 nm), which is why no index here uses 600 nm (Dekker, Mishra), 725 nm (Hunter) or 754/778 nm
(MCI, Simis's bb).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from spectm.physics.optics import backscattering_from_rrs, pure_water_absorption
from spectm.physics.tables import constants

#: Largest distance (nm) from a requested wavelength to a band that may stand in for it.
BAND_TOLERANCE_NM = 1.5

#: Wavelength (nm) where Simis-type retrievals here take bb from, assuming water dominates absorption.
SIMIS_BB_BAND_NM = 715.0

_EXACT_NM = 1e-6


def _check_spectrum(Rrs, index: str) -> None:
    if not isinstance(Rrs, xr.DataArray):
        raise TypeError(
            f"{index} needs an xarray.DataArray with a 'wavelength' dimension, got {type(Rrs).__name__}"
        )
    if "wavelength" not in Rrs.dims:
        raise ValueError(f"{index} needs a 'wavelength' dimension (nm); this array has dims {Rrs.dims}")


def band(Rrs: xr.DataArray, wavelength_nm: float, *, index: str = "band",
         tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """The spectrum "at" ``wavelength_nm`` under the module's lookup rule, without the wavelength dim."""
    _check_spectrum(Rrs, index)
    wl = np.asarray(Rrs["wavelength"].values, dtype=np.float64)
    offsets = wl - wavelength_nm
    distance = np.abs(offsets)
    finite = np.isfinite(distance)
    if not finite.any() or distance[finite].min() > tolerance_nm:
        span = f"{np.nanmin(wl):.1f}-{np.nanmax(wl):.1f} nm" if finite.any() else "no valid wavelengths"
        raise ValueError(
            f"{index} needs a band at {wavelength_nm:g} nm (+-{tolerance_nm:g} nm); "
            f"this spectrum's wavelengths span {span}"
        )
    wavelength_coords = [name for name, coord in Rrs.coords.items() if "wavelength" in coord.dims]
    spectrum = Rrs.drop_vars(wavelength_coords)
    nearest = int(np.nanargmin(distance))
    if distance[nearest] > _EXACT_NM:
        below = np.where(finite & (offsets < 0) & (distance <= tolerance_nm))[0]
        above = np.where(finite & (offsets > 0) & (distance <= tolerance_nm))[0]
        if below.size and above.size:
            lo = below[np.argmin(distance[below])]
            hi = above[np.argmin(distance[above])]
            weight = (wavelength_nm - wl[lo]) / (wl[hi] - wl[lo])
            return (1 - weight) * spectrum.isel(wavelength=lo) + weight * spectrum.isel(wavelength=hi)
    return spectrum.isel(wavelength=nearest)


def baseline_height(Rrs: xr.DataArray, centre: float, lower: float, upper: float, *,
                    index: str = "baseline_height", tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """``R_c - [R_lo + (R_hi - R_lo)(c - lo)/(hi - lo)]``: height of ``centre`` above the lower-upper line.

    This is the spectral shape SS of Wynne et al. (2008) and the line height of FLH/MCI.
    """
    r_lo = band(Rrs, lower, index=index, tolerance_nm=tolerance_nm)
    r_c = band(Rrs, centre, index=index, tolerance_nm=tolerance_nm)
    r_hi = band(Rrs, upper, index=index, tolerance_nm=tolerance_nm)
    return r_c - (r_lo + (r_hi - r_lo) * (centre - lower) / (upper - lower))


def _finish(result: xr.DataArray, Rrs: xr.DataArray, name: str, long_name: str, units: str | None,
            reference: str, bands: tuple[float, ...], tolerance_nm: float) -> xr.DataArray:
    result = result.rename(name)
    result.attrs = {
        "long_name": long_name,
        "units": Rrs.attrs.get("units", "sr-1") if units is None else units,
        "reference": reference,
        "bands_nm": ", ".join(f"{b:g}" for b in bands),
        "band_tolerance_nm": tolerance_nm,
    }
    return result


def cyanobacteria_index(Rrs: xr.DataArray, *, tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """Cyanobacteria Index CI = -SS(681) with baseline 665-709 nm.

    Reference: Wynne et al. (2008), Int. J. Remote Sens. 29:3665 (NOAA Lake Erie HAB bulletin; OCSSW
    ``get_hab.c``). Computed on Rrs with no sensor factor (OCSSW's OLCI fac = 1.052 and w = 0.99 are not
    applied).
    """
    ss681 = baseline_height(Rrs, 681.0, 665.0, 709.0, index="cyanobacteria_index", tolerance_nm=tolerance_nm)
    return _finish(-ss681, Rrs, "ci", "Cyanobacteria Index (-SS681, 665/681/709 nm)", None,
                   "Wynne et al. 2008, IJRS 29:3665", (665, 681, 709), tolerance_nm)


def ss665(Rrs: xr.DataArray, *, tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """Spectral shape at 665 nm from 620 and 681 nm: the cyanobacteria test (cyanobacteria where >= 0).

    ``SS(665) = R665 - R620 + (R620 - R681)(665 - 620)/(681 - 620)``. Reference: Wynne & Stumpf (2015),
    Toxins 7:1649, as implemented in OCSSW ``get_hab.c`` (CIcyano versus CInoncyano).
    """
    result = baseline_height(Rrs, 665.0, 620.0, 681.0, index="ss665", tolerance_nm=tolerance_nm)
    return _finish(result, Rrs, "ss665",
                   "spectral shape at 665 nm (620/665/681 nm); >= 0 means cyanobacteria", None,
                   "Wynne & Stumpf 2015, Toxins 7:1649", (620, 665, 681), tolerance_nm)


def ci_cyano(Rrs: xr.DataArray, *, tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """CI where SS(665) >= 0 (cyanobacteria), else 0; NaN where either is NaN.

    Reference: Wynne & Stumpf (2015), Toxins 7:1649 (the CIcyano product of OCSSW ``get_hab.c``).
    """
    ci = cyanobacteria_index(Rrs, tolerance_nm=tolerance_nm)
    shape = ss665(Rrs, tolerance_nm=tolerance_nm)
    result = xr.where(shape >= 0, ci, 0.0).where(ci.notnull() & shape.notnull())
    return _finish(result, Rrs, "ci_cyano", "Cyanobacteria Index where SS665 >= 0, else 0", None,
                   "Wynne & Stumpf 2015, Toxins 7:1649", (620, 665, 681, 709), tolerance_nm)


def ndci(Rrs: xr.DataArray, *, tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """Normalised Difference Chlorophyll Index (R708 - R665)/(R708 + R665).

    Reference: Mishra & Mishra (2012), Remote Sens. Environ. 117:394.
    """
    r708 = band(Rrs, 708.0, index="ndci", tolerance_nm=tolerance_nm)
    r665 = band(Rrs, 665.0, index="ndci", tolerance_nm=tolerance_nm)
    return _finish((r708 - r665) / (r708 + r665), Rrs, "ndci", "Normalised Difference Chlorophyll Index", "1",
                   "Mishra & Mishra 2012, RSE 117:394", (665, 708), tolerance_nm)


def flh(Rrs: xr.DataArray, *, tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """Fluorescence line height at 681 nm above the 665-709 nm baseline (MERIS bands).

    ``FLH = R681 - k R665 - (1 - k) R709`` with ``k = (709 - 681)/(709 - 665)``. With these bands FLH is
    exactly -CI (Wynne, Stumpf & Briggs 2013): dense blooms give negative FLH. References: Letelier &
    Abbott (1996), Remote Sens. Environ. 58:215; Gower et al. (1999), Int. J. Remote Sens. 20:1771.
    """
    result = baseline_height(Rrs, 681.0, 665.0, 709.0, index="flh", tolerance_nm=tolerance_nm)
    return _finish(result, Rrs, "flh", "fluorescence line height at 681 nm (665/681/709 nm)", None,
                   "Letelier & Abbott 1996; Gower et al. 1999", (665, 681, 709), tolerance_nm)


def red_edge_height(Rrs: xr.DataArray, *, tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """Height of the 709 nm red-edge peak above the 665-715 nm baseline.

    An MCI-like line height (Gower et al. 2005; Binding et al. 2013) moved inside OCI Rrs, which ends at
    719 nm: MCI's 754 nm baseline band is replaced by 715 nm, present on both paper122 and oci_rrs172.
    It grows with biomass because particle backscatter lifts 709 nm where pigment absorption has faded.
    """
    result = baseline_height(Rrs, 709.0, 665.0, 715.0, index="red_edge_height", tolerance_nm=tolerance_nm)
    return _finish(result, Rrs, "red_edge_height",
                   "red-edge height at 709 nm above the 665-715 nm baseline", None,
                   "after Gower et al. 2005 (MCI) and Binding et al. 2013, with 715 nm for 754 nm",
                   (665, 709, 715), tolerance_nm)


def pc_baseline_depth(Rrs: xr.DataArray, *, tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """Depth of the 620 nm phycocyanin trough below the 585-650 nm baseline (positive = trough).

    Dekker-type (Dekker 1993: ``0.5 (R600 + R648) - R624``), but 600 nm lies in the OCI gap (no Rrs bands
    between 588.1 and 612.7 nm; paper122 carries 590-610 nm as missing), so the baseline is drawn between
    585 and 650 nm, which exist on both grids, and the depth is read at 620 nm (Simis's PC band).
    """
    height = baseline_height(Rrs, 620.0, 585.0, 650.0, index="pc_baseline_depth", tolerance_nm=tolerance_nm)
    return _finish(-height, Rrs, "pc_baseline_depth", "depth of 620 nm below the 585-650 nm baseline", None,
                   "after Dekker 1993, with 585/620/650 nm for 600/624/648 nm", (585, 620, 650), tolerance_nm)


def simis_ratio(Rrs: xr.DataArray, *, tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """Band ratio R709/R620, the phycocyanin ratio at the core of Simis et al. (2005), L&O 50:237."""
    r709 = band(Rrs, 709.0, index="simis_ratio", tolerance_nm=tolerance_nm)
    r620 = band(Rrs, 620.0, index="simis_ratio", tolerance_nm=tolerance_nm)
    return _finish(r709 / r620, Rrs, "simis_ratio", "reflectance ratio R709/R620", "1",
                   "Simis et al. 2005, L&O 50:237", (620, 709), tolerance_nm)


def simis_phycocyanin(Rrs: xr.DataArray, *, tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.DataArray:
    """Phycocyanin (mg m-3) from a simplified Simis et al. (2005) semi-analytical model.

    ``a_chl(665) = {[R709/R665](aw709 + bb) - bb - aw665} / gamma``,
    ``a_pc(620) = {[R709/R620](aw709 + bb) - bb - aw620} / delta - epsilon a_chl(665)``,
    ``PC = a_pc(620) / 0.0095`` (gamma 0.68, delta 0.84, epsilon 0.24; the bracketed form of the paper).

    Simplification: OCI Rrs has no 778 nm band for Simis's bb, so bb (taken as spectrally flat, as in
    Simis) is inverted from Rrs(715) with Lee et al. (2002) assuming a(715) = aw(715), where water
    absorption dominates. aw comes from the same table as the forward model. Negative PC is kept (it
    signals no detectable phycocyanin) rather than clipped.
    """
    k = constants()
    r620 = band(Rrs, 620.0, index="simis_phycocyanin", tolerance_nm=tolerance_nm)
    r665 = band(Rrs, 665.0, index="simis_phycocyanin", tolerance_nm=tolerance_nm)
    r709 = band(Rrs, 709.0, index="simis_phycocyanin", tolerance_nm=tolerance_nm)
    r_bb = band(Rrs, SIMIS_BB_BAND_NM, index="simis_phycocyanin", tolerance_nm=tolerance_nm)
    aw620, aw665, aw709, aw_bb = pure_water_absorption([620.0, 665.0, 709.0, SIMIS_BB_BAND_NM])
    bb = backscattering_from_rrs(r_bb, aw_bb)
    a_chl665 = ((r709 / r665) * (aw709 + bb) - bb - aw665) / k["simis_gamma"]
    a_pc620 = ((r709 / r620) * (aw709 + bb) - bb - aw620) / k["simis_delta"] - k["simis_epsilon"] * a_chl665
    return _finish(a_pc620 / k["apc_star_620"], Rrs, "simis_pc",
                   "phycocyanin concentration (simplified Simis 2005)", "mg m-3",
                   "Simis et al. 2005, L&O 50:237; bb from Rrs(715) via Lee et al. 2002",
                   (620, 665, 709, SIMIS_BB_BAND_NM), tolerance_nm)


#: The indices of :func:`all_indices`, in order; every one is computable on paper122 and oci_rrs172.
INDEX_FUNCTIONS = {
    "ci": cyanobacteria_index,
    "ss665": ss665,
    "ci_cyano": ci_cyano,
    "ndci": ndci,
    "flh": flh,
    "red_edge_height": red_edge_height,
    "pc_baseline_depth": pc_baseline_depth,
    "simis_ratio": simis_ratio,
    "simis_pc": simis_phycocyanin,
}


def all_indices(Rrs: xr.DataArray, *, tolerance_nm: float = BAND_TOLERANCE_NM) -> xr.Dataset:
    """Every index of :data:`INDEX_FUNCTIONS` as one Dataset over the spectrum's non-wavelength dims.

    Note ``flh == -ci`` by construction (same bands); both are kept because both names are in use.
    """
    variables = {name: function(Rrs, tolerance_nm=tolerance_nm) for name, function in INDEX_FUNCTIONS.items()}
    attrs = {"title": "bio-optical pigment indices", "band_tolerance_nm": tolerance_nm}
    return xr.Dataset(variables, attrs=attrs)
