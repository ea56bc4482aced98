"""The documentation site: its sources follow the rules, and a fresh fast build is complete.

The tests marked ``docs`` use the session fixture ``built_site`` (tests/conftest.py),
which builds the whole site once, from scratch, with ``SCHEDTUTOR_DELAY=0.2``.
The others read the sources and configuration only.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import pkgutil
import re
import shlex
import socket
import sys
from itertools import combinations
from pathlib import Path

import pytest
import yaml

import schedtutor
from schedtutor.__main__ import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
from parallel_notebooks import runs_alone  # noqa: E402

from tests.notebook_cells import code_cells  # noqa: E402

TUTORIALS = sorted((DOCS / "tutorials").glob("[0-9][0-9]-*.md"))

#: A number followed by a unit of time: what a hand-typed timing looks like.
TIMING = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?[ \u00a0-]?(?:s|ms|µs|us|secs?|seconds?|milliseconds?)\b"
)

#: A figure given in words: "tens of microseconds", "a few milliseconds".
WORDED_TIMING = re.compile(
    r"\b(?:tens|hundreds|thousands|a few|several|a couple) of "
    r"(?:(?:micro|milli|nano)?seconds|µs|ms)\b",
    re.I,
)

#: Every page a reader reads (the conventions are not published).
PAGES = sorted(p for p in DOCS.rglob("*.md") if not p.name.startswith("_"))

#: Long runs of base64 (images embedded in notebooks), escaped newlines included.
BASE64 = re.compile(r"(?:[A-Za-z0-9+/=]|\\n){100,}")

#: The stamp of schedtutor.environment(), as rendered on a page.
STAMP = re.compile(
    r"Ran \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ with Python \d+\.\d+\.\d+.*?"
    r"dask \S+, distributed \S+, .*?on \d+ CPUs",
    re.S,
)


def prose(markdown: str) -> str:
    """Return a MyST notebook's prose: no front matter, code, roles, comments or targets."""
    text = re.sub(r"\A---\n.*?\n---\n", "", markdown, flags=re.S)
    text = re.sub(r"^(`{3,}|~{3,}).*?^\1\s*$", "", text, flags=re.S | re.M)  # fenced blocks
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"^%.*$", "", text, flags=re.M)  # MyST comments
    text = re.sub(r"\{[\w:.-]+\}`[^`]*`", "", text)  # roles such as {glue:text}`t:.2f`
    return re.sub(r"`[^`\n]*`", "", text)  # inline code


def hand_typed_timings(markdown: str) -> list[str]:
    """Return every number-with-a-time-unit, or figure in words, in the prose of ``markdown``."""
    text = prose(markdown)
    return [m.group(0) for m in (*TIMING.finditer(text), *WORDED_TIMING.finditer(text))]


def page(site: Path, source: Path) -> Path:
    """Return the built HTML page of a source file under docs/."""
    return site / source.relative_to(DOCS).with_suffix(".html")


def text_files(site: Path) -> list[Path]:
    """Return the published files a reader can see: pages, sources, notebooks, search index."""
    suffixes = {".html", ".txt", ".ipynb", ".json", ".js"}
    return [
        p
        for p in site.rglob("*")
        if p.is_file() and p.suffix in suffixes and "_static" not in p.relative_to(site).parts
    ]


class TestSources:
    """The tutorial sources follow the conventions in docs/_conventions.md."""

    def test_there_are_tutorials(self) -> None:
        """The first two lessons are present."""
        names = [t.name for t in TUTORIALS]
        assert "01-choosing-a-scheduler.md" in names and "02-slow-arithmetic.md" in names

    def test_the_timing_check_catches_typed_timings(self) -> None:
        """The hand-typed timing check finds typed numbers and ignores glued ones and code."""
        assert hand_typed_timings("It took 4.0 s, then 3 seconds, then 150 ms.") == [
            "4.0 s",
            "3 seconds",
            "150 ms",
        ]
        assert hand_typed_timings("a 1-second sleep") == ["1-second"]
        glued = "took {glue:text}`t_sync:.2f` s; `sleep(1)`\n```python\nsleep(2) # 2 s\n```\n"
        assert hand_typed_timings(glued) == []
        assert hand_typed_timings("dask 0.20 (2018), chunksize 6, version 3.5s") == ["3.5s"]
        assert hand_typed_timings("it costs tens of microseconds a task") == [
            "tens of microseconds"
        ]

    @pytest.mark.parametrize("source", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
    def test_no_hand_typed_timing(self, source: Path) -> None:
        """No page types a timing into its prose: every number of seconds is glued."""
        assert hand_typed_timings(source.read_text(encoding="utf-8")) == []

    @pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
    def test_notebook_shape(self, tutorial: Path) -> None:
        """Each tutorial is an executable MyST notebook that reads DELAY and shows its stamp."""
        text = tutorial.read_text(encoding="utf-8")
        assert re.search(r"\A---\n.*kernelspec:.*\n---\n", text, re.S), "no kernelspec"
        assert "default_delay()" in text, "DELAY must come from ops.default_delay()"
        stamp_cell = re.search(
            r"```\{code-cell\}[^\n]*\n:tags: \[remove-input\]\n(.*?)```", text, re.S
        )
        assert stamp_cell and "environment()" in stamp_cell.group(1), "no stamp cell"


#: Longest visible code cell a tutorial may show, in lines and in columns (the page's code
#: column shows about 76 characters without scrolling).
MAX_CELL_LINES, MAX_CELL_COLUMNS = 15, 76

#: What only the site's build knows about, which a tutorial never mentions.
BUILD_WORDS = re.compile(
    r"SCHEDTUTOR_(?:FREE_THREADED_PYTHON|EXECUTION|BENCHMARKS|WORK_LOG)|\bmake "
    r"(?:docs|test|bench|lint|free-threaded|clean)\b|fast build|\bsphinx|\bmyst|"
    r"\b(?:page|site) was built|hidden cells?\b",
    re.I,
)


class TestVisibleCode:
    """What a tutorial shows as code is what a reader would type."""

    @pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
    def test_short_cells(self, tutorial: Path) -> None:
        """No visible code cell is longer than 15 lines or wider than the code column."""
        long = [
            (cell.line, len(cell.code.splitlines()))
            for cell in code_cells(tutorial.read_text(encoding="utf-8"))
            if cell.visible and len(cell.code.splitlines()) > MAX_CELL_LINES
        ]
        wide = [
            (cell.line, line)
            for cell in code_cells(tutorial.read_text(encoding="utf-8"))
            if cell.visible
            for line in cell.code.splitlines()
            if len(line) > MAX_CELL_COLUMNS
        ]
        assert not long, f"visible cells over {MAX_CELL_LINES} lines (line, length): {long}"
        assert not wide, f"visible lines over {MAX_CELL_COLUMNS} columns: {wide}"

    @pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
    def test_no_build_machinery_in_visible_code(self, tutorial: Path) -> None:
        """Visible code never imports myst_nb nor names what only the build knows."""
        for cell in code_cells(tutorial.read_text(encoding="utf-8")):
            if cell.visible:
                assert "myst_nb" not in cell.code and "glue(" not in cell.code, cell.line
                assert not BUILD_WORDS.search(cell.code), (cell.line, cell.code)

    @pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
    def test_predict_first_and_a_summary(self, tutorial: Path) -> None:
        """Each tutorial asks for a prediction, answers it in a checked dropdown, and sums up."""
        text = tutorial.read_text(encoding="utf-8")
        predict = re.search(r"^#{2,3} Predict first\n(.*?)(?=^#{2,3} )", text, re.S | re.M)
        assert predict, "no 'Predict first' section"
        answer = re.search(r":::\{dropdown\}(.*?)\n:::", predict.group(1), re.S)
        assert answer and "{.claim:" in answer.group(1), "no checked answer in a dropdown"
        assert re.search(r"^## What you learned\n", text, re.M), "no 'What you learned'"


class TestReadTheDocsConfig:
    """.readthedocs.yaml builds the same site as make docs, from a current image."""

    config = yaml.safe_load((ROOT / ".readthedocs.yaml").read_text(encoding="utf-8"))

    def test_image_python_and_graphviz(self) -> None:
        """A current Ubuntu, the Python the lock is made for, graphviz from apt."""
        build = self.config["build"]
        assert self.config["version"] == 2
        assert build["os"] in ("ubuntu-24.04", "ubuntu-lts-latest", "ubuntu-latest")
        header = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
        locked = re.search(r"--python-version (\S+)", header)
        assert locked and str(build["tools"]["python"]) == locked[1], header[:300]
        assert "graphviz" in build["apt_packages"]
        assert "commands" not in build, "build.commands cannot be combined with apt_packages"

    def test_install_and_sphinx(self) -> None:
        """The lock's versions, then the project; conf.py at the top; warnings fail."""
        locked, project = self.config["python"]["install"]
        assert locked == {"requirements": "requirements/lock.txt"}
        assert project == {"method": "pip", "path": "."}
        assert self.config["sphinx"] == {"configuration": "conf.py", "fail_on_warning": True}

    def test_html_job_is_the_tested_build(self) -> None:
        """The html job builds docs/ with the conf of `.`, nitpicky and warnings as errors.

        That is the build the ``built_site`` fixture makes (paths aside), so the
        fixture's checks -- the landing page at the root above all -- hold for it.
        """
        (command,) = self.config["build"]["jobs"]["build"]["html"]
        args = shlex.split(command)
        assert args[:3] == ["python", "-m", "sphinx"]
        assert args[-2:] == ["docs", "$READTHEDOCS_OUTPUT/html"]
        assert args[args.index("-c") + 1] == "."
        assert args[args.index("-b") + 1] == "html"
        flags = "".join(a[1:] for a in args if re.fullmatch(r"-[A-Za-z]+", a))
        assert {"n", "W", "E"} <= set(flags) and "--keep-going" in args


@pytest.mark.docs
class TestBuiltTutorials:
    """Every tutorial page is built with its graphs, tables, stamp and notebook."""

    @pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
    def test_page_exists(self, built_site: Path, tutorial: Path) -> None:
        """The tutorial has its HTML page."""
        assert page(built_site, tutorial).is_file()

    @pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
    def test_graph_images_exist(self, built_site: Path, tutorial: Path) -> None:
        """The page shows at least one image, and every image it shows is a file of the site."""
        html_page = page(built_site, tutorial)
        sources = re.findall(r'<img[^>]+src="([^"]+)"', html_page.read_text(encoding="utf-8"))
        local = [s for s in sources if not s.startswith(("http:", "https:", "data:"))]
        assert local, "no image on the page"
        for source in local:
            image = (html_page.parent / source).resolve()
            assert image.suffix in (".png", ".svg") and image.stat().st_size > 0, source

    def test_slow_arithmetic_draws_both_graphs(self, built_site: Path) -> None:
        """Lesson 2 shows the plain graph and the graph coloured by execution order."""
        html_page = built_site / "tutorials" / "02-slow-arithmetic.html"
        assert len(re.findall(r"<img[^>]+src=", html_page.read_text(encoding="utf-8"))) >= 2

    @pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
    def test_tables_contain_numbers(self, built_site: Path, tutorial: Path) -> None:
        """The page has a table of measured numbers."""
        text = page(built_site, tutorial).read_text(encoding="utf-8")
        tables = re.findall(r"<table.*?</table>", text, re.S)
        assert tables, "no table on the page"
        cells = [
            re.sub(r"<[^>]+>", "", c) for t in tables for c in re.findall(r"<td.*?</td>", t, re.S)
        ]
        assert any(re.search(r"\d+\.\d+", cell) for cell in cells), "no numbers in any table"

    @pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
    def test_stamp(self, built_site: Path, tutorial: Path) -> None:
        """The page says when it ran, with which Python, dask and distributed, on how many CPUs."""
        text = re.sub(r"<[^>]+>", "", page(built_site, tutorial).read_text(encoding="utf-8"))
        assert STAMP.search(text), "no stamp"

    @pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
    def test_notebook_download(self, built_site: Path, tutorial: Path) -> None:
        """The executed notebook is published and the page links to it."""
        relative = tutorial.relative_to(DOCS).with_suffix(".ipynb").as_posix()
        notebook = built_site / "_sources" / relative
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        assert any(c["cell_type"] == "code" and c.get("outputs") for c in cells)
        assert f"_sources/{relative}" in page(built_site, tutorial).read_text(encoding="utf-8")

    def test_lesson_3_measured_threads_without_the_gil(self, built_site: Path) -> None:
        """`make test` gives the build a free-threaded Python, and lesson 3 reports its run.

        The build's checks of that run (claims ``ft-*``) are what make it true;
        this test sees that the page shows it: the column, the speed-up, the
        turns and the import that switched the GIL on.
        """
        text = (built_site / "tutorials" / "03-threads-locks-gil.html").read_text(encoding="utf-8")
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))
        assert re.search(r"threads, free-threaded 3\.\d+\.\d+", text), "no free-threaded column"
        assert re.search(r"ran them \d+\.\d\u00d7 as fast as its own serial run", text)
        assert re.search(r"took turns of \d+\.\d\d \u00b5s there", text), "no turns without the GIL"
        assert re.search(r"(?:--|\u2013) _testmultiphase_null_slots, .* the GIL came on", text)

    def test_glued_numbers_are_rendered(self, built_site: Path) -> None:
        """Glued numbers appear in the prose of lesson 2, formatted."""
        text = (built_site / "tutorials" / "02-slow-arithmetic.html").read_text(encoding="utf-8")
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))
        assert re.search(r"single-threaded \d+\.\d\d s, threads \d+\.\d\d s", text)


@pytest.mark.docs
class TestBuiltSite:
    """The site as a whole: landing page, reference pages, nothing private."""

    def test_root_is_the_landing_page(self, built_site: Path) -> None:
        """The root index.html is docs/index.md, not a listing of the repository."""
        text = (built_site / "index.html").read_text(encoding="utf-8")
        assert "<title>schedtutor" in text
        assert 'href="tutorials/index.html"' in text
        assert not (built_site / "docs").exists() and not (built_site / "README.html").exists()

    def test_api_documents_every_public_name(self, built_site: Path) -> None:
        """Every name in schedtutor.__all__ and every public module is on the API page."""
        text = (built_site / "reference" / "api.html").read_text(encoding="utf-8")
        for name in schedtutor.__all__:
            assert re.search(rf'id="schedtutor\.[\w.]*\b{re.escape(name)}"', text), name
        root = importlib.import_module("schedtutor")
        for info in pkgutil.iter_modules(root.__path__):
            if not info.name.startswith("_"):
                assert f'id="module-schedtutor.{info.name}"' in text, info.name

    def test_cli_page_lists_every_option(self, built_site: Path) -> None:
        """The CLI page shows every subcommand and option of the parser."""
        text = (built_site / "reference" / "cli.html").read_text(encoding="utf-8")
        parser = build_parser()
        (commands,) = [a for a in parser._actions if hasattr(a, "choices") and a.choices]
        for name, sub in commands.choices.items():
            assert f"schedtutor {name}" in text, name
            for action in sub._actions:
                if isinstance(action, argparse._HelpAction):
                    continue  # every command has -h; the usage line shows it
                for option in action.option_strings:
                    assert option in text, f"{name} {option}"

    def test_execution_report(self, built_site: Path) -> None:
        """The execution report lists every tutorial, with its run time, as succeeded."""
        text = (built_site / "reference" / "execution.html").read_text(encoding="utf-8")
        (table,) = re.findall(r"<table.*?</table>", text, re.S)
        for tutorial in TUTORIALS:
            row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{tutorial.stem}.*?</tr>", table, re.S)
            assert row, tutorial.stem
            assert "✅" in row.group(0) and re.search(r"\d+\.\d+", row.group(0)), row.group(0)

    def test_notebooks_that_time_cpu_work_ran_alone(self, built_site: Path) -> None:
        """In the two-process build, no page was read while a runs-alone notebook ran.

        docs/_ext/parallel_notebooks.py logs each page's turn: the page, ``alone``
        or ``shared``, and when it took and gave back the lock.
        """
        log = built_site.parent / "doctrees" / "notebook-turns.log"
        turns = [line.split() for line in log.read_text(encoding="utf-8").splitlines()]
        spans = {page: (kind, float(start), float(end)) for page, kind, start, end in turns}
        pages = {p.relative_to(DOCS).with_suffix("").as_posix(): p for p in DOCS.rglob("*.md")}
        asked = {page for page, path in pages.items() if runs_alone(path.read_text("utf-8"))}
        assert asked >= {"tutorials/03-threads-locks-gil", "tutorials/06-overhead"}, asked
        assert {page for page, (kind, *_) in spans.items() if kind == "alone"} == asked
        beside = [
            (page, other)
            for page in asked
            for other, (_, start, end) in spans.items()
            if other != page and start < spans[page][2] and spans[page][1] < end
        ]
        assert not beside, f"pages read beside a notebook that runs alone: {beside}"
        # ...and the build did read in parallel: two notebooks that share ran side by side
        shared = [(s, e) for page, (kind, s, e) in spans.items() if kind == "shared"]
        assert any(s1 < e2 and s2 < e1 for (s1, e1), (s2, e2) in combinations(shared, 2))

    @pytest.mark.parametrize(
        "tutorial", [*TUTORIALS, DOCS / "tutorials" / "index.md"], ids=lambda p: p.stem
    )
    def test_tutorials_speak_dask(self, built_site: Path, tutorial: Path) -> None:
        """A tutorial page (and their index) never mentions the build: its variables, make,
        Sphinx, myst, hidden cells or the page being built."""
        html = page(built_site, tutorial).read_text(encoding="utf-8")
        article = html[html.find("<article") : html.find("</article>")]
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", article))
        assert not BUILD_WORDS.findall(text), BUILD_WORDS.findall(text)

    def test_nothing_local_is_published(self, built_site: Path) -> None:
        """No page, source or notebook holds a local path, the host name or the user name."""
        user, host = re.escape(getpass.getuser()), re.escape(socket.gethostname())
        forbidden = [str(ROOT), str(Path.home()) + "/", "/root/", "/home/", "/work/", "/tmp/"]
        forbidden.append(sys.prefix)
        # The host name as a word (it may be short: "vm"); a user name ("root" is a
        # common word) only where it would be a leak: in a path or an address.
        leaks = re.compile(rf"(?<![\w.-]){host}(?![\w-])|/{user}/|\b{user}@|~{user}\b")
        found = []
        for path in text_files(built_site):
            text = path.read_text(encoding="utf-8", errors="replace")
            text = BASE64.sub("", text)  # embedded images are not text
            found += [f"{path.name}: {word}" for word in forbidden if word and word in text]
            found += [f"{path.name}: {m.group(0)!r}" for m in leaks.finditer(text)]
        assert not found, found
