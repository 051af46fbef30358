"""A small Sphinx extension for the book's HTML: a page that reads offline and loads without script errors.

Listed in ``_config.yml`` under ``sphinx.extra_extensions``. It does two things that Jupyter Book 1.x
does not:

- **MathJax from the site.** Sphinx points ``mathjax_path`` at a CDN, so with the network off no equation
  renders. The MathJax 3 bundle shipped by the ``sphinx-mathjax-offline`` package is copied into
  ``_static/mathjax`` and ``mathjax_path`` points there.
- **Each inline script once.** sphinx-thebe registers its configuration script on every
  ``env-before-read-docs``; a page that gets it twice stops with "Identifier 'THEBE_JS_URL' has already been
  declared". Inline scripts with the same body are kept once per page.

- **The repository from one setting.** ``repository.url`` in ``_config.yml`` is the only place the book's
  repository is named. Empty (as it is until the project has a public home), no page shows a repository
  link or a launch button; set (a fork sets it to its own URL), every page gets the repository link and a
  Binder button that opens the chapter's MyST source (``book/notebooks/NN_x.md``, which Jupyter opens as a
  notebook through jupytext) rather than the executed copy, which is not in the repository. The
  download button (the page's executed ``.ipynb``) is on either way.

``python -m spectm.site_check _build/html`` checks the first two in a headless browser.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

MATHJAX_ENTRY = "tex-chtml.js"
#: Where a launch button starts a notebook server when ``repository.url`` is set.
BINDERHUB_URL = "https://mybinder.org"
#: Jupyter Book's own default ``repository.url``: a config without the key must not link to it.
JUPYTER_BOOK_DEFAULT_URL = "https://github.com/executablebooks/jupyter-book"
#: The folder of the executed notebooks the pages are rendered from, and of their sources in the repository.
EXECUTED, SOURCES = "executed/", "book/notebooks/"


def mathjax_bundle() -> Path:
    """The folder of the MathJax 3 bundle that ``sphinx-mathjax-offline`` installs."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the book needs the package sphinx-mathjax-offline for offline math: "
                           "pip install -e '.[book]'")
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    if not (folder / MATHJAX_ENTRY).is_file():
        raise RuntimeError(f"{folder} holds no {MATHJAX_ENTRY}: reinstall sphinx-mathjax-offline")
    return folder


def point_mathjax_at_site(app, config) -> None:
    config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"


def copy_mathjax(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        from sphinx.util.fileutil import copy_asset
        copy_asset(str(mathjax_bundle()), str(Path(app.outdir) / "_static" / "mathjax"))


def repository_url(theme_options: dict) -> str:
    """The book's repository: ``_config.yml``'s ``repository.url`` (Jupyter Book's default counts as unset)."""
    url = str(theme_options.get("repository_url") or "").strip().rstrip("/")
    return "" if url == JUPYTER_BOOK_DEFAULT_URL else url


def buttons_from_repository(app, config) -> None:
    """Repository link and launch buttons on when ``repository.url`` is set, off (and no URL) when it is not."""
    options = config.html_theme_options
    url = repository_url(options)
    options["use_download_button"] = True
    options["use_repository_button"] = bool(url)
    options["launch_buttons"] = {"notebook_interface": "jupyterlab", "binderhub_url": BINDERHUB_URL} if url else {}
    if url:
        options["repository_url"] = url
    else:
        options.pop("repository_url", None)


def source_path(urlpath_target: str) -> str:
    """``executed/NN_x.ipynb`` (what a launch link would open) as the chapter's source ``book/notebooks/NN_x.md``."""
    head, found, name = urlpath_target.rpartition(EXECUTED)
    if not found or not name.endswith(".ipynb"):
        return urlpath_target
    return f"{head}{SOURCES}{name[: -len('.ipynb')]}.md"


def launch_sources(app, pagename, templatename, context, doctree) -> None:
    """Point every launch link of a page at the chapter's source in the repository, not its executed copy."""
    def visit(buttons):
        for button in buttons or []:
            if isinstance(button, dict):
                if "urlpath=" in str(button.get("url", "")):
                    prefix, _, target = button["url"].partition("urlpath=")
                    button["url"] = f"{prefix}urlpath={source_path(target)}"
                visit(button.get("buttons"))

    visit(context.get("header_buttons"))


def scripts_once(app, pagename, templatename, context, doctree) -> None:
    """Drop inline scripts whose body a page already has (sphinx-thebe adds its config twice)."""
    seen, kept = set(), []
    for script in context.get("script_files", []):
        body = getattr(script, "attributes", {}).get("body")
        if body and body in seen:  # the two copies differ only in a filename of None or ""
            continue
        seen.add(body)
        kept.append(script)
    if "script_files" in context:
        context["script_files"] = kept


def setup(app):
    mathjax_bundle()  # fail at start, in one sentence, not after the build
    app.connect("config-inited", point_mathjax_at_site, priority=900)
    app.connect("config-inited", buttons_from_repository, priority=900)
    app.connect("html-page-context", launch_sources, priority=502)  # after the theme's launch buttons (501)
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", scripts_once)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
