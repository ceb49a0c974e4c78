"""The documentation site: it builds with warnings as errors, in CI-sized
time, and one page of each kind renders in a real headless browser with its
images loaded, no console error and nothing fetched from outside.

Needs the ``docs`` extra (Sphinx, the gallery's dependencies, playwright)
and a Chromium (Debian's ``chromium`` package, or ``$FILTERKIT_CHROMIUM``).
Without them the tests skip; ``.ci/run`` sets ``FILTERKIT_REQUIRE_SITE=1``,
which turns a skip into a failure, so CI always runs them.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = os.environ.get("FILTERKIT_REQUIRE_SITE") == "1"
#: the whole build, gallery included, on the project's 2-core machine takes
#: about a minute; five is the budget before the site is too slow for CI
BUILD_BUDGET_S = 300


def _missing() -> List[str]:
    missing = []
    for module in ("sphinx", "myst_parser", "sphinx_gallery", "numpydoc",
                   "pydata_sphinx_theme", "matplotlib", "playwright"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if _chromium() is None:
        missing.append("chromium")
    return missing


def _chromium() -> "str | None":
    return os.environ.get("FILTERKIT_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")


def _need_site() -> None:
    missing = _missing()
    if missing:
        message = f"the site's tools are missing: {', '.join(missing)} (pip install '.[docs]')"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[str]:
    """Build the site into a scratch folder, serve it on localhost; yield
    its URL."""
    _need_site()
    out = tmp_path_factory.mktemp("site")
    start = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          str(ROOT / "docs"), str(out / "html"), "-d", str(out / "doctrees")],
                         capture_output=True, text=True, timeout=2 * BUILD_BUDGET_S,
                         env=dict(os.environ, MPLBACKEND="Agg"),
                         cwd=str(out))  # not the checkout: `-m` would import its uncompiled source
    took = time.monotonic() - start
    assert res.returncode == 0, res.stderr[-5000:]
    assert took < BUILD_BUDGET_S, f"the site took {took:.0f} s to build"
    handler = functools.partial(_QuietHandler, directory=str(out / "html"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Debian's Chromium as root, on a machine without network: no
        # sandbox, no GPU, no background connections
        b = p.chromium.launch(executable_path=_chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            yield b
        finally:
            b.close()


def _visit(browser, url: str) -> Dict[str, object]:
    """Load `url`; return what the page logged, failed to load, fetched
    from elsewhere, and the state of its images."""
    page = browser.new_page()
    errors: List[str] = []
    failed: List[str] = []
    outside: List[str] = []
    host = url.split("/")[2]
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: failed.append(f"{r.url} (HTTP {r.status})")
            if r.status >= 400 else None)
    page.on("request", lambda r: outside.append(r.url)
            if r.url.split("/")[2:3] != [host] and not r.url.startswith("data:") else None)
    try:
        response = page.goto(url, wait_until="networkidle", timeout=60_000)
        images = page.evaluate("""() => Array.from(document.images).map(
            i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0}))""")
        title = page.title()
        text = page.inner_text("article") if page.query_selector("article") else ""
    finally:
        page.close()
    return {"status": response.status if response else None, "errors": errors, "failed": failed,
            "outside": outside, "images": images, "title": title, "text": text}


# one page of each kind: (path, words its title has, fewest images, words its text has)
PAGES = [
    ("index.html", "filterkit documentation", 0, "Guide"),
    ("getting-started.html", "Getting started", 0, "pip install"),
    ("guide/convolution-and-borders.html", "orders", 1, "correlate"),
    ("guide/colour.html", "Colour", 2, "0.547"),
    ("reference/generated/filterkit.convolve.html", "filterkit.convolve", 0, "Examples"),
    ("auto_examples/index.html", "Gallery", 10, "Sobel"),
    ("auto_examples/plot_04_sobel.html", "Sobel", 1, "sobel"),
    ("results/fft_grid.html", "FFT", 0, "auto"),
    ("guide/spatial-vs-fft.html", "FFT", 1, "auto"),
]


@pytest.mark.parametrize("path, title, min_images, word", PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_in_a_browser(browser, site, path, title, min_images, word):
    seen = _visit(browser, site + path)
    assert seen["status"] == 200, seen
    assert title.lower() in seen["title"].lower(), seen["title"]
    assert word.lower() in seen["text"].lower(), f"{word!r} not on {path}"
    assert not seen["failed"], seen["failed"]
    assert not seen["errors"], seen["errors"]
    assert not seen["outside"], f"{path} fetched from outside the site: {seen['outside']}"
    broken = [i["src"] for i in seen["images"] if not i["ok"]]
    assert not broken, f"{path}: images that did not load: {broken}"
    assert len(seen["images"]) >= min_images, seen["images"]


def test_search_finds_a_filter(browser, site):
    # the search page runs the index in the browser: the site is searchable
    page = browser.new_page()
    errors: List[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(site + "search.html?q=sobel", wait_until="networkidle", timeout=60_000)
        page.wait_for_selector("#search-results li", timeout=30_000)
        hits = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")
    finally:
        page.close()
    assert not errors, errors
    assert any("sobel" in h.lower() for h in hits), hits
