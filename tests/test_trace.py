"""Tests for schedtutor.trace: spans recorded inside the tasks, under every scheduler.

Overlaps are checked in units of the delay (``DELAY`` = 0.2 s): two tasks that
ran side by side overlap by about one delay, two that ran one after the other
by nothing.  The margins (a quarter of a delay) are far above the scheduling
noise, a few milliseconds, and far below the effect.
"""

from __future__ import annotations

import operator
import tempfile
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pytest
from dask.delayed import Delayed, delayed

from schedtutor import _tracing, slow_arithmetic
from schedtutor.ops import EXPECTED_RESULT
from schedtutor.trace import (
    TaskSpan,
    Trace,
    materialize,
    overlap,
    spans_table,
    tasks_seconds,
    trace,
)
from tests.conftest import DELAY, RealCluster
from tests.test_real_cluster import workers_of

MARGIN = DELAY / 4


def _span(name: str, start: float, end: float, wait: float = 0.0, thread: str = "1") -> TaskSpan:
    return TaskSpan(f"{name}-1", name, "100", thread, start, end, wait)


def _by_name(traced: Trace) -> dict[str, TaskSpan]:
    return {span.name: span for span in traced.spans}


def _spool_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("schedtutor-trace-*"))


def _in_flight_together(traced: Trace) -> bool:
    """Whether add and sub worked at the same time, neither waiting for the other's lock.

    How soon the second of them starts is the scheduler's dispatch -- tens of
    milliseconds when other programs load the machine, a spawned process's
    start-up under processes -- and not what these tests are about: that two
    workers run them side by side, each unhindered, is.
    """
    add, sub = _by_name(traced)["add"], _by_name(traced)["sub"]
    unhindered = add.lock_wait < MARGIN and sub.lock_wait < MARGIN
    return unhindered and max(add.work_start, sub.work_start) < min(add.end, sub.end)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give this test a temporary folder of its own (other test runs share /tmp)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


class TestTaskSpan:
    def test_worker_joins_process_and_thread(self) -> None:
        """A span's worker names its process and its thread: one row of a timeline."""
        assert _span("add", 0, 1).worker == "100 / 1"

    def test_work_starts_after_the_lock_wait(self) -> None:
        """The work of a span begins when its lock wait ends, never after its end."""
        assert _span("add", 1.0, 3.0, wait=0.5).work_start == 1.5
        assert _span("add", 1.0, 3.0, wait=9.0).work_start == 3.0

    def test_overlap_counts_work_not_waits(self) -> None:
        """Two spans side by side overlap only where both were working."""
        spans = [_span("add", 0.0, 1.0), _span("sub", 0.0, 2.0, wait=1.0, thread="2")]
        assert overlap(spans, "add", "sub") == 0.0
        spans = [_span("add", 0.0, 1.0), _span("sub", 0.5, 2.0, thread="2")]
        assert overlap(spans, "add", "sub") == 0.5

    def test_cadence_steps_from_start_to_start_on_each_worker(self) -> None:
        """A worker's steps from one task's start to its next; by name; none is an error."""
        spans = (
            _span("add", 0.0, 0.2),
            _span("add", 0.3, 0.5),  # a step of 0.3 on thread 1
            _span("sub", 0.6, 0.7),  # a step of 0.3, from add to sub
            _span("add", 0.0, 0.2, thread="2"),
            _span("add", 0.5, 0.6, thread="2"),  # a step of 0.5 on thread 2
        )
        traced = Trace(spans, None, 1.0, "threads")
        assert traced.cadence() == pytest.approx(0.3)  # median of 0.3, 0.3, 0.5
        assert traced.cadence("add") == pytest.approx(0.4)  # median of 0.3, 0.5
        with pytest.raises(ValueError, match="no worker ran two tasks named 'sub'"):
            traced.cadence("sub")


class TestLocalSchedulers:
    def test_sync_runs_the_ops_one_after_another(self) -> None:
        """Sync gives four spans on one thread, in sequence, and the right result."""
        traced = trace(slow_arithmetic(delay=DELAY, work="sleep"), "sync")
        assert traced.result == EXPECTED_RESULT
        assert sorted(s.name for s in traced.spans) == ["add", "div", "mul", "sub"]
        assert len(traced.workers) == 1
        assert traced.overlap("add", "sub") == 0.0
        for before, after in zip(traced.spans, traced.spans[1:], strict=False):
            assert after.start >= before.end

    def test_spans_lie_within_the_compute(self) -> None:
        """Every span starts after the compute began and ends before it returned."""
        traced = trace(slow_arithmetic(delay=DELAY / 4, work="sleep"), "threads")
        assert all(0 <= s.start <= s.end <= traced.seconds for s in traced.spans)
        assert all(abs(s.seconds - DELAY / 4) < MARGIN for s in traced.spans)

    def test_threads_overlap_add_and_sub_when_they_sleep(self) -> None:
        """Plain sleeps release the GIL: add and sub work side by side on two threads."""
        traced = trace(slow_arithmetic(delay=DELAY, work="sleep"), "threads", num_workers=2)
        spans = _by_name(traced)
        assert spans["add"].worker != spans["sub"].worker
        assert traced.overlap("add", "sub") > DELAY - MARGIN

    def test_threads_serialise_add_and_sub_on_the_lock(self) -> None:
        """Under the sleeplock add and sub start together, but one waits a delay for the lock."""
        traced = trace(slow_arithmetic(delay=DELAY), "threads", num_workers=2)
        spans = _by_name(traced)
        assert traced.overlap("add", "sub") < MARGIN
        waits = sorted([spans["add"].lock_wait, spans["sub"].lock_wait])
        assert waits[0] < MARGIN
        assert abs(waits[1] - DELAY) < MARGIN
        assert abs(spans["add"].start - spans["sub"].start) < MARGIN

    def test_processes_default_runs_add_and_sub_in_one_process(self, no_leaks: None) -> None:
        """With chunksize 6 add and sub travel in one batch: one process, one after the other."""
        traced = trace(slow_arithmetic(delay=DELAY), "processes", num_workers=2)
        spans = _by_name(traced)
        assert spans["add"].process == spans["sub"].process
        assert traced.overlap("add", "sub") == 0.0
        assert traced.result == EXPECTED_RESULT

    def test_processes_chunksize_one_overlaps_add_and_sub(
        self, private_tmp: Path, no_leaks: None
    ) -> None:
        """With chunksize 1 add and sub run in two processes at once, each with its own lock.

        The second process may start work a good part of a delay after the
        first on a loaded machine (its own spawn), so this test works two
        delays per op.
        """
        graph = slow_arithmetic(delay=2 * DELAY)
        traced = trace(graph, "processes", chunksize=1, num_workers=2)
        spans = _by_name(traced)
        assert spans["add"].process != spans["sub"].process
        assert _in_flight_together(traced)
        assert traced.spans[0].start > 0.05  # the spawn pool's start-up shows before the first
        assert not _spool_folders()  # the spool files are cleaned up


class TestDistributed:
    @pytest.mark.parametrize("processes", [True, False])
    def test_two_workers_overlap_add_and_sub_when_they_sleep(
        self, processes: bool, no_leaks: None
    ) -> None:
        """On 2 workers x 1 thread add and sub run side by side on two workers."""
        graph = slow_arithmetic(delay=DELAY, work="sleep")
        traced = trace(graph, "distributed", n_workers=2, processes=processes)
        spans = _by_name(traced)
        assert spans["add"].process.startswith("tcp://")
        assert spans["add"].worker != spans["sub"].worker
        assert _in_flight_together(traced)
        assert traced.startup > 0
        assert not _tracing._store  # collected from the workers' memory

    def test_one_process_shares_the_lock(self, no_leaks: None) -> None:
        """With processes=False both workers live in one process and take turns at the lock.

        The later of add and sub gets the lock only when the earlier lets it go:
        it waits for the rest of the earlier one's delay (the whole delay when
        both arrive together; less when the cluster hands one over later, as a
        CI run saw once, add arriving 0.16 s after sub).
        """
        traced = trace(slow_arithmetic(delay=DELAY), "distributed", n_workers=2, processes=False)
        spans = _by_name(traced)
        first, later = sorted((spans["add"], spans["sub"]), key=lambda s: s.start)
        assert traced.overlap("add", "sub") < MARGIN
        assert later.start < first.end  # it came while the earlier one held the lock...
        assert later.start + later.lock_wait > first.end - MARGIN  # ...and waited for it


class TestRemoteCluster:
    def test_spans_come_back_from_a_real_cluster(self, real_cluster: RealCluster) -> None:
        """Against `dask scheduler` + 2 `dask worker` processes, spans come back by address."""
        graph = slow_arithmetic(delay=DELAY, work="sleep")
        traced = trace(graph, "distributed", address=real_cluster.address)
        spans = _by_name(traced)
        assert traced.result == EXPECTED_RESULT
        assert {s.process for s in traced.spans} <= workers_of(real_cluster)
        assert spans["add"].process != spans["sub"].process
        assert _in_flight_together(traced)


def _inc(x: int) -> int:
    return x + 1


class TestReadersGraphs:
    def test_plain_functions_get_spans(self) -> None:
        """A graph of a reader's own functions (a lambda too) is traced, one span per task."""
        total = delayed(sum)([delayed(_inc)(i) for i in range(5)] + [delayed(lambda: 10)()])
        traced = trace(total, "threads")
        assert traced.result == 25
        assert [s.name for s in traced.spans].count("inc") == 5  # key_split drops the "_"
        assert {s.name for s in traced.spans} >= {"sum", "lambda"}

    def test_plain_functions_under_processes(self, no_leaks: None) -> None:
        """A reader's functions are traced in the worker processes too."""
        total = delayed(sum)([delayed(_inc)(i) for i in range(4)])
        traced = trace(total, "processes", chunksize=1)
        assert traced.result == 10
        assert len(traced.spans) == 5

    def test_raw_dict_graph(self) -> None:
        """A hand-written dict graph wrapped as a Delayed is traced with its own keys."""
        dsk: dict[Any, Any] = {("x", i): (_inc, i) for i in range(3)}
        dsk["total"] = (sum, [("x", i) for i in range(3)])
        traced = trace(Delayed("total", dsk), "sync")
        assert traced.result == 6
        assert {s.key for s in traced.spans} == {*dsk}

    def test_dask_array(self) -> None:
        """A dask array's chunks are traced (fused blockwise tasks show as one span each)."""
        array = da.ones((40, 40), chunks=10) + 1
        traced = trace(array.sum(), "threads")
        assert traced.result == 3200
        assert len(traced.spans) >= 16

    def test_array_result_is_the_computed_array(self) -> None:
        """Tracing returns what compute returns, here a NumPy array."""
        array = da.arange(10, chunks=5) * 2
        np.testing.assert_array_equal(trace(array, "sync").result, np.arange(10) * 2)

    def test_a_failing_task_raises_and_leaves_no_records(self) -> None:
        """A task's exception reaches the caller; the wrapper records the span and keeps nothing."""
        bad = delayed(operator.truediv)(1, 0)
        with pytest.raises(ZeroDivisionError):
            trace(bad, "threads")
        assert not _tracing._store

    def test_many_tiny_tasks_all_get_spans(self) -> None:
        """Two thousand tiny tasks under threads give two thousand and one spans."""
        dsk: dict[Any, Any] = {("x", i): (_inc, i) for i in range(2000)}
        dsk["total"] = (sum, [("x", i) for i in range(2000)])
        traced = trace(Delayed("total", dsk), "threads")
        assert len(traced.spans) == 2001
        assert len({s.key for s in traced.spans}) == 2001

    def test_materialize_returns_the_computed_graph(self) -> None:
        """materialize gives the tasks dask.compute runs and the one output key."""
        dsk, keys = materialize(slow_arithmetic(delay=0))
        assert len(keys) == 1 and keys[0] in dsk
        assert dask.compute(Delayed(keys[0], dsk))[0] == EXPECTED_RESULT


class TestBadInput:
    def test_not_a_collection(self) -> None:
        """Tracing something that is not a Dask collection is a TypeError naming it."""
        with pytest.raises(TypeError, match=r"expected a Dask collection.*int"):
            trace(5, "threads")

    def test_unknown_scheduler(self) -> None:
        """An unknown scheduler name is refused before anything runs."""
        with pytest.raises(ValueError, match="unknown scheduler 'thread'"):
            trace(slow_arithmetic(delay=0), "thread")

    def test_option_of_another_scheduler(self) -> None:
        """An option the scheduler does not have is refused, naming what it accepts."""
        with pytest.raises(ValueError, match="'chunksize' does not apply to the sync"):
            trace(slow_arithmetic(delay=0), "sync", chunksize=1)


class TestSpansTable:
    @staticmethod
    def traced(scheduler: str, *spans: TaskSpan, options: dict[str, Any] | None = None) -> Trace:
        return Trace(tuple(spans), None, 1.0, scheduler, options or {})

    def test_one_row_per_task_in_start_order(self) -> None:
        """A trace becomes one row per task, by start: name, worker, start, end and lock wait."""
        traced = self.traced(
            "threads",
            TaskSpan("sub-1", "sub", "100", "7", 0.0, 0.2),
            TaskSpan("add-1", "add", "100", "9", 0.0, 0.4, 0.2),
            TaskSpan("mul-1", "mul", "100", "7", 0.4, 0.6),
        )
        table = spans_table(traced)
        assert table.columns == ("task", "worker", "start s", "end s", "lock wait s")
        assert [row[:2] for row in table.rows] == [
            ("sub", "thread 1"),
            ("add", "thread 2"),
            ("mul", "thread 1"),
        ]
        assert table.rows[1][2:] == (0.0, 0.4, 0.2)
        assert "| add | thread 2 | 0.00 | 0.40 | 0.20 |" in table.to_markdown()

    def test_spans_given_out_of_order_are_sorted(self) -> None:
        """A trace built by hand with its spans out of order still reads from the first start."""
        traced = self.traced("sync", _span("mul", 0.4, 0.6), _span("add", 0.0, 0.4))
        assert [row[0] for row in spans_table(traced).rows] == ["add", "mul"]

    def test_worker_processes_are_numbered_by_first_start(self) -> None:
        """Under processes the workers are ``process 1, 2`` in the order they started a task."""
        traced = self.traced(
            "processes",
            TaskSpan("add-1", "add", "4243", "1", 0.5, 0.7),
            TaskSpan("sub-1", "sub", "4242", "1", 0.4, 0.6),
        )
        assert dict(row[:2] for row in spans_table(traced).rows) == {
            "sub": "process 1",
            "add": "process 2",
        }

    def test_a_distributed_worker_with_threads_names_them(self) -> None:
        """A distributed worker with two threads shows each as ``worker N · thread M``."""
        address = "tcp://127.0.0.1:4000"
        traced = self.traced(
            "distributed",
            TaskSpan("add-1", "add", address, "11", 0.0, 0.2),
            TaskSpan("sub-1", "sub", address, "12", 0.0, 0.2),
            TaskSpan("mul-1", "mul", "tcp://127.0.0.1:4001", "13", 0.2, 0.4),
        )
        assert [row[1] for row in spans_table(traced).rows] == [
            "worker 1 · thread 1",
            "worker 1 · thread 2",
            "worker 2",
        ]

    def test_several_traces_are_labelled(self) -> None:
        """Several traces make one table whose first column is each one's configuration."""
        one = self.traced("sync", _span("add", 0.0, 0.2))
        two = self.traced(
            "processes", TaskSpan("add-1", "add", "5", "1", 0.3, 0.5), options={"chunksize": 1}
        )
        table = spans_table([one, two])
        assert table.columns[0] == "configuration"
        assert [row[:3] for row in table.rows] == [
            ("sync", "add", "thread 1"),
            ("processes (chunksize=1)", "add", "process 1"),
        ]

    def test_a_real_trace(self) -> None:
        """A traced compute under threads names its two threads and shows the lock wait."""
        traced = trace(slow_arithmetic(delay=DELAY), "threads", num_workers=2)
        rows = {row[0]: row for row in spans_table(traced).rows}
        assert {rows["add"][1], rows["sub"][1]} == {"thread 1", "thread 2"}
        assert max(rows["add"][4], rows["sub"][4]) == pytest.approx(DELAY, abs=MARGIN)

    @pytest.mark.parametrize("given", [5, [5], "sync"])
    def test_not_a_trace(self, given: object) -> None:
        """Anything but a Trace or a list of them is one TypeError saying what is needed."""
        with pytest.raises(TypeError, match="spans_table needs a Trace or a list of them"):
            spans_table(given)  # type: ignore[arg-type]


class TestTasksSeconds:
    def test_from_the_first_start_to_the_last_end(self) -> None:
        """The tasks' seconds run from the earliest start to the latest end, on any worker."""
        spans = (
            _span("add", 0.3, 0.5),
            _span("sub", 0.2, 0.4, thread="2"),
            _span("mul", 0.5, 0.9),
        )
        assert tasks_seconds(Trace(spans, None, 1.2, "processes")) == pytest.approx(0.7)

    def test_spans_alone_are_enough(self) -> None:
        """A prediction's spans, or any TaskSpan records, are measured the same way."""
        assert tasks_seconds([_span("add", 1.0, 1.5)]) == pytest.approx(0.5)

    def test_leaves_out_the_pool_start_up(self, no_leaks: None) -> None:
        """Under processes the tasks' seconds leave out the start-up before the first task."""
        traced = trace(slow_arithmetic(delay=DELAY), "processes")
        first = min(s.start for s in traced.spans)
        assert first > 0 and tasks_seconds(traced) <= traced.seconds - first
        assert tasks_seconds(traced) == pytest.approx(4 * DELAY, abs=DELAY / 2)

    def test_no_spans(self) -> None:
        """A trace without a task is one ValueError saying so."""
        with pytest.raises(ValueError, match="needs at least one task span"):
            tasks_seconds(Trace((), None, 0.0, "sync"))
