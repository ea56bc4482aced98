"""A real cluster: a scheduler and two workers started with Dask's own command-line tools.

The ``real_cluster`` fixture (tests/conftest.py) runs ``dask scheduler`` and two
``dask worker`` processes on 127.0.0.1, each in a session of its own, exactly
as a reader would on a machine of theirs.  The library reaches it by address
only, must leave it running, and must not start anything of its own.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from dask import delayed
from distributed import Client

from schedtutor import compare, run, slow_arithmetic, trace
from schedtutor.ops import EXPECTED_RESULT
from tests.conftest import (
    DELAY,
    ROOT,
    SCHEDULER_ADDRESS_VARIABLE,
    RealCluster,
    build_pages,
    listening,
)


def workers_of(cluster: RealCluster) -> set[str]:
    """Return the addresses of the cluster's workers, asked of its scheduler."""
    with Client(cluster.address, timeout="10s") as client:
        return set(client.nthreads())


def transitions(cluster: RealCluster) -> int:
    """Return how many task transitions the scheduler has made so far (it only grows)."""

    def count(dask_scheduler: Any) -> int:
        return int(dask_scheduler.transition_counter)

    with Client(cluster.address, timeout="10s") as client:
        return int(client.run_on_scheduler(count))


class TestRealCluster:
    def test_listens_on_loopback_only(self, real_cluster: RealCluster) -> None:
        """Every socket the scheduler and workers listen on is bound to 127.0.0.1."""
        sockets = listening(real_cluster.pids())
        assert len({pid for pid, _, _ in sockets}) == 3  # a scheduler and two workers
        assert {ip for _, ip, _ in sockets} == {"127.0.0.1"}, sockets

    def test_compare_takes_three_delays_of_four(
        self, real_cluster: RealCluster, no_leaks: None
    ) -> None:
        """On two one-thread workers the lesson's graph takes three delays where sync takes four.

        The cluster's own cost -- four tasks sent, run and collected over TCP,
        tens of milliseconds when other programs load the machine -- is
        measured beside it, on the same graph with no delay, and taken off:
        what is compared is the time the work took.
        """
        configs = ["sync", ("distributed", {"address": real_cluster.address})]
        table = compare(slow_arithmetic(delay=DELAY), configs, repeat=3)
        bare = compare(slow_arithmetic(delay=0), configs, repeat=3)
        assert {r["result"] for r in table.to_records()} == {EXPECTED_RESULT}
        delays = {
            name: (table[name].seconds - bare[name].seconds) / DELAY
            for name in ("sync", "distributed")
        }
        assert 3.9 <= delays["sync"] <= 4.2
        assert 0.75 <= delays["sync"] - delays["distributed"] <= 1.25  # one delay saved
        assert table["distributed"].startup > 0  # connecting is reported apart

    def test_run_leaves_the_cluster_running(
        self, real_cluster: RealCluster, no_leaks: None
    ) -> None:
        """Running against an address starts no process here and stops nothing there."""
        before = workers_of(real_cluster)
        timed = run(slow_arithmetic(delay=0.01), "dask.distributed", address=real_cluster.address)
        assert timed.result == EXPECTED_RESULT
        assert workers_of(real_cluster) == before and len(before) == 2
        assert all(p.poll() is None for p in real_cluster.processes)

    def test_a_module_the_workers_lack_is_refused_in_one_line(
        self,
        real_cluster: RealCluster,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        no_leaks: None,
    ) -> None:
        """A graph whose functions' module the workers cannot import: one line, at once, traced too.

        Sent anyway, each worker given a task fails to unpickle it and closes
        itself, and the compute waits for ever for a worker (distributed
        2026.8).  Refused before it is sent, the cluster keeps both workers,
        and a graph they can run still runs.
        """
        (tmp_path / "localwork.py").write_text("def double(x):\n    return 2 * x\n")
        monkeypatch.syspath_prepend(str(tmp_path))  # here, not in the workers' folder
        import localwork  # type: ignore[import-not-found]

        before = workers_of(real_cluster)
        graph = delayed(localwork.double)(21)
        refused: Future[Any] = Future()

        def attempt() -> None:
            try:
                refused.set_result(run(graph, "distributed", address=real_cluster.address))
            except BaseException as raised:
                refused.set_exception(raised)

        # in a daemon thread: a hang fails the test instead of stopping the test run
        threading.Thread(target=attempt, daemon=True).start()
        with pytest.raises(ModuleNotFoundError) as error:
            refused.result(timeout=30)
        message = str(error.value)
        assert "\n" not in message and "cannot import 'localwork'" in message, message
        assert "tcp://127.0.0.1:" in message  # which worker said so
        with pytest.raises(ModuleNotFoundError, match="cannot import 'localwork'"):
            trace(delayed(localwork.double)(21), "distributed", address=real_cluster.address)
        assert workers_of(real_cluster) == before and len(before) == 2
        ours = run(slow_arithmetic(delay=0.01), "distributed", address=real_cluster.address)
        assert ours.result == EXPECTED_RESULT

    def test_trace_shows_both_workers(self, real_cluster: RealCluster, no_leaks: None) -> None:
        """A trace on the cluster puts add and sub on its two workers at the same time."""
        traced = trace(slow_arithmetic(delay=DELAY), "distributed", address=real_cluster.address)
        assert traced.result == EXPECTED_RESULT
        assert sorted(s.name for s in traced.spans) == ["add", "div", "mul", "sub"]
        spans = {s.name: s for s in traced.spans}
        add, sub, mul, div = (spans[name] for name in ("add", "sub", "mul", "div"))
        assert {s.process for s in traced.spans} <= workers_of(real_cluster)
        assert add.process != sub.process
        # in flight together (how soon the second started is the scheduler's dispatch)
        assert max(add.start, sub.start) < min(add.end, sub.end)
        assert mul.start >= max(add.end, sub.end) and div.start >= mul.end


def distributed_lessons() -> list[Path]:
    """Return the tutorial pages about the distributed scheduler."""
    return sorted((ROOT / "docs" / "tutorials").glob("*distributed*.md"))


class TestDistributedLesson:
    @pytest.mark.docs
    @pytest.mark.parametrize("lesson", distributed_lessons(), ids=lambda p: p.stem)
    def test_lesson_runs_on_the_cluster_it_is_given(
        self, lesson: Path, real_cluster: RealCluster, tmp_path: Path
    ) -> None:
        """With SCHEDTUTOR_SCHEDULER_ADDRESS set, the lesson builds and computes on that cluster."""
        before = transitions(real_cluster)
        done = build_pages(
            tmp_path,
            {lesson.stem: lesson.read_text()},
            env={SCHEDULER_ADDRESS_VARIABLE: real_cluster.address, "SCHEDTUTOR_DELAY": "0.05"},
            strict=False,  # alone, the page's links to its neighbours cannot resolve
        )
        assert done.returncode == 0, done.stderr[-4000:]
        assert transitions(real_cluster) > before, "the lesson computed nothing on the cluster"
        assert all(p.poll() is None for p in real_cluster.processes)  # and left it running
