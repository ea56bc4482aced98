"""Threads without the GIL, measured on a free-threaded CPython, and how the build finds one.

Lesson 3 runs its four tasks in a second interpreter with
:func:`schedtutor.gil.measure_in`: the free-threaded one that
:func:`schedtutor.settings.free_threaded_python` names, or else the one
``make free-threaded`` put in ``.venv-ft`` (``make test`` makes it first; conf.py
points the build at it).  These tests run the library in that interpreter and
check, as ratios of runs measured side by side, what the lesson says: pure-Python
work runs side by side in threads there, the threads take no turns, the
sleeplock's lock still serialises them, and importing an extension module that
declares nothing turns the GIL on.  Without such an interpreter they fail, saying
how to get one: a skipped test would hide the lesson's unmeasured branch.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from schedtutor import gil, settings
from schedtutor.load import Load, LoadMeter
from tests.conftest import the_builds_free_threaded_python

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / ".ci" / "install-free-threaded-python"

#: Each task's seconds: long enough that the threads pool's start is small beside it.
TASK = 0.2


@pytest.fixture(scope="module")
def free_threaded_python() -> str:
    """The interpreter the lesson uses; fail, saying how to get one, when there is none."""
    python = the_builds_free_threaded_python()
    if python is None:
        pytest.fail(
            "no free-threaded Python: run `make free-threaded` (`make test` does), "
            f"or set {settings.FREE_THREADED_PYTHON}"
        )
    return python


class TestFindingOne:
    def test_the_one_the_environment_names_comes_first(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(settings.FREE_THREADED_PYTHON, "/opt/python3.13t")
        assert gil.free_threaded_python() == "/opt/python3.13t"

    def test_else_one_on_the_path(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.delenv(settings.FREE_THREADED_PYTHON, raising=False)
        command = tmp_path / "python3.13t"
        command.write_text("#!/bin/sh\n")
        command.chmod(0o755)
        monkeypatch.setenv("PATH", str(tmp_path))
        assert gil.free_threaded_python() == str(command)

    def test_without_either_one_line_says_how_to_get_one(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.delenv(settings.FREE_THREADED_PYTHON, raising=False)
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(RuntimeError) as raised:
            gil.free_threaded_python()
        assert str(raised.value) == (
            "no free-threaded Python: put python3.14t or python3.13t on the PATH, "
            f"or name one in {settings.FREE_THREADED_PYTHON}"
        )


@pytest.fixture(scope="module")
def measured_beside(free_threaded_python: str) -> tuple[gil.Measurement, Load]:
    """The lesson's measurement in the free-threaded Python, and other programs' load meanwhile."""
    with LoadMeter() as meter:
        measurement = gil.measure_in(free_threaded_python, TASK, fewest_runs=3)
    return measurement, meter.load


@pytest.fixture(scope="module")
def measured(measured_beside: tuple[gil.Measurement, Load]) -> gil.Measurement:
    """The lesson's measurement, in the free-threaded Python (CPU-bound runs: best of 3)."""
    return measured_beside[0]


def two_cpus_free(load: Load) -> bool:
    """Whether other programs left the two CPUs that two threads at once need.

    On a busy machine (another program keeps a CPU busy) two threads share
    one CPU with or without the GIL: the tests then hold the measurement to
    what one free CPU allows, which a GIL-bound or serialised run would miss.
    """
    return load.free >= 1.5


def test_the_interpreter_is_free_threaded_and_keeps_the_gil_off(
    free_threaded_python: str, measured: gil.Measurement
) -> None:
    """A free-threaded build, and importing schedtutor, Dask and NumPy did not enable the GIL."""
    query = "import sysconfig; print(sysconfig.get_config_var('Py_GIL_DISABLED'))"
    build = subprocess.run(
        [free_threaded_python, "-c", query], capture_output=True, text=True, check=True
    )
    assert build.stdout.strip() == "1"
    assert measured.free_threaded is True and measured.gil_enabled is False


def test_python_work_runs_side_by_side_in_threads(
    measured_beside: tuple[gil.Measurement, Load],
) -> None:
    """Without the GIL, two threads run four pure-Python tasks in about half the serial time.

    With one CPU taken by another program, no faster than serial is all one
    CPU allows: the ratio is then held to at most 1.1.
    """
    measured, load = measured_beside
    seconds = measured.seconds
    ratio = seconds["python", "threads"] / seconds["python", "sync"]
    assert ratio < (0.75 if two_cpus_free(load) else 1.1), (seconds, str(load))


def test_threads_take_no_turns(measured_beside: tuple[gil.Measurement, Load]) -> None:
    """Without the GIL, two spinning threads run at once: no turn near the switch interval.

    With one CPU taken by another program the operating system hands the one
    free CPU to each thread in turn, but without a GIL its turns are still
    much shorter than the GIL's, measured here in this interpreter meanwhile.
    """
    measured, load = measured_beside
    turn = measured.median_turn
    assert turn is not None
    if two_cpus_free(load):
        assert turn < 0.1 * sys.getswitchinterval(), (turn, str(load))
    else:
        with_gil = statistics.median(gil.turns(0.3))
        assert turn < 0.6 * with_gil, (turn, with_gil, str(load))


def test_the_lock_still_serialises_the_threads(measured: gil.Measurement) -> None:
    """Without the GIL, the sleeplock's own lock still lets one task sleep at a time."""
    ratio = measured.seconds["sleeplock", "threads"] / (4 * TASK)
    assert 0.93 <= ratio <= 1.07, measured.seconds


def test_sleep_and_numpy_stay_parallel(measured_beside: tuple[gil.Measurement, Load]) -> None:
    """Without the GIL, plain sleeps and NumPy still run two at a time on two threads.

    Sleeps need no CPU; NumPy's two threads need two (with one taken by
    another program, no slower than serial: at most 1.1 of four tasks).
    """
    measured, load = measured_beside
    assert measured.seconds["sleep", "threads"] / (2 * TASK) < 1.25, measured.seconds
    numpy_bound = 0.8 if two_cpus_free(load) else 1.1
    assert measured.seconds["numpy", "threads"] / (4 * TASK) < numpy_bound, (
        measured.seconds,
        str(load),
    )


def test_an_undeclared_extension_turns_the_gil_on(measured: gil.Measurement) -> None:
    """Importing a module that declares nothing about the GIL enables it, with a warning."""
    probe = measured.probe
    assert probe is not None and probe.module == gil.UNDECLARED_EXTENSION[1]
    assert probe.gil_before is False and probe.gil_after is True
    assert "global interpreter lock (GIL) has been enabled" in probe.warning


def test_with_the_gil_python_work_does_not_gain_from_threads() -> None:
    """The contrast, in this interpreter (which has the GIL): the same work gains nothing."""
    assert gil.gil_enabled(), "the tests' own Python has no GIL"
    seconds = gil.measure_in(sys.executable, TASK, fewest_runs=3).seconds
    assert seconds["python", "threads"] / seconds["python", "sync"] > 0.9, seconds


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
