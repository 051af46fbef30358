"""Plot helpers shared by the chapters: the diagnostic windows drawn the same way in every figure."""

from __future__ import annotations

from importlib import resources

import matplotlib.pyplot as plt
import numpy as np

from spectm import bands

#: The book's figure style: 150 dpi, one type scale, light grid; every chapter applies it first.
BOOK_STYLE = resources.files("spectm.resources") / "spectm.mplstyle"


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to every figure made after this call (the chapters call it once)."""
    plt.style.use(str(BOOK_STYLE))

#: One colour per diagnostic window, used in every chapter.
WINDOW_COLORS = {"phycocyanin": "tab:cyan", "chlorophyll_a": "tab:green", "red_edge": "tab:red"}
WINDOW_LABELS = {"phycocyanin": "phycocyanin", "chlorophyll_a": "chlorophyll-a", "red_edge": "red edge"}


def shade_diagnostic_windows(ax, alpha: float = 0.15, label: bool = True, gap: bool = True) -> None:
    """Shade SpecTM's three windows (and, optionally, the OCI Rrs gap 588-613 nm) on a wavelength axis."""
    for name, (start, stop) in bands.DIAGNOSTIC_WINDOWS.items():
        ax.axvspan(start, stop, color=WINDOW_COLORS[name], alpha=alpha, lw=0,
                   label=WINDOW_LABELS[name] if label else None)
    if gap:
        centers = bands.oci_rrs_centers()
        below, above = centers[centers < 600].max(), centers[centers > 600].min()
        ax.axvspan(below, above, facecolor="none", edgecolor="0.5", hatch="///", lw=0,
                   label="no OCI Rrs bands" if label else None)


def plot_band_mask(wavelengths, ax=None, title: str | None = None):
    """One row of cells, one per band: diagnostic (masked) bands coloured by window, gap bands hatched."""
    wl = np.asarray(bands.wavelength_grid(wavelengths).values if isinstance(wavelengths, str) else wavelengths)
    names = bands.window_name(wl).values
    gap = bands.gap_mask(wl).values
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 1.4))
    width = np.median(np.diff(wl)) if wl.size > 1 else 1.0
    for w, name, missing in zip(wl, names, gap):
        face = WINDOW_COLORS[name] if name else "0.92"
        ax.bar(w, 1, width=width * 0.9, color=face, edgecolor="0.6" if missing else face,
               hatch="///" if missing else None, linewidth=0.5)
    ax.set_yticks([])
    ax.set_xlim(wl.min() - width, wl.max() + width)
    ax.set_xlabel("wavelength (nm)")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
