"""Shared fixtures: small delays, leak checks, and one fast build of the site per session."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The delay the timing tests use: small, but large against scheduling noise.
DELAY = 0.2

#: The delay of the fast site build the docs and browser tests check.
FAST_DOCS_DELAY = "0.2"


#: Helpers that multiprocessing starts once and keeps for the life of the parent process.
LIFELONG_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def children() -> set[int]:
    """Return the pids of this process's live descendants.

    Zombies are excluded, and so are multiprocessing's lifelong helper processes
    (its resource tracker), which are not leaks: Python keeps one per parent.
    """
    alive = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(helper in " ".join(child.cmdline()) for helper in LIFELONG_HELPERS):
                continue
            alive.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def wait_for(condition: object, timeout: float = 10.0) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(condition())  # type: ignore[operator]


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail the test if it leaves a child process or a non-daemon thread behind."""
    before_children = children()
    before_threads = {t.ident for t in threading.enumerate()}
    yield
    assert wait_for(lambda: children() <= before_children), (
        f"child processes left behind: {sorted(children() - before_children)}"
    )

    def new_threads() -> list[str]:
        return [
            t.name
            for t in threading.enumerate()
            if t.ident not in before_threads and t.is_alive() and not t.daemon
        ]

    assert wait_for(lambda: not new_threads()), f"threads left behind: {new_threads()}"


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the whole site once, from scratch, in fast mode; return its HTML folder."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "SCHEDTUTOR_DELAY": FAST_DOCS_DELAY}
    command = [
        sys.executable, "-m", "sphinx", "-nW", "--keep-going", "-b", "html",
        "-d", str(out / "doctrees"), "-c", str(ROOT), str(ROOT / "docs"), str(out / "html"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"the site build failed:\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}")
    return out / "html"
