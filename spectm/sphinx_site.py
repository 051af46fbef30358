"""A small Sphinx extension for the book's HTML: a page that reads offline and loads without script errors.

Listed in ``_config.yml`` under ``sphinx.extra_extensions``. It does two things that Jupyter Book 1.x
does not:

- **MathJax from the site.** Sphinx points ``mathjax_path`` at a CDN, so with the network off no equation
  renders. The MathJax 3 bundle shipped by the ``sphinx-mathjax-offline`` package is copied into
  ``_static/mathjax`` and ``mathjax_path`` points there.
- **Each inline script once.** sphinx-thebe registers its configuration script on every
  ``env-before-read-docs``; a page that gets it twice stops with "Identifier 'THEBE_JS_URL' has already been
  declared". Inline scripts with the same body are kept once per page.

``python -m spectm.site_check _build/html`` checks both in a headless browser.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

MATHJAX_ENTRY = "tex-chtml.js"


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
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", scripts_once)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
