"""The book's figure helpers: one style, and the architecture drawn from the configuration it is given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from spectm import plotting  # noqa: E402


def test_book_style_sets_resolution_and_type():
    with plt.style.context("default"):
        plotting.use_book_style()
        assert plt.rcParams["figure.dpi"] == 150 and plt.rcParams["savefig.dpi"] == 150
        assert plt.rcParams["axes.spines.top"] is False


def test_architecture_shows_the_configuration_it_is_given():
    ax = plotting.plot_architecture(depth=3, width=96, n_bands=60, n_masked=11)
    texts = " ".join(t.get_text() for t in ax.texts)
    for expected in ("60 bands", "11 diagnostic", "3 pre-norm blocks", "width 96", "(λ₁)", "(λ₂)", "(λ₃)"):
        assert expected in texts
    assert len(ax.patches) >= 8 + 7  # 8 boxes and 7 arrows
    plt.close(ax.figure)


def test_book_style_prints_table_cells_whole():
    import pandas as pd

    text = "daily maximum temperature of the reference day, in degrees Celsius (degC)"
    with plt.style.context("default"), pd.option_context("display.max_colwidth", 50):
        plotting.use_book_style()
        assert text in pd.DataFrame({"description": [text]})._repr_html_()
