"""What the repository's text promises its reader: sources it can open, and the paper's numbers from one place."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Where a reader of the repository looks; files under them must cite sources the reader can open.
READER_FACING = ("spectm", "book", "benchmarks", "README.md")


def _text_files(*roots: str) -> list[Path]:
    files = []
    for root in roots:
        path = ROOT / root
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [p for p in candidates if "_build" not in p.parts and "__pycache__" not in p.parts]
    return files


def _mentions(files: list[Path], needle: str, root: Path = ROOT) -> list[str]:
    """``"path:line"`` of every line of ``files`` that holds ``needle``."""
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(root)}:{n}" for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return found


def test_no_reader_facing_file_cites_the_projects_private_notes():
    """``shared/specs`` are the developers' notes, not in the repository: cite the primary source instead."""
    assert _mentions(_text_files(*READER_FACING), "shared/specs") == []


def test_the_citation_check_finds_a_mention(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "chapter.md").write_text("first line\nsee shared/specs/glerl.md\n")
    (tmp_path / "book" / "clean.md").write_text("see the GLERL data page\n")
    files = sorted((tmp_path / "book").iterdir())
    assert _mentions(files, "shared/specs", root=tmp_path) == ["book/chapter.md:2"]


# ------------------------------------------------------------------------------------------------------
# the paper's numbers: typed only in spectm/paper.py, quoted by the chapters through it

#: Chapters whose text this check covers (6, 7 and 9 quote the paper through ResultStore tables as well).
PAPER_CHAPTERS = ("01", "02", "03", "04", "05", "06", "07", "08", "09")

#: Claims whose number is too common to search alone: the words that make it the paper's.
IN_CONTEXT = {
    "encoder_layers": r"{n}[- ]layers?\b",
    "epochs": r"{n} epochs?\b",
    "weight_decay": r"weight[ _]decay\W{{1,3}}{n}",
    "matchup_km": r"{n}(\.0)? ?km\b",
    "matchup_days": r"±\s?{n} ?days?\b",
    "encoder_parameters": r"(?<![\d.]){n}(\s?M\b| million)",
    "microcystin_min": r"{n}\s*(?:–|-|to)\s*\d",  # the range's start; GLERL's 0.1 ug/L limit is not the paper's
}


def _number(value: float) -> str:
    """A regex for ``value`` as prose or code writes it: trailing zeros, thousands commas, exponents."""
    import re

    if abs(value) >= 1e6:
        return re.escape(f"{value / 1e6:g}")
    if 0 < abs(value) < 1e-3:
        mantissa, exponent = f"{value:.0e}".split("e")
        return rf"(?:{mantissa}e-?0?{abs(int(exponent))}|10\^?-{abs(int(exponent))}|{value:f}".rstrip("0") + ")"
    if value == int(value):
        digits = str(int(value))
        grouped = f"{int(value):,}".replace(",", "[,\u202f ]?")
        return rf"(?<![\w.,]){grouped if len(digits) > 3 else digits}(?:\.0+)?(?!\.?\d)"
    whole, fraction = f"{value:g}".split(".")
    return rf"(?<![\w.]){'0?' if whole == '0' else whole}\.{fraction}0*(?!\d)"


def paper_patterns() -> dict[str, str]:
    """One regex per claim of :mod:`spectm.paper` and one for the loss weights, built from their values."""
    from spectm.paper import LOSS_WEIGHTS, PAPER

    patterns = {}
    for key, claim in PAPER.items():
        n = _number(claim.value)
        patterns[key] = IN_CONTEXT[key].format(n=n) if key in IN_CONTEXT else n
    weights = r"\s*/\s*".join(_number(w) for w in LOSS_WEIGHTS.values())
    patterns["loss_weights"] = rf"{weights}|λ\S*\s*=\s*\d"
    return patterns


def _paper_numbers_in(text: str) -> list[str]:
    import re

    found = []
    for n, line in enumerate(text.splitlines(), 1):
        found += [f"{n}: {key} in {line.strip()[:80]!r}" for key, pattern in paper_patterns().items()
                  if re.search(pattern, line)]
    return found


def test_chapters_quote_the_papers_numbers_from_spectm_paper():
    chapters = [p for p in sorted((ROOT / "book" / "notebooks").glob("*.md")) if p.name[:2] in PAPER_CHAPTERS]
    assert len(chapters) == len(PAPER_CHAPTERS)
    typed = {p.name: _paper_numbers_in(p.read_text()) for p in chapters}
    assert {name: lines for name, lines in typed.items() if lines} == {}


def test_the_paper_number_check_finds_typed_numbers():
    typed = ("r = 0.999 on held-out data", "R² of 0.620 and 0.695", "26,208 configurations", "a 6-layer ViT",
             "lr 1e-4 for 100 epochs", "28 of 122 bands", "(λ₁ = 1.0)", "weights 1.0 / 0.5 / 0.3",
             "within 2 km and ±4 days", "about 6M parameters", "147 current-week samples", "0.10-10.70 ug/L")  # fmt: skip
    for line in typed:
        assert _paper_numbers_in(line), line
    read = ('r = {glue:text}`paper_reconstruction_r`', 'PAPER["r2_current"].value', "model grid (paper122)",
            "figsize=(10, 3.2)", "seed 0, 2 CPU cores", "the 8-day-ahead task",
            "non-detects at 0.1 ug/L", "28.5 nm", "a 4-day window")  # fmt: skip
    for line in read:
        assert not _paper_numbers_in(line), line


def test_glue_claims_hands_the_prose_the_papers_numbers(monkeypatch):
    import myst_nb

    from spectm import paper

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.update({name: (value, display)}))
    paper.glue_claims("baseline_configurations", "learning_rate", "encoder_parameters", "r2_ahead")
    assert glued["paper_baseline_configurations"] == ("26,208", False)
    assert glued["paper_learning_rate"][0] == "1e-4" and glued["paper_encoder_parameters"][0] == "6M"
    assert glued["paper_r2_ahead"][0] == "0.62" and glued["paper_lambda_reconstruction"][0] == "1.0"
    with pytest.raises(KeyError, match="r2_current"):
        paper.glue_claims("r2_currant")


# ------------------------------------------------------------------------------------------------------
# where the repository is: one setting, read in one place


def _config() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def test_the_repository_is_named_by_one_explicit_setting():
    """``repository.url`` is present (absent, Jupyter Book would link to its own repository) and nothing else
    in the config turns on a repository or launch button by hand."""
    config = _config()
    assert "url" in config["repository"], "_config.yml must set repository.url, even to an empty string"
    assert "launch_buttons" not in config
    assert not {"use_repository_button", "use_edit_page_button"} & set(config.get("html", {}))


def test_the_repository_setting_is_read_in_one_place():
    readers = _mentions(_text_files("spectm", "book", "Makefile", "_toc.yml"), "repository_url")
    assert {line.split(":")[0] for line in readers} == {"spectm/sphinx_site.py"}


@pytest.mark.parametrize("url, shown", [("", False), ("https://github.com/executablebooks/jupyter-book", False),
                                        ("https://github.com/you/spectm/", True)])
def test_repository_link_and_launch_buttons_follow_the_one_setting(url, shown):
    from types import SimpleNamespace

    from spectm import sphinx_site

    config = SimpleNamespace(html_theme_options={"repository_url": url, "launch_buttons": {"thebe": False}})
    sphinx_site.buttons_from_repository(None, config)
    options = config.html_theme_options
    assert options["use_repository_button"] is shown and options["use_download_button"] is True
    assert bool(options["launch_buttons"].get("binderhub_url")) is shown
    assert options.get("repository_url") == ("https://github.com/you/spectm" if shown else None)


def test_launch_links_open_the_chapters_source_not_the_executed_copy():
    from spectm import sphinx_site

    buttons = [{"type": "group", "buttons": [
        {"url": "https://mybinder.org/v2/gh/you/spectm/main?urlpath=lab/tree/executed/06_microcystin.ipynb"}]}]
    sphinx_site.launch_sources(None, "executed/06_microcystin", None, {"header_buttons": buttons}, None)
    assert buttons[0]["buttons"][0]["url"].endswith("urlpath=lab/tree/book/notebooks/06_microcystin.md")
    assert (ROOT / "book" / "notebooks" / "06_microcystin.md").is_file()
    assert sphinx_site.source_path("lab/tree/book/intro.md") == "lab/tree/book/intro.md"
