"""Tests for schedtutor.timing: the old lesson's experiment, timed as ratios at small delays.

Each timing claim is checked as a ratio of two runs measured side by side, or as
a difference in units of the delay -- never as an absolute wall time.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import dask
import pytest

from schedtutor import _work, compare, run, slow_arithmetic
from schedtutor.ops import EXPECTED_RESULT
from schedtutor.timing import Run, fastest, typical
from tests.conftest import DELAY


@pytest.fixture(scope="module")
def sleeplock_times() -> dict[str, float]:
    """Time the old lesson's graph (sleeplock work) under the local schedulers, 3 runs each."""
    table = compare(slow_arithmetic(delay=DELAY), ["sync", "threads", "processes"], repeat=3)
    return {record["label"]: record["seconds"] for record in table.to_records()}


@pytest.fixture(scope="module")
def warm_pool_times() -> Iterator[dict[str, float]]:
    """Time processes with chunksize 6 and 1 on one pool of two worker processes already running.

    Dask starts a fresh pool for every compute, and with chunksize 1 it must
    start a second worker process that chunksize 6 never needs.  On a busy
    machine that process starts a good part of a delay late, and its start-up,
    not the batching, then decides the difference.  On a pool that is already
    up, the difference is the batching alone.
    """
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        # two tasks at once start both processes; each imports the ops' module
        list(pool.map(_work.do_work, [0.3, 0.3], ["sleep", "sleep"]))
        with dask.config.set(pool=pool):
            table = compare(
                slow_arithmetic(delay=DELAY),
                ["processes", ("processes", {"chunksize": 1})],
                repeat=3,
            )
    return {record["label"]: record["seconds"] for record in table.to_records()}


class TestSleeplockExperiment:
    def test_threads_take_as_long_as_sync(self, sleeplock_times: dict[str, float]) -> None:
        """Under the lock, threads run the four ops one after another, as sync does."""
        ratio = sleeplock_times["threads"] / sleeplock_times["sync"]
        assert 0.93 <= ratio <= 1.07

    def test_default_processes_save_nothing(self, sleeplock_times: dict[str, float]) -> None:
        """With chunksize 6, add and sub go to one worker process, so no delay is saved."""
        saved = (sleeplock_times["sync"] - sleeplock_times["processes"]) / DELAY
        assert saved < 0.25

    def test_chunksize_one_saves_one_delay(self, warm_pool_times: dict[str, float]) -> None:
        """With chunksize 1, add and sub run in two processes at once: one delay saved."""
        saved = (warm_pool_times["processes"] - warm_pool_times["processes (chunksize=1)"]) / DELAY
        assert 0.75 <= saved <= 1.25

    def test_distributed_two_workers_take_three_delays(self, no_leaks: None) -> None:
        """On 2 worker processes x 1 thread the graph takes three delays, not four.

        The cluster's own cost of sending, running and collecting four tasks
        grows to half a delay when other programs load the machine; it is
        measured beside the run, on the same graph with no delay, and taken off.
        """
        config = [("distributed", {"n_workers": 2, "threads_per_worker": 1})]
        timing = compare(slow_arithmetic(delay=DELAY), config, repeat=3)["distributed"]
        bare = compare(slow_arithmetic(delay=0), config, repeat=3)["distributed"]
        assert 2.85 <= (timing.seconds - bare.seconds) / DELAY <= 3.4
        assert timing.startup > 0
        assert timing.runs[0].result == EXPECTED_RESULT


class TestSleepExperiment:
    def test_threads_save_one_delay(self) -> None:
        """Without the lock, time.sleep releases the GIL and threads overlap add and sub."""
        table = compare(slow_arithmetic(delay=DELAY, work="sleep"), ["sync", "threads"], repeat=3)
        saved = (table["sync"].seconds - table["threads"].seconds) / DELAY
        assert 0.85 <= saved <= 1.15


class TestRun:
    def test_reports_canonical_name_and_result(self) -> None:
        """run() resolves the alias and returns the result with the seconds it took."""
        timed = run(slow_arithmetic(delay=0.01), "single-threaded")
        assert (timed.scheduler, timed.result, timed.startup) == ("sync", EXPECTED_RESULT, 0.0)
        assert timed.seconds >= 4 * 0.01

    def test_not_a_collection(self) -> None:
        """A plain value is refused with a TypeError naming its type."""
        with pytest.raises(TypeError, match=r"expected a Dask collection.*got int"):
            run(42, "sync")


class TestComparison:
    def test_records_and_renderings(self) -> None:
        """to_records has the documented fields; the table renders as Markdown and HTML."""
        table = compare(slow_arithmetic(delay=0.01), ["sync", ("threads", {})], repeat=2)
        records = table.to_records()
        assert [r["label"] for r in records] == ["sync", "threads"]
        for record in records:
            assert {"scheduler", "options", "label", "seconds", "min", "max", "result"} <= set(
                record
            )
            assert record["min"] <= record["seconds"] <= record["max"]
            assert len(record["runs"]) == 2
        json.dumps(records)
        assert table.to_markdown().startswith("| configuration |")
        assert "<table>" in table._repr_html_()
        assert "sync" in str(table)

    def test_all_configurations_checked_before_running(self) -> None:
        """A bad configuration late in the list fails before the first one runs."""
        with pytest.raises(ValueError, match="unknown scheduler 'thread'"):
            compare(slow_arithmetic(delay=5), ["sync", "thread"])

    @pytest.mark.parametrize("scheduler", ["sync", "threads", "processes", "distributed"])
    def test_task_error_reaches_the_caller(self, scheduler: str, no_leaks: None) -> None:
        """A task that raises surfaces the same exception type and message under every scheduler."""
        options = {"n_workers": 1, "processes": False} if scheduler == "distributed" else {}
        failing = slow_arithmetic(delay=0) / 0
        with pytest.raises(ZeroDivisionError, match="division by zero"):
            run(failing, scheduler, **options)


class TestFastest:
    """``fastest`` reruns only while even its fastest run is above ``good_enough``."""

    @staticmethod
    def measuring(*times: float) -> tuple[list[float], Callable[[], float]]:
        done: list[float] = []
        queue = iter(times)

        def measure() -> float:
            done.append(next(queue))
            return done[-1]

        return done, measure

    def test_a_fast_enough_run_ends_it_after_at_least_runs(self) -> None:
        done, measure = self.measuring(0.3, 0.2, 0.1, 0.1)
        assert fastest(measure, at_least=2, good_enough=0.5, seconds=float) == 0.2
        assert done == [0.3, 0.2]

    def test_slow_runs_are_repeated_up_to_at_most(self) -> None:
        done, measure = self.measuring(0.9, 0.8, 0.7, 0.6, 0.1)
        assert fastest(measure, at_most=4, good_enough=0.5, seconds=float) == 0.6
        assert done == [0.9, 0.8, 0.7, 0.6]

    def test_it_keeps_the_fastest_run_itself(self) -> None:
        """A Run or a Trace comes back whole; its ``seconds`` decide."""
        runs = iter([run(slow_arithmetic(delay=0.02), "sync") for _ in range(2)])
        kept = fastest(lambda: next(runs), at_least=2)
        assert kept.result == EXPECTED_RESULT and kept.seconds > 0


class TestTypical:
    def test_the_median_run_of_an_odd_number(self) -> None:
        """Of three runs, the one with the middle time comes back."""
        assert typical([0.9, 0.4, 0.5], seconds=float) == 0.5

    def test_the_faster_middle_run_of_an_even_number(self) -> None:
        """Of four runs, the faster of the two in the middle comes back: a run, not a mean."""
        assert typical([0.9, 0.4, 0.6, 0.5], seconds=float) == 0.5

    def test_it_returns_the_run_itself(self) -> None:
        """A Run comes back whole, chosen by its ``seconds``."""
        runs = [Run(i, seconds, "sync") for i, seconds in enumerate([0.3, 0.1, 0.2])]
        assert typical(runs) is runs[2]

    def test_no_runs(self) -> None:
        """An empty list is one ValueError, not an IndexError."""
        with pytest.raises(ValueError, match="typical needs at least one run, got none"):
            typical([])


class TestTimeSpent:
    """``time_spent`` times the calls of one attribute inside a block and puts it back."""

    def test_times_calls_made_inside_a_library_call(self) -> None:
        """The cull inside an optimised compute is timed once; none without optimisation."""
        from dask import delayed
        from dask.highlevelgraph import HighLevelGraph

        from schedtutor.timing import time_spent

        original = HighLevelGraph.cull
        total = delayed(sum)([delayed(abs)(-i) for i in range(20)])
        with time_spent(HighLevelGraph, "cull") as optimised:
            assert total.compute(scheduler="sync") == sum(range(20))
        with time_spent(HighLevelGraph, "cull") as plain:
            total.compute(scheduler="sync", optimize_graph=False)
        assert len(optimised.calls) == 1 and optimised.seconds > 0
        assert plain.calls == [] and plain.seconds == 0
        assert HighLevelGraph.cull is original

    def test_put_back_after_an_error(self) -> None:
        """An exception in the block still restores the attribute, and is not swallowed."""
        import json

        from schedtutor.timing import time_spent

        original = json.dumps
        with pytest.raises(TypeError), time_spent(json, "dumps") as spent:
            json.dumps(object())
        assert json.dumps is original and len(spent.calls) == 1

    def test_an_inherited_method_is_removed_again(self) -> None:
        """Timing a method a class inherits leaves the class without an entry of its own after."""
        from schedtutor.timing import time_spent

        class Base:
            def hello(self) -> str:
                return "hello"

        class Child(Base):
            pass

        with time_spent(Child, "hello") as spent:
            assert Child().hello() == "hello"
        assert "hello" not in Child.__dict__ and len(spent.calls) == 1

    @pytest.mark.parametrize(
        ("name", "reason"),
        [("nothing", "there is no such attribute"), ("__doc__", "it is not callable")],
    )
    def test_bad_attribute(self, name: str, reason: str) -> None:
        """An attribute that is missing or not callable is refused in one line."""
        import json

        from schedtutor.timing import time_spent

        with pytest.raises(ValueError, match=f"cannot time json.{name}: {reason}"):
            with time_spent(json, name):
                pass
