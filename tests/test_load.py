"""Tests for schedtutor.load: other programs' load is counted, our own processes' is not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from schedtutor.load import Load, LoadMeter

SPIN = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"


@contextmanager
def busy_loop(ours: bool) -> Iterator[None]:
    """Keep one CPU busy for the block: in a child of ours, or in a process that is not.

    A process that is not ours is started through a shell that exits at once,
    so the loop is left to the init process, as any other program's would be.
    """
    if ours:
        child = subprocess.Popen([sys.executable, "-c", SPIN])
        try:
            time.sleep(0.3)  # let it start spinning
            yield
        finally:
            child.kill()
            child.wait()
        return
    shell = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -c "$0" >/dev/null 2>&1 & echo $!', SPIN],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(shell.stdout.strip())
    try:
        time.sleep(0.3)
        yield
    finally:
        os.kill(pid, signal.SIGKILL)


def measure(seconds: float = 1.0) -> Load:
    with LoadMeter() as meter:
        time.sleep(seconds)
    return meter.load


class TestLoadMeter:
    def test_another_programs_loop_is_load_and_our_own_childs_is_not(self) -> None:
        """A busy loop of another program counts as about one CPU; the same loop of ours not."""
        with busy_loop(ours=False):
            theirs = measure()
        with busy_loop(ours=True):
            ours = measure()
        assert theirs.others >= 0.7, theirs
        assert theirs.others - ours.others >= 0.6, (theirs, ours)

    def test_stop_before_start_says_so(self) -> None:
        """Stopping a meter that never started is one clear RuntimeError."""
        with pytest.raises(RuntimeError, match="never started"):
            LoadMeter().stop()


class TestLoad:
    def test_words(self) -> None:
        """A load reads as what other programs kept busy, or as no other load."""
        assert str(Load(1.94, 2, 3.0)) == "other programs kept 1.9 of 2 CPUs busy"
        assert str(Load(0.0, 2, 3.0)) == "no other load on 2 CPUs"
        assert Load(1.5, 2, 1.0).free == 0.5
