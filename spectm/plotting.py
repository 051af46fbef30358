"""Plot helpers shared by the chapters: the diagnostic windows drawn the same way in every figure."""

from __future__ import annotations

from importlib import resources

import matplotlib.pyplot as plt
import numpy as np

from spectm import bands

#: The book's figure style: 150 dpi, one type scale, light grid; every chapter applies it first.
BOOK_STYLE = resources.files("spectm.resources") / "spectm.mplstyle"


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to every figure made after this call (the chapters call it once), and let
    pandas print every table cell whole: its default cuts text after 50 characters with "...", which on a
    page hides a description or a unit."""
    import pandas as pd

    plt.style.use(str(BOOK_STYLE))
    pd.set_option("display.max_colwidth", None)

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


def plot_architecture(depth: int, width: int, n_bands: int, n_masked: int, ax=None):
    """SpecTM as boxes and arrows: band tokens, the masked windows dropped, encoder, decoder, three heads
    (the index head reads the pooled embedding; reconstruction and the 8-day spectrum come from the decoder).

    Drawn from the configuration it is given (so the figure shows the profile that ran), not from a picture.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.2))
    ax.set(xlim=(0, 10), ylim=(-0.15, 2.9))
    ax.axis("off")
    boxes = {
        "spectrum": (0.1, 1.2, f"spectrum\n{n_bands} bands", "0.92"),
        "tokens": (1.75, 1.2, "band tokens\nvalue + wavelength\nembedding", "0.92"),
        "drop": (3.5, 1.2, f"{n_masked} diagnostic\ntokens dropped", WINDOW_COLORS["red_edge"]),
        "encoder": (5.2, 1.2, f"encoder\n{depth} pre-norm blocks\nwidth {width}", "#9ecae1"),
        "decoder": (6.95, 1.2, "decoder\nmask tokens back\nin place", "#c6dbef"),
    }
    heads = {"reconstruction": (8.65, 1.85, "rebuild the\nmasked bands (λ₁)", (8.45, 1.62)),
             "temporal": (8.65, 0.55, "spectrum\n8 days on (λ₃)", (8.45, 1.62)),
             "indices": (5.3, 0.0, "pooled embedding\n→ indices (λ₂)", (5.92, 1.15))}
    for x, y, text, color in boxes.values():
        ax.add_patch(FancyBboxPatch((x, y), 1.45, 0.85, boxstyle="round,pad=0.05", fc=color, ec="0.3", lw=0.8,
                                    alpha=0.9 if color != WINDOW_COLORS["red_edge"] else 0.35))
        ax.text(x + 0.72, y + 0.42, text, ha="center", va="center", fontsize=7.5)
    for x, y, text, _ in heads.values():
        ax.add_patch(FancyBboxPatch((x, y), 1.25, 0.8, boxstyle="round,pad=0.05", fc="#fdd0a2", ec="0.3", lw=0.8))
        ax.text(x + 0.62, y + 0.4, text, ha="center", va="center", fontsize=7.5)
    chain = list(boxes.values())
    for (x0, y0, *_), (x1, y1, *_) in zip(chain, chain[1:]):
        ax.add_patch(FancyArrowPatch((x0 + 1.5, y0 + 0.42), (x1 - 0.05, y1 + 0.42), arrowstyle="-|>",
                                     mutation_scale=10, color="0.3"))
    for x, y, _, start in heads.values():
        end = (x - 0.05, y + 0.4) if x > start[0] else (start[0], y + 0.85)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color="0.3"))
    return ax
