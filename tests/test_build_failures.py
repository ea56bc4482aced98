"""The build fails loudly: a raising cell, a missing graphviz, a cluster that cannot start.

Each fault stops the site build (or the library call) with a message that
says what went wrong and what to do.  The builds are throwaway one-page sites
in a temporary folder that run this repository's ``conf.py``
(``build_pages`` in tests/conftest.py), so they take seconds, not the whole
site's minutes; a clean page built the same way shows the harness itself is
sound.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dask
import pytest

from schedtutor import local_cluster, slow_arithmetic
from schedtutor.graph import draw_graph
from tests.conftest import build_pages, notebook_page, path_without

#: A preload no worker can import: the simplest way to make a real cluster fail to start.
BROKEN_WORKERS = {"distributed.worker.preload": ["schedtutor_no_such_module"]}


def path_without_dot(folder: Path) -> str:
    """Return a PATH with every program of the current one except graphviz's ``dot``."""
    path = path_without(folder, "dot")
    assert shutil.which("dot", path=path) is None
    return path


@pytest.mark.docs
class TestSiteBuild:
    def test_a_clean_page_builds(self, tmp_path: Path) -> None:
        """A page whose cells run builds strictly: the failures below are the faults' doing."""
        done = build_pages(tmp_path, {"page": notebook_page("1 + 1")})
        assert done.returncode == 0, done.stderr[-3000:]
        assert (tmp_path / "html" / "page.html").exists()

    def test_a_cell_that_raises_stops_the_build(self, tmp_path: Path) -> None:
        """A raising cell fails the build, naming the page and the cell's own error."""
        page = notebook_page("print('fine')", "raise ValueError('this cell fails on purpose')")
        done = build_pages(tmp_path, {"page": page})
        assert done.returncode != 0
        assert "page.md" in done.stderr
        assert "ValueError: this cell fails on purpose" in done.stderr.strip().splitlines()[-1]
        assert not (tmp_path / "html" / "page.html").exists()

    def test_missing_graphviz_stops_the_build_at_once(self, tmp_path: Path) -> None:
        """Without ``dot`` the build stops before any notebook runs and says how to install it."""
        page = notebook_page("import time; time.sleep(30)")  # never reached
        started = time.monotonic()
        done = build_pages(
            tmp_path, {"page": page}, env={"PATH": path_without_dot(tmp_path / "bin")}
        )
        assert done.returncode != 0
        assert "graphviz's `dot` program is not installed" in done.stderr
        assert "apt-get install graphviz" in done.stderr
        assert "Executing notebook" not in done.stdout
        assert time.monotonic() - started < 30

    def test_a_cluster_that_cannot_start_stops_the_build(self, tmp_path: Path) -> None:
        """A cell whose cluster cannot start fails the build with the cause and what to try."""
        page = notebook_page(
            "import dask, schedtutor\n"
            f"dask.config.set({BROKEN_WORKERS!r})\n"
            "schedtutor.compare(schedtutor.slow_arithmetic(delay=0.01),\n"
            "                   [('distributed', {'n_workers': 1})], repeat=1)"
        )
        started = time.monotonic()
        done = build_pages(tmp_path, {"page": page})
        assert done.returncode != 0
        last = done.stderr.strip().splitlines()[-1]
        assert "could not start a local Dask cluster" in last
        assert "schedtutor_no_such_module" in last
        assert "processes=False" in last
        assert time.monotonic() - started < 120


class TestLibrary:
    def test_missing_graphviz_says_how_to_install_it(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """draw_graph without ``dot`` raises one RuntimeError with the install commands."""
        monkeypatch.setenv("PATH", path_without_dot(tmp_path / "bin"))
        with pytest.raises(RuntimeError, match=r"apt-get install graphviz.*brew install graphviz"):
            draw_graph(slow_arithmetic(delay=0), tmp_path / "graph.svg")
        assert not (tmp_path / "graph.svg").exists()

    def test_missing_graphviz_on_the_command_line(self, tmp_path: Path) -> None:
        """``schedtutor graph`` without ``dot`` exits 2 with the install hint in one line."""
        done = subprocess.run(
            [sys.executable, "-m", "schedtutor", "graph", str(tmp_path / "graph.png")],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PATH": path_without_dot(tmp_path / "bin")},
        )
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and "apt-get install graphviz" in done.stderr

    def test_a_cluster_that_cannot_start_raises_with_the_cause(self, no_leaks: None) -> None:
        """local_cluster whose workers cannot start raises RuntimeError naming the root cause."""
        with (
            dask.config.set(BROKEN_WORKERS),
            pytest.raises(RuntimeError, match="could not start a local Dask cluster") as raised,
        ):
            with local_cluster(n_workers=1):
                pass
        message = str(raised.value)
        assert "ModuleNotFoundError: No module named 'schedtutor_no_such_module'" in message
        assert "processes=False" in message and "\n" not in message

    def test_a_script_without_the_main_guard_is_told_to_add_it(self, tmp_path: Path) -> None:
        """A script that starts a cluster without ``if __name__ == '__main__':`` learns why."""
        script = tmp_path / "lesson.py"
        script.write_text(
            "import schedtutor\n"
            "with schedtutor.local_cluster(n_workers=1) as client:\n"
            "    print(client.submit(sum, [1, 2]).result())\n"
        )
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120
        )
        assert done.returncode != 0
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("RuntimeError: could not start a local Dask cluster")
        assert "if __name__ == '__main__':" in last
