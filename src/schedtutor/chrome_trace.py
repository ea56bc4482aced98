"""Write traces in the Chrome trace-event format, which Perfetto and ``chrome://tracing`` open.

:func:`write_chrome_trace` writes one or more :class:`~schedtutor.trace.Trace`
s (or :class:`~schedtutor.predict.Prediction` s: they have spans too) to a
JSON file in the `trace-event format
<https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU>`_
that the timeline tools people already use read: open it at
``https://ui.perfetto.dev`` (the file stays on your machine) or in
Chromium's ``chrome://tracing``.  :meth:`Trace.to_chrome_trace
<schedtutor.trace.Trace.to_chrome_trace>` writes one trace, and
``schedtutor compare --trace-json FILE`` every configuration it compared.

>>> import json, tempfile
>>> from pathlib import Path
>>> from schedtutor import slow_arithmetic, trace
>>> path = Path(tempfile.mkdtemp()) / "sync.json"
>>> _ = write_chrome_trace([trace(slow_arithmetic(delay=0.001), "sync")], path)
>>> sorted(e["name"] for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X")
['add', 'div', 'mul', 'sub']

What is in the file
===================

* **One complete event** (``"ph": "X"``) **per task**: ``ts`` is when it
  started and ``dur`` how long it ran, lock wait included, both in
  microseconds from the start of the compute; its ``name`` is the task's
  short name (``add``), and ``args`` hold its ``key``, ``name``, the
  ``worker`` row it ran on and its ``lock_wait`` in seconds.
* **One more complete event per lock wait**, named ``waiting for the lock``
  (category ``lock``), from the task's start for as long as it waited for the
  lock of :mod:`schedtutor.sleeplock` (:data:`SHORTEST_WAIT` or longer): it
  lies inside its task's event, on the same row, so the tools draw it as a
  slice beneath the task.
* **One process** (``pid``) **per worker process and one thread** (``tid``)
  **per thread**, named by metadata events (``process_name``,
  ``thread_name``, and sort indexes that keep the rows in the order they
  started work).  A thread is named with the readable row name of
  :func:`schedtutor.timeline.row_labels` -- ``thread 2``, ``process 1``,
  ``worker 2 · thread 1`` -- as the static timeline names its rows; a
  process is named after its configuration (``threads``), followed by the
  process when there are several (``processes (chunksize=1) · process 2``).
* **An instant event** ``compute returned`` when the compute returned (the
  static timeline's dashed line).

Several traces go into one file side by side, each with processes of its own
and every one starting at 0: the tools then show the configurations one
above the other on one time axis, as :func:`schedtutor.timeline.plot_timelines`
does.  ``otherData`` records which configurations the file holds.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schedtutor.timeline import row_labels, spans_of
from schedtutor.trace import TaskSpan

__all__ = ["LOCK_WAIT", "SHORTEST_WAIT", "trace_events", "write_chrome_trace"]

LOCK_WAIT = "waiting for the lock"
"""The name of a lock wait's event."""

SHORTEST_WAIT = 1e-4
"""Seconds: a shorter lock wait gets no event of its own (it stays in the task's ``args``).

Taking a lock nobody holds, and reading the clock around it, measures a few
microseconds: that is the lock's own cost, not a wait for another task."""

_MICROSECONDS = 1e6


def trace_events(traces: Sequence[Any]) -> dict[str, Any]:
    """Return the trace-event JSON object for ``traces`` (Traces, Predictions or span lists).

    >>> spans = [TaskSpan("add-1", "add", "4242", "139", 0.0, 0.5, lock_wait=0.25)]
    >>> events = trace_events([spans])["traceEvents"]
    >>> [(e["name"], e["ts"], e["dur"]) for e in events if e["ph"] == "X"]
    [('add', 0.0, 500000.0), ('waiting for the lock', 0.0, 250000.0)]
    """
    if isinstance(traces, str | bytes) or not isinstance(traces, Sequence) or not traces:
        raise ValueError(
            "trace_events needs a non-empty list of traces, predictions or span lists, "
            f"got {type(traces).__name__}"
        )
    events: list[dict[str, Any]] = []
    configurations = []
    next_pid = 1
    for number, source in enumerate(traces, 1):
        spans = spans_of(source)
        label = str(getattr(source, "label", f"trace {number}"))
        if hasattr(source, "critical_path"):
            label += " (predicted)"
        configurations.append(label)
        pids, names = _processes(spans, label, next_pid)
        next_pid += len(pids)
        events += _metadata(spans, pids, names)
        events += _spans(spans, pids)
        seconds = getattr(source, "seconds", None)
        if isinstance(seconds, float) and math.isfinite(seconds) and pids:
            events.append(
                {"name": "compute returned", "cat": "compute", "ph": "i", "s": "p",
                 "ts": seconds * _MICROSECONDS, "pid": min(pids.values()), "tid": 0}
            )  # fmt: skip
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"producer": "schedtutor", "configurations": configurations},
    }


def _processes(
    spans: list[TaskSpan], label: str, first_pid: int
) -> tuple[dict[str, int], dict[int, str]]:
    """Number the processes in the order they started work; name each for its configuration."""
    order = list(dict.fromkeys(s.process for s in spans))
    pids = {process: first_pid + i for i, process in enumerate(order)}
    names = {}
    for i, process in enumerate(order, 1):
        if len(order) == 1:
            names[pids[process]] = label
        else:
            kind = "worker" if "://" in process else "process"
            own = f"{kind} {i}" if kind == "worker" or process.isdigit() else process
            names[pids[process]] = f"{label} · {own}"
    return pids, names


def _threads(spans: list[TaskSpan]) -> dict[str, int]:
    """Number each worker's thread within its process, from 1, in the order they started."""
    tids: dict[str, int] = {}
    per_process: dict[str, int] = {}
    for span in spans:
        if span.worker not in tids:
            per_process[span.process] = per_process.get(span.process, 0) + 1
            tids[span.worker] = per_process[span.process]
    return tids


def _metadata(
    spans: list[TaskSpan], pids: dict[str, int], names: dict[int, str]
) -> list[dict[str, Any]]:
    labels = row_labels(spans)
    tids = _threads(spans)
    events: list[dict[str, Any]] = []
    for pid, name in names.items():
        events.append(_meta("process_name", pid, 0, {"name": name}))
        events.append(_meta("process_sort_index", pid, 0, {"sort_index": pid}))
    for row, (worker, text) in enumerate(labels.items()):
        pid, tid = pids[worker.split(" / ")[0]], tids[worker]
        events.append(_meta("thread_name", pid, tid, {"name": text}))
        events.append(_meta("thread_sort_index", pid, tid, {"sort_index": row}))
    return events


def _meta(name: str, pid: int, tid: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": args}


def _spans(spans: list[TaskSpan], pids: dict[str, int]) -> list[dict[str, Any]]:
    labels = row_labels(spans)
    tids = _threads(spans)
    events: list[dict[str, Any]] = []
    for span in spans:
        where = {"pid": pids[span.process], "tid": tids[span.worker]}
        args = {"key": span.key, "name": span.name, "worker": labels[span.worker]}
        events.append(
            {"name": span.name, "cat": "task", "ph": "X", "ts": span.start * _MICROSECONDS,
             "dur": span.seconds * _MICROSECONDS, **where,
             "args": {**args, "lock_wait": span.lock_wait}}
        )  # fmt: skip
        if span.lock_wait >= SHORTEST_WAIT:
            events.append(
                {"name": LOCK_WAIT, "cat": "lock", "ph": "X", "ts": span.start * _MICROSECONDS,
                 "dur": (span.work_start - span.start) * _MICROSECONDS, **where, "args": args}
            )  # fmt: skip
    return events


def write_chrome_trace(traces: Sequence[Any], path: str | os.PathLike[str]) -> Path:
    """Write ``traces`` (Traces, Predictions or span lists) to ``path`` as trace-event JSON.

    Returns the path.  A task key JSON cannot hold (a key is a string or a
    tuple, normally) is written as its ``str``.
    """
    document = trace_events(traces)
    target = Path(path)
    try:
        with open(target, "w", encoding="utf-8") as file:
            json.dump(document, file, default=str)
    except OSError as error:
        reason = (error.strerror or type(error).__name__).lower()
        raise ValueError(
            f"cannot write a trace to {str(target)!r}: {reason}; give a path you can write"
        ) from None
    return target
