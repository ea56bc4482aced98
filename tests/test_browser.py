"""The built site in a real browser: Chromium, driven by Playwright, on 127.0.0.1.

The site is the session's fast build (``built_site`` in tests/conftest.py),
served by a ``http.server`` thread on a free port of 127.0.0.1.  Every HTML
page is opened once (the ``visits`` fixture) and what the browser saw is
recorded: console errors, uncaught exceptions, failed or outside requests,
images, links and element ids.  The tests then check those records, so they
work on whatever pages the site has.

Playwright drives the Chromium :func:`schedtutor.settings.browser` finds:
the one ``SCHEDTUTOR_BROWSER`` names, else ``chromium``, ``chromium-browser`` or
``google-chrome`` on ``PATH`` (``make chromium`` installs Debian's).  It never
downloads a browser of its own.
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

import nbformat
import pytest

from schedtutor import settings

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Collects, after load, every image's state, every link and every id of the page.
COLLECT = """async () => {
  for (const img of document.images) { img.loading = "eager"; }
  await Promise.all(Array.from(document.images, img => img.decode().catch(() => null)));
  return {
    images: Array.from(document.images, img => ({
      src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth})),
    links: Array.from(document.querySelectorAll("a[href]"), a => a.href),
    ids: Array.from(document.querySelectorAll("[id], a[name]"), e => e.id || e.name),
  };
}"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore a browser that drops a connection; report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def site_url(built_site: Path) -> Iterator[str]:
    """Serve the built site on 127.0.0.1 at a free port; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Launch the machine's Chromium headless through Playwright (no browser download)."""
    try:
        chromium = settings.browser()
    except ValueError as error:
        pytest.fail(str(error))
    if chromium is None:
        pytest.fail(
            "no Chromium or Chrome: run `make chromium`, `sudo apt-get install chromium` "
            f"(Debian/Ubuntu) or `brew install --cask chromium` (macOS), or set {settings.BROWSER}"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Visit:
    """What the browser saw on one page."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    bad_requests: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


def record_console(visit: Visit, message: Any) -> None:
    """Record a console error, except the 404 of the browser's own request for /favicon.ico.

    Chromium asks every origin for /favicon.ico unprompted; the site has no
    favicon and never links one, and on Read the Docs that path is not even
    the site's.
    """
    if message.type != "error":
        return
    if urlsplit(message.location.get("url", "")).path == "/favicon.ico":
        return
    visit.console_errors.append(f"{message.text} ({message.location.get('url', '')})")


def pages_of(site: Path) -> list[str]:
    """Return every HTML page of the built site, relative to its root (not _static and such)."""
    return sorted(
        str(p.relative_to(site))
        for p in site.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(site).parts)
    )


@pytest.fixture(scope="module")
def visits(browser: Any, site_url: str, built_site: Path) -> dict[str, Visit]:
    """Open every page once in a fresh tab and record what happened."""
    host = urlsplit(site_url).netloc
    seen: dict[str, Visit] = {}
    context = browser.new_context()
    try:
        for name in pages_of(built_site):
            visit = Visit(site_url + name)
            page = context.new_page()
            page.on("console", lambda m, v=visit: record_console(v, m))
            page.on("pageerror", lambda e, v=visit: v.page_errors.append(str(e)))
            page.on(
                "requestfailed",
                lambda r, v=visit: v.bad_requests.append(f"failed: {r.url} ({r.failure})"),
            )
            page.on(
                "response",
                lambda r, v=visit: (
                    v.bad_requests.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
                ),
            )
            page.on(
                "request",
                lambda r, v=visit: (
                    v.bad_requests.append(f"outside: {r.url}")
                    if urlsplit(r.url).scheme in ("http", "https")
                    and urlsplit(r.url).netloc != host
                    else None
                ),
            )
            response = page.goto(visit.url, wait_until="load")
            assert response is not None and response.status == 200, visit.url
            page.wait_for_load_state("networkidle")
            found = page.evaluate(COLLECT)
            visit.images, visit.links, visit.ids = (
                found["images"],
                found["links"],
                set(found["ids"]),
            )
            page.close()
            seen[name] = visit
    finally:
        context.close()
    assert seen, "the built site has no pages"
    return seen


def http_get(url: str) -> tuple[int, bytes]:
    """Return the status and body of a GET of ``url``."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


class TestEveryPage:
    def test_no_console_errors(self, visits: dict[str, Visit]) -> None:
        """No page logs an error to the console or throws an uncaught exception."""
        problems = {
            name: v.console_errors + v.page_errors
            for name, v in visits.items()
            if v.console_errors or v.page_errors
        }
        assert not problems, problems

    def test_no_outside_or_failed_requests(self, visits: dict[str, Visit]) -> None:
        """Pages load everything from the site itself: nothing fails, nothing leaves 127.0.0.1."""
        problems = {name: v.bad_requests for name, v in visits.items() if v.bad_requests}
        assert not problems, problems

    def test_every_image_decodes(self, visits: dict[str, Visit]) -> None:
        """Every image of every page loads and decodes to a non-zero width."""
        images = [(name, image) for name, v in visits.items() for image in v.images]
        assert images, "the site has no images at all: the task graphs are missing"
        broken = [
            f"{name}: {image['src']}"
            for name, image in images
            if not image["complete"] or image["width"] <= 0
        ]
        assert not broken, broken

    def test_every_internal_link_resolves(self, visits: dict[str, Visit], site_url: str) -> None:
        """Every link into the site answers 200, and every #anchor exists on its page."""
        ids = {v.url: v.ids for v in visits.values()}
        checked = 0
        broken = []
        for name, visit in visits.items():
            for link in sorted(set(visit.links)):
                if not link.startswith(site_url):
                    continue
                checked += 1
                target, anchor = urldefrag(link)
                if target not in ids:
                    status, body = http_get(target)
                    if status != 200:
                        broken.append(f"{name}: {link} -> HTTP {status}")
                        continue
                    ids[target] = {i.decode() for i in re.findall(rb'(?:id|name)="([^"]+)"', body)}
                if anchor and unquote(anchor) not in ids[target]:
                    broken.append(f"{name}: {link} -> no element #{anchor}")
        assert checked > len(visits), "the pages hardly link to each other"
        assert not broken, broken

    def test_notebook_downloads_are_valid_notebooks(self, visits: dict[str, Visit]) -> None:
        """Every .ipynb the site links to is a notebook that nbformat validates."""
        notebooks = sorted({urldefrag(link)[0] for v in visits.values() for link in v.links
                            if urldefrag(link)[0].endswith(".ipynb")})  # fmt: skip
        assert notebooks, "no page links to an .ipynb download"
        for url in notebooks:
            status, body = http_get(url)
            assert status == 200, url
            notebook = nbformat.reads(body.decode("utf-8"), as_version=4)
            nbformat.validate(notebook)
            assert any(cell.cell_type == "code" for cell in notebook.cells), url


class TestSearch:
    def test_search_finds_gil(self, browser: Any, site_url: str) -> None:
        """The search page, asked for GIL, lists at least one page."""
        page = browser.new_page()
        try:
            page.goto(site_url + "search.html?q=GIL", wait_until="load")
            results = page.locator("#search-results li")
            results.first.wait_for(state="attached", timeout=30_000)
            assert results.count() >= 1
            assert "GIL" in page.locator("#search-results").inner_text()
        finally:
            page.close()


class TestPredictFirst:
    def test_the_answer_is_hidden_until_clicked(
        self, browser: Any, site_url: str, built_site: Path
    ) -> None:
        """On the slow-arithmetic lesson, the predict-first answer shows only after a click."""
        lessons = [name for name in pages_of(built_site) if "slow-arithmetic" in name]
        assert lessons, "no slow-arithmetic page in the built site"
        page = browser.new_page()
        try:
            page.goto(site_url + lessons[0], wait_until="load")
            dropdowns = page.locator("details").filter(has_text=re.compile("answer", re.I))
            assert dropdowns.count() >= 1, "no <details> answer on the page"
            dropdown = dropdowns.first
            body = dropdown.locator(":scope > :not(summary)").first
            assert dropdown.get_attribute("open") is None
            assert not body.is_visible()
            dropdown.locator(":scope > summary").click()
            body.wait_for(state="visible", timeout=5_000)
            assert body.is_visible() and body.inner_text().strip()
        finally:
            page.close()
