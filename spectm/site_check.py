"""Check the built book as a reader's browser sees it, with the network off.

``python -m spectm.site_check _build/html`` serves the site on 127.0.0.1, opens every page in headless
Chromium (every host but 127.0.0.1 unreachable) at 1400 px and reports, per page:

- **math**: every ``.math`` element rendered by MathJax (so MathJax must come from the site, not a CDN);
- **script errors**: uncaught exceptions, ``console.error`` calls and resources that failed to load;
- **sideways scrolling**: the page, or a block in it, wider than its box at 1400 px;
- **figures**: every content image inside a numbered figure with a caption, and with alt text;
- **tables cut off**: a table cell whose text ends in "..." (pandas shortens long cells that way);
- **download**: every chapter page (``executed/*.html``) links to its own notebook, ``NN_x.ipynb``.

It talks to Chromium over the DevTools protocol (a websocket, through tornado, which Jupyter already
installs), so it needs no driver package. Exit status 1 lists what failed; 2 means no browser.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WIDTH, HEIGHT = 1400, 900
PAGE_TIMEOUT_S = 60.0

#: Evaluated in each page after load and typesetting: a JSON-able summary of what a reader would see.
PAGE_PROBE = r"""
(() => {
  const article = document.querySelector('article') || document.body;
  const maths = [...article.querySelectorAll('.math')];
  const unrendered = maths.filter(m => !m.querySelector('mjx-container') && m.tagName !== 'MJX-CONTAINER');
  const wide = [];
  for (const el of article.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (!['auto', 'scroll'].includes(style.overflowX)) continue;
    if (el.scrollWidth > el.clientWidth + 1)
      wide.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} (${el.scrollWidth} > ${el.clientWidth} px)`);
  }
  const images = [...article.querySelectorAll('img')].filter(i => !i.closest('.sd-card, .navbar, header'));
  const figures = images.map(img => {
    const fig = img.closest('figure');
    const caption = fig && fig.querySelector('figcaption');
    return {src: img.getAttribute('src'), alt: (img.getAttribute('alt') || '').trim(),
            caption: caption ? caption.innerText.trim().slice(0, 120) : '',
            numbered: !!(caption && caption.querySelector('.caption-number'))};
  });
  const truncated = [...article.querySelectorAll('td, th')].map(c => c.innerText.trim())
    .filter(text => text.endsWith('...') || text.endsWith('\u2026'));
  const downloads = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))
    .filter(href => href.endsWith('.ipynb'));
  return {maths: maths.length, unrendered: unrendered.length,
          page_width: document.documentElement.scrollWidth, view_width: window.innerWidth,
          wide_blocks: wide.slice(0, 10), figures, truncated: truncated.slice(0, 5), downloads};
})()
"""


class NoBrowser(RuntimeError):
    """No headless Chromium on this machine."""


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise NoBrowser("no Chromium found (looked for " + ", ".join(BROWSERS) + "); on Debian: "
                    "apt-get install chromium")


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """The built site on an ephemeral 127.0.0.1 port, served from a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the report says what matters
        pass


def launch(browser: str, profile_dir: str) -> tuple[subprocess.Popen, str]:
    """Headless Chromium with every host but 127.0.0.1 unresolvable; returns it and its DevTools URL."""
    args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--window-size={WIDTH},{HEIGHT}", f"--user-data-dir={profile_dir}",
            "--remote-debugging-port=0", "about:blank"]
    # its own session, so that stop() reaches the renderers and GPU process it starts, not only itself
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    port_file = Path(profile_dir) / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    try:  # whatever stops the wait (timeout, Ctrl-C, a failing clock call), no browser is left running
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if process.poll() is not None or time.monotonic() > deadline:
                raise NoBrowser(f"{browser} did not start its DevTools endpoint within 30 s")
            time.sleep(0.1)
        port = port_file.read_text().splitlines()[0]
    except BaseException:
        stop(process)
        raise
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen) -> None:
    """Kill the browser and every process of its session. Killing only the first one left its children
    writing into the profile folder while it was being removed ("Directory not empty" under load)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # the session is gone already
        process.kill()
    process.wait()


def remove_profile(profile_dir: str, attempts: int = 50) -> None:
    """Remove the browser's profile folder; a killed process may still finish a file it was creating, so
    a removal that finds the folder refilled is tried again (a bounded number of times)."""
    for _ in range(attempts - 1):
        try:
            shutil.rmtree(profile_dir)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(profile_dir, ignore_errors=True)


class DevTools:
    """One page's DevTools session: commands answered by id, events kept for the report."""

    def __init__(self, connection):
        self.connection, self.next_id, self.events = connection, 0, []

    async def call(self, method: str, timeout: float = PAGE_TIMEOUT_S, **params) -> dict:
        self.next_id += 1
        wanted = self.next_id
        await self.connection.write_message(json.dumps({"id": wanted, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = await asyncio.wait_for(self.connection.read_message(), deadline - time.monotonic())
            if message is None:
                raise RuntimeError("the browser closed the DevTools connection")
            data = json.loads(message)
            if data.get("id") == wanted:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error'].get('message')}")
                return data.get("result", {})
            self.events.append(data)

    async def drain(self, seconds: float) -> None:
        """Collect events for a while (late script errors, resources that fail after load)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(self.connection.read_message(), left)
            except asyncio.TimeoutError:
                return
            if message is not None:
                self.events.append(json.loads(message))


def script_errors(events: list[dict]) -> list[str]:
    """Uncaught exceptions, console.error calls and failed loads, in words."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append("uncaught: " + (details.get("exception", {}).get("description") or details.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            found.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                      for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            found.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
    return [line.splitlines()[0][:300] for line in found]


async def probe_page(devtools_http: str, url: str) -> dict:
    """Open ``url`` in a fresh tab, wait for load and MathJax, and return the probe plus errors."""
    from tornado.httpclient import AsyncHTTPClient
    from tornado.websocket import websocket_connect

    client = AsyncHTTPClient()
    target = json.loads((await client.fetch(f"{devtools_http}/json/new?about:blank", method="PUT",
                                            body=b"")).body)
    connection = await websocket_connect(target["webSocketDebuggerUrl"], max_message_size=64 << 20)
    tools = DevTools(connection)
    try:
        for domain in ("Runtime", "Log", "Page"):
            await tools.call(f"{domain}.enable")
        await tools.call("Page.navigate", url=url)
        await _wait_for_load(tools)
        await tools.call("Runtime.evaluate", awaitPromise=True, expression=(
            "(window.MathJax && MathJax.startup && MathJax.startup.promise) ? "
            "MathJax.startup.promise.then(() => true) : Promise.resolve(false)"))
        await tools.drain(0.5)
        result = await tools.call("Runtime.evaluate", expression=PAGE_PROBE, returnByValue=True)
        report = result["result"]["value"]
        report["errors"] = script_errors(tools.events)
        return report
    finally:
        connection.close()
        await client.fetch(f"{devtools_http}/json/close/{target['id']}", raise_error=False)


async def _wait_for_load(tools: DevTools) -> None:
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while not any(e.get("method") == "Page.loadEventFired" for e in tools.events):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page did not finish loading within {PAGE_TIMEOUT_S:.0f} s")
        await tools.drain(0.2)


def problems(page: str, report: dict) -> list[str]:
    """What a reader would trip over on one page, one line each."""
    found = [f"{page}: {e}" for e in report["errors"]]
    if report["unrendered"]:
        found.append(f"{page}: {report['unrendered']} of {report['maths']} math elements not rendered")
    if report["page_width"] > report["view_width"]:
        found.append(f"{page}: the page scrolls sideways ({report['page_width']} > {report['view_width']} px)")
    found += [f"{page}: block scrolls sideways: {w}" for w in report["wide_blocks"]]
    for figure in report["figures"]:
        missing = [what for what, ok in (("alt text", figure["alt"]), ("caption", figure["caption"]),
                                         ("figure number", figure["numbered"])) if not ok]
        if missing:
            found.append(f"{page}: figure {figure['src']} has no " + ", no ".join(missing))
    found += [f"{page}: table cell cut off: {text[:60]!r}" for text in report.get("truncated", [])]
    notebook = Path(page).with_suffix(".ipynb").name
    if page.startswith("executed/") and not any(h.endswith("/" + notebook) for h in report.get("downloads", [])):
        found.append(f"{page}: no download link to its notebook {notebook}")
    return found


def site_pages(root: Path) -> list[str]:
    """Every HTML page of the book (not Sphinx's search and index pages)."""
    skip = {"search.html", "genindex.html", "py-modindex.html"}
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.html")
                  if p.name not in skip and "_static" not in p.parts and "_sources" not in p.parts)


async def check_site(root: Path, browser: str) -> dict[str, dict]:
    server, base = serve(root)
    profile_dir = tempfile.mkdtemp(prefix="spectm-site-check-")
    try:
        process, devtools_http = launch(browser, profile_dir)
        try:
            return {page: await probe_page(devtools_http, base + page) for page in site_pages(root)}
        finally:
            stop(process)
    finally:
        remove_profile(profile_dir)
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spectm.site_check", description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built HTML folder, e.g. _build/html")
    parser.add_argument("--report", type=Path, help="write the per-page findings here as JSON")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"site_check: {args.site} holds no index.html: build the book first (make book)", file=sys.stderr)
        return 1
    try:
        reports = asyncio.run(check_site(args.site, find_browser()))
    except NoBrowser as error:
        print(f"site_check: {error}", file=sys.stderr)
        return 2
    if args.report:
        args.report.write_text(json.dumps(reports, indent=1))
    found = [line for page, report in reports.items() for line in problems(page, report)]
    figures = sum(len(r["figures"]) for r in reports.values())
    maths = sum(r["maths"] for r in reports.values())
    print(f"site_check: {len(reports)} pages, {maths} math elements, {figures} figures, {len(found)} problems")
    for line in found:
        print("  " + line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
