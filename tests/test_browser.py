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


NETWORK_IDLE_MS = 30_000
"""How long a page may take to stop loading (a busy build machine slows Chromium too)."""


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
    open_requests: set[str] = field(default_factory=set)


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
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    host = urlsplit(site_url).netloc
    seen: dict[str, Visit] = {}
    context = browser.new_context()
    try:
        for name in pages_of(built_site):
            visit = Visit(site_url + name)
            page = context.new_page()
            page.on("console", lambda m, v=visit: record_console(v, m))
            page.on("pageerror", lambda e, v=visit: v.page_errors.append(str(e)))
            page.on("request", lambda r, v=visit: v.open_requests.add(r.url))
            page.on("requestfinished", lambda r, v=visit: v.open_requests.discard(r.url))
            page.on(
                "requestfailed",
                lambda r, v=visit: (
                    v.open_requests.discard(r.url),
                    v.bad_requests.append(f"failed: {r.url} ({r.failure})"),
                ),
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
            try:
                page.wait_for_load_state("networkidle", timeout=NETWORK_IDLE_MS)
            except PlaywrightTimeout:  # said by the requests test, naming what still loaded
                visit.bad_requests.extend(
                    f"still loading after {NETWORK_IDLE_MS / 1000:g} s: {url}"
                    for url in sorted(visit.open_requests) or ["(no request open)"]
                )
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


#: Returns where a task's bar is drawn, in page pixels, in the first Bokeh figure whose
#: name starts with a prefix (its title: "threads: 0.80 s"), with the bar's key and row;
#: with ``scroll`` it first scrolls the figure to the middle of the window.
BAR_OF_TASK = """([prefix, task, scroll]) => {
  for (const doc of Bokeh.documents) {
    const figure = [...doc.all_models].find(
      m => typeof m.name === "string" && m.name.startsWith(prefix));
    if (figure === undefined) continue;
    const view = [...Bokeh.index.all_views()].find(v => v.model === figure);
    const data = figure.renderers[0].data_source.data;
    const i = Array.from(data.name).indexOf(task);
    if (view === undefined || i < 0) return null;
    if (scroll) view.canvas_view.el.scrollIntoView({block: "center"});
    const x = view.frame.x_scale.compute((data.work_start[i] + data.end[i]) / 2);
    const y = view.frame.y_scale.compute(view.frame.y_range.synthetic(data.worker[i]));
    const box = view.canvas_view.el.getBoundingClientRect();
    return {x: box.left + x, y: box.top + y, key: data.key[i], worker: data.worker[i]};
  }
  return null;
}"""


def hover_tooltip(page: Any, prefix: str, task: str) -> tuple[dict[str, Any], str]:
    """Scroll to the task's bar in the figure named ``prefix...``, hover it; return the tooltip.

    Returns the bar (its key and row) and the text of the tooltip that names its key.
    """
    page.wait_for_function(
        "() => window.Bokeh !== undefined && Bokeh.documents.length > 0"
        " && Bokeh.documents.every(d => d.is_idle)",
        timeout=30_000,
    )
    bar = page.evaluate(BAR_OF_TASK, [prefix, task, True])
    assert bar is not None, f"no figure {prefix!r} with a task {task!r}"
    page.mouse.move(bar["x"], bar["y"])
    tooltip = page.locator(".bk-tooltip-content").filter(has_text=bar["key"]).first
    tooltip.wait_for(state="visible", timeout=10_000)
    return bar, str(tooltip.inner_text())


@dataclass
class Guarded:
    """A browser tab that may load nothing from another host, and what it tried and logged."""

    page: Any
    outside: list[str] = field(default_factory=list)
    seen: Visit = field(default_factory=lambda: Visit(""))

    @property
    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions so far."""
        return self.seen.console_errors + self.seen.page_errors


@pytest.fixture
def guarded(browser: Any) -> Iterator[Guarded]:
    """A fresh tab that aborts every request to another host than 127.0.0.1 and records it."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = Guarded(context.new_page())

    def route(request_route: Any) -> None:
        url = urlsplit(request_route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname != "127.0.0.1":
            tab.outside.append(request_route.request.url)
            request_route.abort()
        else:
            request_route.continue_()

    context.route("**/*", route)
    tab.page.on("console", lambda m: record_console(tab.seen, m))
    tab.page.on("pageerror", lambda e: tab.seen.page_errors.append(str(e)))
    try:
        yield tab
    finally:
        context.close()


class TestInteractiveTimeline:
    def test_saved_file_hovers_with_no_network(self, guarded: Guarded, tmp_path: Path) -> None:
        """Trace.to_html opens with no network; hovering add's bar names it, its row and times."""
        from schedtutor import slow_arithmetic, trace

        traced = trace(slow_arithmetic(delay=0.05), "threads", num_workers=2)
        path = traced.to_html(tmp_path / "timeline.html")
        guarded.page.goto(path.as_uri(), wait_until="load")
        bar, text = hover_tooltip(guarded.page, "threads", "add")
        span = next(s for s in traced.spans if s.name == "add")
        assert bar["key"] == span.key
        lines = dict(line.split(":\t", 1) for line in text.splitlines())
        assert lines == {
            "task": "add",
            "key": span.key,
            "worker": bar["worker"],
            "start": f"{span.start:.3f} s",
            "end": f"{span.end:.3f} s",
            "lock wait": f"{span.lock_wait:.3f} s",
        }
        assert guarded.outside == []
        assert guarded.errors == []

    def test_lesson_2_has_a_hoverable_timeline(
        self, guarded: Guarded, site_url: str, built_site: Path
    ) -> None:
        """Lesson 2's interactive timelines load BokehJS from the site and name a hovered task."""
        [lesson] = [name for name in pages_of(built_site) if "slow-arithmetic" in name]
        guarded.page.goto(site_url + lesson, wait_until="load")
        scripts = guarded.page.evaluate("Array.from(document.scripts, s => s.src)")
        assert any(re.search(r"/_static/bokeh/bokeh-[\d.]+\.min\.js$", s) for s in scripts)
        _, text = hover_tooltip(guarded.page, "threads", "sub")
        assert "task:\tsub" in text and "worker:\tthread " in text and "lock wait:\t" in text
        figures = guarded.page.evaluate(
            "[...Bokeh.documents[0].all_models].filter(m => m.type === 'Figure').length"
        )
        assert figures == 4  # sync, threads, processes, processes (chunksize=1)
        assert guarded.outside == []
        assert guarded.errors == []
