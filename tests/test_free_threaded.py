"""Threads without the GIL, measured on a free-threaded CPython, and how the build finds one.

Lesson 3 runs four tasks in a second interpreter, the free-threaded one that
``SCHEDTUTOR_FREE_THREADED_PYTHON`` names, or else the one ``make free-threaded``
put in ``.venv-ft`` (``make test`` makes it first).  These tests run the library in
that interpreter and check, as ratios of runs measured side by side, what the
lesson says: pure-Python work runs side by side in threads there, and the
sleeplock's lock still serialises them.  Without such an interpreter they fail,
saying how to get one: a skipped test would hide the lesson's unmeasured branch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / ".ci" / "install-free-threaded-python"

#: Each task's seconds: long enough that the threads pool's start is small beside it.
TASK = 0.2

#: Run by an interpreter: each kind of work named after the task length, under sync and
#: two threads.
MEASURE = """
import json, sys
from dask import delayed
from schedtutor import ops, run

task = float(sys.argv[1])
seconds = {}
for work in sys.argv[2:]:
    graph = delayed(sum)([ops.add(i, 1, delay=task, work=work) for i in range(4)])
    for scheduler, options in (("sync", {}), ("threads", {"num_workers": 2})):
        # CPU-bound work: the fastest of three, as other programs only slow a run down
        seconds[f"{work} {scheduler}"] = min(
            run(graph, scheduler, **options).seconds for _ in range(3 if work == "python" else 1)
        )
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print(json.dumps({"gil_enabled": gil, "seconds": seconds}))
"""


@pytest.fixture(scope="module")
def free_threaded_python() -> str:
    """The interpreter the lesson uses; fail, saying how to get one, when there is none."""
    python = os.environ.get("SCHEDTUTOR_FREE_THREADED_PYTHON", "").strip()
    if python:
        return python
    made = ROOT / ".venv-ft" / "bin" / "python"
    if not made.exists():
        pytest.fail(
            "no free-threaded Python: run `make free-threaded` (`make test` does), "
            "or set SCHEDTUTOR_FREE_THREADED_PYTHON"
        )
    return str(made)


def measure(python: str, *works: str) -> dict:
    """Run MEASURE in ``python`` for ``works``; return what it printed."""
    done = subprocess.run(
        [python, "-c", MEASURE, str(TASK), *works], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def measured(free_threaded_python: str) -> dict:
    return measure(free_threaded_python, "python", "sleeplock")


def test_the_interpreter_is_free_threaded_and_keeps_the_gil_off(
    free_threaded_python: str, measured: dict
) -> None:
    """A free-threaded build, and importing schedtutor, Dask and NumPy did not enable the GIL."""
    query = "import sysconfig; print(sysconfig.get_config_var('Py_GIL_DISABLED'))"
    build = subprocess.run(
        [free_threaded_python, "-c", query], capture_output=True, text=True, check=True
    )
    assert build.stdout.strip() == "1"
    assert measured["gil_enabled"] is False


def test_python_work_runs_side_by_side_in_threads(measured: dict) -> None:
    """Without the GIL, two threads run four pure-Python tasks in about half the serial time."""
    seconds = measured["seconds"]
    ratio = seconds["python threads"] / seconds["python sync"]
    assert ratio < 0.75, seconds


def test_the_lock_still_serialises_the_threads(measured: dict) -> None:
    """Without the GIL, the sleeplock's own lock still lets one task sleep at a time."""
    seconds = measured["seconds"]
    ratio = seconds["sleeplock threads"] / seconds["sleeplock sync"]
    assert 0.93 <= ratio <= 1.07, seconds


def test_with_the_gil_python_work_does_not_gain_from_threads() -> None:
    """The contrast, in this interpreter (which has the GIL): the same work gains nothing."""
    assert getattr(sys, "_is_gil_enabled", lambda: True)(), "the tests' own Python has no GIL"
    seconds = measure(sys.executable, "python")["seconds"]
    assert seconds["python threads"] / seconds["python sync"] > 0.9, seconds


@pytest.mark.parametrize(
    ("named", "says"),
    [
        (sys.executable, "is not a free-threaded build (python3.13t, python3.14t)"),
        ("/no/such/python3.13t", "no such program"),
    ],
    ids=["a-python-with-the-gil", "a-missing-program"],
)
def test_the_installer_refuses_a_wrong_interpreter_in_one_line(named: str, says: str) -> None:
    """`make free-threaded` with FREE_THREADED_PYTHON naming the wrong thing: one line, exit 1."""
    done = subprocess.run(
        [str(INSTALL)],
        env={**os.environ, "FREE_THREADED_PYTHON": named},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("make: no free-threaded Python: "), lines
    assert says in lines[0]
