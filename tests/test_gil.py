"""schedtutor.gil in this interpreter (which has the GIL), and run in a second one.

The free-threaded interpreter's side is tested in tests/test_free_threaded.py.
The timing tests here compare turns with the switch interval they follow.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from schedtutor import gil
from tests.conftest import measured_until


@pytest.fixture
def switch_interval() -> Iterator[None]:
    """Restore the switch interval a test changes."""
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


class TestGilEnabled:
    def test_this_interpreter_has_the_gil(self) -> None:
        """The tests run on a standard CPython: the GIL is on."""
        assert gil.gil_enabled() is True


def unhurried(turns: list[float]) -> float:
    """The turn a tenth of ``turns`` are shorter than: what the GIL itself makes of a turn.

    The operating system can only make a turn longer: with another program
    keeping a CPU busy, a waiting thread gets the CPU it needs to take the GIL
    at the system's next scheduling tick, and the median turn grows by a tick
    or two (measured beside a busy loop: 4 ms at a 2 ms interval, 8-12 ms at
    5 ms, 24 ms at 20 ms, where the shortest tenth stayed at 2.1-4.0, 5.2-7.3
    and 20.1-20.2 ms; idle, all three within 0.2 ms of the interval).
    """
    return sorted(turns)[len(turns) // 10]


class TestTurns:
    def test_turns_last_about_the_switch_interval(self) -> None:
        """Two threads of pure Python take turns of about the switch interval."""
        interval = sys.getswitchinterval()
        turns = gil.turns(0.2)
        assert len(turns) > 10
        assert 0.8 * interval < unhurried(turns) < 2 * interval, turns

    def test_turns_follow_the_switch_interval(self, switch_interval: None) -> None:
        """A switch interval 18 ms longer makes the turns about that much longer."""
        sys.setswitchinterval(0.002)
        short = unhurried(gil.turns(0.1))
        sys.setswitchinterval(0.02)
        long = unhurried(gil.turns(0.3))
        assert long - short > 0.5 * (0.02 - 0.002), (short, long)

    def test_a_bad_duration_is_one_line(self) -> None:
        """A negative duration is a ValueError naming the argument."""
        with pytest.raises(ValueError, match=r"^seconds must be a finite number of seconds"):
            gil.turns(-1)


class TestFourTasks:
    def test_four_tasks_and_their_sum(self) -> None:
        """Four add tasks of the asked work, summed to 10 by a fifth task."""
        graph = gil.four_tasks("numpy", 0.001)
        layers = graph.__dask_graph__()
        assert len(layers) == 5
        assert graph.compute(scheduler="sync") == 10

    def test_an_unknown_work_is_refused(self) -> None:
        """An unknown kind of work is refused as the ops refuse it."""
        with pytest.raises(ValueError, match="unknown work kind 'gpu'"):
            gil.four_tasks("gpu", 0.001)


class TestMeasure:
    def test_every_run_is_measured(self) -> None:
        """measure() times every (work, scheduler) of RUNS and the threads' turns."""
        measured = gil.measure(0.002)
        assert list(measured.seconds) == list(gil.RUNS)
        assert all(seconds > 0 for seconds in measured.seconds.values())
        assert measured.gil_enabled and not measured.free_threaded
        assert measured.median_turn is not None and measured.median_turn > 0
        assert measured.probe is None

    def test_sleeps_run_as_the_lesson_says(self) -> None:
        """With the GIL, the lock serialises four sleeps on two threads; plain ones pair up."""
        task = 0.05

        def as_the_lesson_says(measured: gil.Measurement) -> bool:
            return (
                0.97 <= measured.seconds["sleeplock", "threads"] / (4 * task) <= 1.2
                and 0.97 <= measured.seconds["sleep", "threads"] / (2 * task) <= 1.25
                and measured.speedup("sleep") > 1.6
            )

        # a CI run once took 0.42 s for the four locked sleeps of 0.05 s
        runs = measured_until(lambda: gil.measure(task), as_the_lesson_says)
        assert as_the_lesson_says(runs[-1]), [run.seconds for run in runs]

    @pytest.mark.parametrize("fewest", [0, 1.5, True])
    def test_fewest_runs_must_be_a_count(self, fewest: object) -> None:
        """fewest_runs below 1, or not a whole number, is one line of ValueError."""
        with pytest.raises(ValueError, match=r"^fewest_runs must be a whole number >= 1"):
            gil.measure(0.001, fewest)  # type: ignore[arg-type]


class TestMeasurement:
    def test_survives_json(self) -> None:
        """A measurement with its probe comes back from JSON equal."""
        measured = gil.Measurement(
            "3.13.5",
            True,
            False,
            0.2,
            {("python", "sync"): 0.8, ("python", "threads"): 0.41},
            median_turn=1e-6,
            probe=gil.ImportProbe("_x", False, True, "The GIL has been enabled"),
        )
        assert gil.Measurement.from_json(measured.to_json()) == measured

    def test_speedup_of_a_sleep_is_against_four_tasks(self) -> None:
        """A sleep's serial time is four tasks; pure Python's is the measured sync run."""
        measured = gil.Measurement(
            "3.13.5", True, False, 0.25,
            {("sleep", "threads"): 0.5, ("python", "sync"): 1.2, ("python", "threads"): 0.6},
        )  # fmt: skip
        assert measured.speedup("sleep") == 2.0
        assert measured.speedup("python") == 2.0


class TestImportProbe:
    def test_on_a_standard_build_the_gil_stays_on(self) -> None:
        """With the GIL, importing an extension that declares nothing leaves it on, silently."""
        done = subprocess.run(
            [sys.executable, "-c", "from schedtutor import gil; "
             "print(gil.Measurement('', False, True, 0.1, probe="
             "gil.import_undeclared_extension()).to_json())"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        probe = gil.Measurement.from_json(done.stdout).probe
        assert probe is not None
        assert probe.gil_before and probe.gil_after and probe.warning == ""


class TestMeasureIn:
    def test_runs_in_the_other_interpreter(self) -> None:
        """measure_in runs the measurement and the import probe in the Python it is given."""
        measured = gil.measure_in(sys.executable, 0.002)
        assert list(measured.seconds) == list(gil.RUNS)
        assert measured.python == sys.version.split()[0]
        assert measured.probe is not None and measured.probe.gil_after

    @pytest.mark.parametrize(
        ("python", "timeout", "says"),
        [
            ("no-such-python", None, r"^cannot run 'no-such-python': no such program; "),
            ("false", None, r"^'false' failed to measure: no output$"),
            (sys.executable, 0.05, r" did not finish measuring in 0.05 s \(it was stopped\)$"),
        ],
        ids=["a-missing-program", "a-failing-program", "a-hang"],
    )
    def test_failures_are_one_line(self, python: str, timeout: float | None, says: str) -> None:
        """A missing program, a failure or a hang is one line of RuntimeError."""
        with pytest.raises(RuntimeError, match=says) as raised:
            gil.measure_in(python, 0.001, timeout=timeout)
        assert "\n" not in str(raised.value)

    def test_bad_output_is_one_line(self) -> None:
        """A program that prints no measurement is one line, quoting what it printed."""
        with pytest.raises(RuntimeError, match=r"^'echo' printed no measurement: '-m sched"):
            gil.measure_in("echo", 0.001)
