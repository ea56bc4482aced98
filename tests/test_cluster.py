"""Tests for schedtutor.cluster: where a cluster's parts run, and its task stream as records."""

from __future__ import annotations

import os

import distributed
import pytest

from schedtutor import local_cluster, open_scheduler, slow_arithmetic
from schedtutor.cluster import Layout, Part, layout, task_stream, worker_names
from schedtutor.trace import TaskSpan
from tests.conftest import RealCluster


class TestLayout:
    def test_local_cluster_with_processes(self, no_leaks: None) -> None:
        """A LocalCluster runs its scheduler and nannies here, its workers in child processes."""
        with local_cluster(n_workers=2, threads_per_worker=1) as client:
            parts = layout(client)
        assert [p.name for p in parts.parts] == [
            "scheduler", "nanny of worker 1", "nanny of worker 2", "worker 1", "worker 2"
        ]  # fmt: skip
        assert parts.scheduler.here and all(n.here for n in parts.nannies)
        assert parts.scheduler.thread != "MainThread"
        assert not any(w.here for w in parts.workers) and parts.worker_processes == 2
        assert parts.threads == [1, 1]
        assert [w.process for w in parts.workers] == ["process 1", "process 2"]
        assert all(w.pid != os.getpid() == w.parent_pid for w in parts.workers)

    def test_local_cluster_without_processes(self, no_leaks: None) -> None:
        """With processes=False every part is in this process, and there are no nannies."""
        with local_cluster(n_workers=2, processes=False) as client:
            parts = layout(client)
        assert parts.nannies == [] and all(p.here for p in parts.parts)
        assert parts.worker_processes == 1
        assert [w.name for w in parts.workers] == ["worker 1", "worker 2"]

    def test_real_cluster_runs_elsewhere(self, real_cluster: RealCluster, no_leaks: None) -> None:
        """On a cluster started by dask scheduler and dask worker, no part is in this process."""
        with distributed.Client(real_cluster.address, timeout="10s") as client:
            parts = layout(client)
        assert not any(p.here for p in parts.parts)
        assert len(parts.workers) == 2 and parts.nannies == []  # --no-nanny
        assert parts.worker_processes == 2

    def test_renders_without_addresses_or_pids(self) -> None:
        """The table names parts and processes for a reader; no pid or address is shown."""
        parts = Layout(
            (
                Part("scheduler", "scheduler", "this process", True, "IO loop", 0, 4242),
                Part("worker", "worker 1", "process 1", False, "MainThread", 2, 4343),
            )
        )
        shown = parts._repr_markdown_()
        assert "| scheduler | this process | yes | IO loop |  |" in shown
        assert "| worker 1 | process 1 | no | MainThread | 2 |" in shown
        assert "4242" not in shown and "4343" not in shown

    def test_not_a_client(self) -> None:
        """Anything but a distributed.Client is refused with a TypeError naming it."""
        with pytest.raises(TypeError, match=r"layout needs a distributed\.Client, got str"):
            layout("tcp://127.0.0.1:8786")


class TestTaskStream:
    def test_the_old_lessons_graph_on_two_workers(self, no_leaks: None) -> None:
        """Four compute records, add and sub on two workers, and their spans for a timeline."""
        with open_scheduler("distributed", n_workers=2) as cluster:
            with distributed.get_task_stream(cluster.client) as stream:
                cluster.compute(slow_arithmetic(delay=0.05, work="sleep"))
        records = task_stream(stream.data)
        computes = records.computes()
        assert sorted(computes) == ["add", "div", "mul", "sub"]
        assert computes["add"].worker != computes["sub"].worker
        assert min(step.start for step in records.steps) == 0.0
        assert all(0.05 <= computes[n].seconds < 0.25 for n in computes)  # the call itself
        spans = records.spans()
        assert len(spans) == 4 and all(isinstance(s, TaskSpan) for s in spans)
        assert {s.process for s in spans} <= set(records.addresses.values())
        assert all("://" not in cell for row in records.table().cells() for cell in row)

    def test_names_and_offsets(self) -> None:
        """Workers are named by sorted address; times start at the earliest record."""
        records = task_stream(
            [
                {"key": "b-1", "worker": "tcp://h:2", "thread": 1,
                 "startstops": [{"action": "compute", "start": 10.5, "stop": 11.0}]},
                {"key": "a-1", "worker": "tcp://h:1", "thread": 2,
                 "startstops": [{"action": "transfer", "start": 10.0, "stop": 10.1},
                                {"action": "compute", "start": 10.2, "stop": 10.4}]},
            ]
        )  # fmt: skip
        assert [(s.task, s.action, s.worker, s.start) for s in records.steps] == [
            ("a", "transfer", "worker 1", 0.0),
            ("a", "compute", "worker 1", pytest.approx(0.2)),
            ("b", "compute", "worker 2", 0.5),
        ]
        assert [s.task for s in records.transfers()] == ["a"]
        assert worker_names(["tcp://h:2", "tcp://h:1"]) == {
            "tcp://h:1": "worker 1",
            "tcp://h:2": "worker 2",
        }

    def test_not_task_stream_records(self) -> None:
        """Records without key, worker and startstops are refused in one line."""
        with pytest.raises(TypeError, match=r"expected the records of distributed\.get_task"):
            task_stream([{"key": "a"}])
