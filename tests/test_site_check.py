"""The built-book checks: what counts as a problem, the Sphinx extension's fixes, and a real browser run.

The browser test builds a tiny site with one of each fault and checks that every fault is reported and
that a clean page reports none. It needs headless Chromium (``.ci/run`` installs it); without it the test
is skipped with the reason, and ``make check-site`` in CI fails instead, so the check cannot pass unseen.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spectm import site_check, sphinx_site

CLEAN = {"errors": [], "maths": 2, "unrendered": 0, "page_width": 1400, "view_width": 1400, "wide_blocks": [],
         "figures": [{"src": "a.png", "alt": "a map", "caption": "Fig. 1 A map", "numbered": True}]}


def test_a_clean_page_has_no_problems():
    assert site_check.problems("p.html", CLEAN) == []


@pytest.mark.parametrize("change, expected", [
    ({"unrendered": 1}, "1 of 2 math elements not rendered"),
    ({"page_width": 1500}, "the page scrolls sideways"),
    ({"wide_blocks": ["pre. (900 > 700 px)"]}, "block scrolls sideways: pre."),
    ({"errors": ["uncaught: SyntaxError: x"]}, "uncaught: SyntaxError"),
    ({"figures": [{"src": "b.png", "alt": "", "caption": "", "numbered": False}]},
     "figure b.png has no alt text, no caption, no figure number"),
    ({"truncated": ["daily maximum temperature of the reference day..."]}, "table cell cut off: 'daily maximum"),
])
def test_each_fault_is_named(change, expected):
    found = site_check.problems("p.html", {**CLEAN, **change})
    assert len(found) == 1 and expected in found[0] and found[0].startswith("p.html: ")


def test_a_chapter_page_must_link_to_its_own_notebook():
    page = "executed/06_microcystin.html"
    elsewhere = {**CLEAN, "downloads": ["../_sources/executed/05_reconstruction.ipynb"]}
    assert site_check.problems(page, elsewhere) == [f"{page}: no download link to its notebook 06_microcystin.ipynb"]
    own = {**CLEAN, "downloads": ["../_sources/executed/06_microcystin.ipynb"]}
    assert site_check.problems(page, own) == []
    assert site_check.problems("book/glossary.html", CLEAN) == []  # not a notebook page


def test_script_errors_in_words():
    events = [
        {"method": "Runtime.exceptionThrown", "params": {"exceptionDetails": {
            "exception": {"description": "SyntaxError: Identifier 'X' has already been declared\n  at y"}}}},
        {"method": "Runtime.consoleAPICalled", "params": {"type": "error", "args": [{"value": "bad"}]}},
        {"method": "Runtime.consoleAPICalled", "params": {"type": "log", "args": [{"value": "fine"}]}},
        {"method": "Log.entryAdded", "params": {"entry": {"level": "error", "source": "network",
                                                           "text": "Failed to load resource", "url": "https://cdn/x.js"}}},
        {"method": "Log.entryAdded", "params": {"entry": {"level": "warning", "source": "other", "text": "meh"}}},
    ]
    assert site_check.script_errors(events) == [
        "uncaught: SyntaxError: Identifier 'X' has already been declared",
        "console.error: bad",
        "network: Failed to load resource https://cdn/x.js",
    ]


def test_inline_scripts_kept_once_per_page():
    from sphinx.builders.html._assets import _JavaScript
    scripts = [_JavaScript("a.js"), _JavaScript(None, body="const X = 1"), _JavaScript("", body="const X = 1"),
               _JavaScript("b.js"), _JavaScript(None, body="const Y = 2")]
    context = {"script_files": scripts}
    sphinx_site.scripts_once(None, "page", "page.html", context, None)
    assert [(s.filename, s.attributes.get("body")) for s in context["script_files"]] == [
        ("a.js", None), (None, "const X = 1"), ("b.js", None), (None, "const Y = 2")]


def test_mathjax_is_served_from_the_site():
    folder = sphinx_site.mathjax_bundle()
    assert (folder / sphinx_site.MATHJAX_ENTRY).stat().st_size > 100_000
    assert any(folder.rglob("*.woff"))  # the fonts travel with it


def test_a_site_without_index_is_refused(tmp_path, capsys):
    assert site_check.main([str(tmp_path)]) == 1
    assert "holds no index.html: build the book first" in capsys.readouterr().err


class _StopWaiting(Exception):
    pass


@pytest.mark.parametrize("browser_script", ["exec sleep 60", "exit 3"])
def test_no_browser_is_left_running_when_the_start_fails(tmp_path, monkeypatch, browser_script):
    """A browser that never writes its DevTools port (or dies at once) is killed whatever ends the wait:
    an exception from the wait itself (here the sleep; under libfaketime a real one raised EINVAL and
    left Chromium spinning after the test), or the browser's own exit (NoBrowser)."""
    browser = tmp_path / "fake-chromium"
    browser.write_text(f"#!/bin/sh\n{browser_script}\n")
    browser.chmod(0o755)
    started = []
    real_popen = site_check.subprocess.Popen
    monkeypatch.setattr(site_check.subprocess, "Popen", lambda *a, **k: started.append(real_popen(*a, **k))
                        or started[-1])
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if browser_script.startswith("exec") and len(sleeps) > 2:
            raise _StopWaiting

    monkeypatch.setattr(site_check.time, "sleep", sleep)
    expected = _StopWaiting if browser_script.startswith("exec") else site_check.NoBrowser
    with pytest.raises(expected):
        site_check.launch(str(browser), str(tmp_path / "profile"))
    assert len(started) == 1 and started[0].poll() is not None  # reaped: not running


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an orphan may wait for init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stopping_the_browser_stops_the_processes_it_started(tmp_path):
    """Chromium's renderers and GPU process outlived a kill of the browser alone and kept writing into the
    profile folder while it was removed ("Directory not empty", seen under load)."""
    child_pid = tmp_path / "child.pid"
    browser = tmp_path / "fake-chromium"
    browser.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > '{child_pid}'\nexec sleep 60\n")
    browser.chmod(0o755)
    process = site_check.subprocess.Popen([str(browser)], start_new_session=True)
    for _ in range(200):  # the script writes the pid at once; bounded, no clock
        if child_pid.exists() and child_pid.read_text().strip():
            break
        site_check.time.sleep(0.05)
    pid = int(child_pid.read_text())
    assert _running(pid)
    site_check.stop(process)
    for _ in range(200):  # SIGKILL is delivered asynchronously
        if not _running(pid):
            break
        site_check.time.sleep(0.05)
    assert process.poll() is not None and not _running(pid)


def test_a_profile_folder_refilled_during_removal_is_removed_on_a_later_try(tmp_path, monkeypatch):
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    real_rmtree, calls = site_check.shutil.rmtree, []

    def rmtree(path, *args, **kwargs):
        calls.append(path)
        if len(calls) < 3:
            raise OSError(39, "Directory not empty")
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(site_check.shutil, "rmtree", rmtree)
    monkeypatch.setattr(site_check.time, "sleep", lambda seconds: None)
    site_check.remove_profile(str(profile))
    assert len(calls) == 3 and not profile.exists()


PAGE = """<!doctype html><html><head><meta charset="utf-8">{head}</head>
<body style="margin:0"><article style="width:600px">{body}</article></body></html>"""


def _tiny_site(root):
    mathjax = sphinx_site.mathjax_bundle()
    shutil.copytree(mathjax, root / "_static" / "mathjax")
    local_mathjax = '<script defer src="_static/mathjax/tex-chtml.js"></script>'
    pages = {
        "index.html": (local_mathjax, '<span class="math">\\(a^2\\)</span>'
                       '<figure><img src="f.png" alt="a square"><figcaption><span class="caption-number">'
                       'Fig. 1 </span>A square</figcaption></figure>'),
        "cdn_math.html": ('<script defer src="https://cdn.example.org/mathjax/tex-chtml.js"></script>',
                          '<span class="math">\\(b^2\\)</span>'),
        "faults.html": ("<script>const A = 1;</script><script>const A = 1;</script>",
                        '<pre style="overflow-x:auto">' + "x" * 400 + '</pre><img src="f.png">'
                        '<table><tr><td>a long description that pandas shortened...</td></tr></table>'),
    }
    for name, (head, body) in pages.items():
        (root / name).write_text(PAGE.format(head=head, body=body))
    (root / "f.png").write_bytes(_png())
    (root / "favicon.ico").write_bytes(b"")


def _png() -> bytes:
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.skipif(not any(shutil.which(b) for b in site_check.BROWSERS),
                    reason="no headless Chromium here (.ci/run installs it and runs make check-site)")
def test_a_real_browser_finds_each_fault_and_passes_a_clean_page(tmp_path):
    import asyncio
    _tiny_site(tmp_path)
    reports = asyncio.run(site_check.check_site(tmp_path, site_check.find_browser()))
    found = {page: site_check.problems(page, report) for page, report in reports.items()}
    assert found["index.html"] == []
    assert reports["index.html"]["maths"] == 1
    assert any("math elements not rendered" in line for line in found["cdn_math.html"])
    assert any("cdn.example.org" in line for line in found["cdn_math.html"])  # the network is off
    faults = "\n".join(found["faults.html"])
    assert "has already been declared" in faults
    assert "block scrolls sideways: pre" in faults
    assert "has no alt text, no caption, no figure number" in faults
    assert "table cell cut off: 'a long description" in faults
