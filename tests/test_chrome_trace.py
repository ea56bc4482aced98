"""Tests for schedtutor.chrome_trace: traces written as trace-event JSON and read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schedtutor import predict, slow_arithmetic, trace
from schedtutor.chrome_trace import LOCK_WAIT, SHORTEST_WAIT, trace_events, write_chrome_trace
from schedtutor.timeline import row_labels
from schedtutor.trace import TaskSpan, Trace

DELAY = 0.05


def load(path: Path) -> list[dict[str, Any]]:
    """The events of a trace-event JSON file."""
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["displayTimeUnit"] == "ms"
    events: list[dict[str, Any]] = document["traceEvents"]
    return events


def names(events: list[dict[str, Any]], kind: str) -> dict[tuple[int, int], str]:
    """The process (kind="process_name") or thread names, by (pid, tid)."""
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == kind}


def check_round_trip(traced: Trace, events: list[dict[str, Any]]) -> None:
    """Every span of ``traced`` is one task event with its real start, duration and row."""
    tasks = {e["args"]["key"]: e for e in events if e["ph"] == "X" and e["cat"] == "task"}
    assert len(tasks) == len(traced.spans)
    threads = names(events, "thread_name")
    labels = row_labels(traced.spans)
    for span in traced.spans:
        event = tasks[span.key]
        assert event["name"] == span.name == event["args"]["name"]
        assert event["ts"] == pytest.approx(span.start * 1e6, abs=1e-3)
        assert event["dur"] == pytest.approx(span.seconds * 1e6, abs=1e-3)
        assert event["args"]["lock_wait"] == span.lock_wait
        assert threads[event["pid"], event["tid"]] == labels[span.worker] == event["args"]["worker"]
    # one pid/tid per worker, and one worker per pid/tid
    rows = {(tasks[s.key]["pid"], tasks[s.key]["tid"]) for s in traced.spans}
    assert len(rows) == len({s.worker for s in traced.spans})


class TestRoundTrip:
    @pytest.mark.parametrize(
        ("scheduler", "options"),
        [("threads", {"num_workers": 2}), ("processes", {"chunksize": 1, "num_workers": 2})],
    )
    def test_every_task_with_its_start_and_duration(
        self, tmp_path: Path, scheduler: str, options: dict[str, Any]
    ) -> None:
        """Read back, the file holds every task at its real start, for its real duration."""
        traced = trace(slow_arithmetic(delay=DELAY), scheduler, **options)
        path = traced.to_chrome_trace(tmp_path / "trace.json")
        events = load(path)
        check_round_trip(traced, events)
        assert {e["ph"] for e in events} == {"X", "M", "i"}
        if scheduler == "processes":  # two worker processes: two pids, one thread each
            assert len({e["pid"] for e in events if e["ph"] == "X"}) == 2

    def test_lock_waits_are_events_inside_their_task(self, tmp_path: Path) -> None:
        """Under threads add and sub wait for the lock: each wait is an event within its task."""
        traced = trace(slow_arithmetic(delay=DELAY), "threads", num_workers=2)
        waited = [s for s in traced.spans if s.lock_wait >= SHORTEST_WAIT]
        assert waited, traced.spans  # one of add and sub waited a whole delay
        events = load(traced.to_chrome_trace(tmp_path / "trace.json"))
        waits = {e["args"]["key"]: e for e in events if e["name"] == LOCK_WAIT}
        tasks = {e["args"]["key"]: e for e in events if e.get("cat") == "task"}
        assert set(waits) == {s.key for s in waited}
        for span in waited:
            wait, task = waits[span.key], tasks[span.key]
            assert wait["cat"] == "lock" and wait["ph"] == "X"
            assert (wait["pid"], wait["tid"]) == (task["pid"], task["tid"])
            assert wait["ts"] == task["ts"]
            assert wait["dur"] == pytest.approx(span.lock_wait * 1e6, abs=1e-3)
            assert wait["dur"] <= task["dur"]

    def test_compute_returned_is_an_instant(self, tmp_path: Path) -> None:
        """The moment the compute returned is an instant event, as the static dashed line."""
        traced = trace(slow_arithmetic(delay=0.001), "sync")
        events = load(traced.to_chrome_trace(tmp_path / "trace.json"))
        [instant] = [e for e in events if e["ph"] == "i"]
        assert instant["ts"] == pytest.approx(traced.seconds * 1e6)


class TestSeveralTraces:
    def test_each_configuration_has_its_own_processes(self, tmp_path: Path) -> None:
        """Traces written together keep apart: own pids, named after their configuration."""
        graph = slow_arithmetic(delay=0.01)
        traces = [trace(graph, "sync"), trace(graph, "threads", num_workers=2)]
        path = write_chrome_trace(traces, tmp_path / "both.json")
        document = json.loads(path.read_text())
        assert document["otherData"]["configurations"] == ["sync", "threads (num_workers=2)"]
        processes = names(document["traceEvents"], "process_name")
        assert sorted(processes.values()) == ["sync", "threads (num_workers=2)"]
        for traced, pid in zip(traces, sorted(pid for pid, _ in processes), strict=True):
            own = [e for e in document["traceEvents"] if e["pid"] == pid]
            check_round_trip(traced, own)

    def test_a_prediction_exports_too(self, tmp_path: Path) -> None:
        """A Prediction's spans are written the same way, its configuration marked predicted."""
        prediction = predict(slow_arithmetic(delay=1.0), "processes", chunksize=1)
        document = json.loads(prediction.to_chrome_trace(tmp_path / "p.json").read_text())
        assert document["otherData"]["configurations"] == ["processes (chunksize=1) (predicted)"]
        tasks = [e for e in document["traceEvents"] if e.get("cat") == "task"]
        assert sorted(e["name"] for e in tasks) == ["add", "div", "mul", "sub"]
        threads = set(names(document["traceEvents"], "thread_name").values())
        assert threads == {"process 1", "process 2"}

    def test_tuple_keys_stay_json(self) -> None:
        """A tuple key (a chunk of an array) is written as a JSON list."""
        spans = [TaskSpan(("sum-abc", 0, 1), "sum", "1", "1", 0.0, 0.5)]
        [event] = [e for e in trace_events([spans])["traceEvents"] if e["ph"] == "X"]
        assert json.loads(json.dumps(event))["args"]["key"] == ["sum-abc", 0, 1]


class TestBadInput:
    def test_nothing_to_write(self) -> None:
        """An empty list is a ValueError."""
        with pytest.raises(ValueError, match="non-empty list"):
            trace_events([])

    def test_unwritable_path(self, tmp_path: Path) -> None:
        """A path in a missing folder is one ValueError that says so."""
        spans = [TaskSpan("a-1", "a", "1", "1", 0.0, 0.5)]
        with pytest.raises(ValueError, match=r"cannot write a trace to .*no such file"):
            write_chrome_trace([spans], tmp_path / "missing" / "t.json")
