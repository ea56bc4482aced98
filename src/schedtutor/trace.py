"""Trace a computation: when each task really ran, and on which worker.

:func:`trace` computes a Dask collection like :func:`schedtutor.timing.run` does and
returns a :class:`Trace`: the result, the wall time, and one :class:`TaskSpan`
per task -- its key, a short name (``add`` for ``add-8b20...``), the process
and thread that ran it, when it started and ended, and how long it waited for
the lock of :mod:`schedtutor.sleeplock`.  Times are seconds from the start of
the compute.

>>> from schedtutor import slow_arithmetic
>>> traced = trace(slow_arithmetic(delay=0.001), "sync")
>>> sorted(span.name for span in traced.spans)
['add', 'div', 'mul', 'sub']

How it works
============

Dask's ``Profiler`` records, in the parent process, when a task was handed to
a worker and when its result came back.  Under the processes scheduler, which
sends ready tasks in batches of ``chunksize``, that is wrong by whole tasks:
``add`` and ``sub`` go to one process in one batch, run one after the other,
and both appear to take the whole batch.  So the spans here are recorded
*inside* the task instead.

The collection's graph is built and optimised exactly as ``dask.compute``
would (``FinalizeCompute`` of its expression), then every task's function is
wrapped by :class:`schedtutor._tracing.Traced`, which reads the clock around
the real call.  The rewritten graph is computed through
:func:`schedtutor.schedulers.open_scheduler` without optimising it again.  The
records come back by the cheapest road each scheduler allows:

=============  ==============================================  ==================
scheduler      records travel back                             clock
=============  ==============================================  ==================
sync, threads  appended to a list in this process              ``perf_counter``
processes      one spool file per worker process               ``perf_counter``
distributed    kept in each worker's memory, collected with    ``time.time``
               ``Client.run`` (so a remote cluster works too)
=============  ==============================================  ==================

How exact the spans are
=======================

A span covers the task's function call and nothing else: not the scheduler's
bookkeeping, pickling or data transfer, which show as gaps between spans.

* **sync, threads**: exact to microseconds; the wrapper costs a few
  microseconds per task (under 15 % even for 10 000 tasks that do nothing).
* **processes**: exact to microseconds.  On Linux ``perf_counter`` is
  ``CLOCK_MONOTONIC``, one clock for all processes of the machine, so spans
  from different processes line up.  The start-up of the spawn pool shows as
  the gap before the first task; batching shows as tasks back to back on one
  process.  Writing a record costs about 50 microseconds.
* **distributed**: exact to about a millisecond on a local cluster.  On a
  remote cluster spans are placed with the workers' wall clocks, so they are
  only as exact as those clocks are synchronised with this machine's.
* **the first compute** of a Python session imports ``distributed`` (Dask
  checks whether it is there), a fraction of a second; :func:`trace` does that
  before its clock starts, so the timeline shows the scheduler, not an import.
* **fused tasks**: Dask sometimes fuses several tasks into one before the
  tracer sees the graph (dask arrays' blockwise fusion); such a task is one
  span named after its output.  The processes scheduler's own ``fuse`` runs
  after the rewrite, so there each original task keeps its span.
"""

from __future__ import annotations

import itertools
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from dask.delayed import Delayed
from dask.utils import key_split

from schedtutor import _tracing
from schedtutor._base import check_collection, gc_paused, label, materialize
from schedtutor.schedulers import Scheduler, open_scheduler
from schedtutor.tables import Table

__all__ = ["TaskSpan", "Trace", "materialize", "overlap", "spans_table", "tasks_seconds", "trace"]


class TaskSpan(NamedTuple):
    """When and where one task ran (an immutable record, cheap to make by the thousand).

    ``process`` is a process id (local schedulers), a worker's address
    (distributed) or ``process N`` (a prediction); ``thread`` names the thread
    in it.  ``start`` and ``end`` are seconds from the start of the compute;
    the first ``lock_wait`` seconds of the span were spent waiting for the
    lock of :mod:`schedtutor.sleeplock`, the rest working.
    """

    key: Any
    name: str
    process: str
    thread: str
    start: float
    end: float
    lock_wait: float = 0.0

    @property
    def worker(self) -> str:
        """The process and thread together: one row of a timeline."""
        return f"{self.process} / {self.thread}"

    @property
    def seconds(self) -> float:
        """How long the span lasted, lock wait included."""
        return self.end - self.start

    @property
    def work_start(self) -> float:
        """When the task stopped waiting for the lock and started working."""
        return min(self.start + self.lock_wait, self.end)


def overlap(spans: Iterable[TaskSpan], first: str, second: str) -> float:
    """Return the seconds during which a task named ``first`` and one named ``second`` both worked.

    Lock waits do not count as work.

    >>> a = TaskSpan("add-1", "add", "1", "1", 0.0, 1.0)
    >>> b = TaskSpan("sub-1", "sub", "1", "2", 0.5, 2.0, lock_wait=0.25)
    >>> overlap([a, b], "add", "sub")
    0.25
    """
    spans = list(spans)
    total = 0.0
    for a in (s for s in spans if s.name == first):
        for b in (s for s in spans if s.name == second and s is not a):
            total += max(0.0, min(a.end, b.end) - max(a.work_start, b.work_start))
    return total


@dataclass(frozen=True)
class Trace:
    """One traced compute: its spans, its result and its wall time."""

    spans: tuple[TaskSpan, ...]
    result: Any
    seconds: float
    scheduler: str
    options: dict[str, Any] = field(default_factory=dict)
    startup: float = 0.0

    @property
    def label(self) -> str:
        """The configuration's readable label, e.g. ``processes (chunksize=1)``."""
        return label(self.scheduler, self.options)

    @property
    def workers(self) -> list[str]:
        """The workers that ran tasks, in the order they started their first one."""
        return list(dict.fromkeys(s.worker for s in sorted(self.spans, key=_by_start)))

    def overlap(self, first: str, second: str) -> float:
        """Return the seconds tasks named ``first`` and ``second`` worked at the same time."""
        return overlap(self.spans, first, second)

    def durations(self) -> dict[Any, float]:
        """Return each task's working seconds by key (what :func:`.predict.predict` reads)."""
        return {s.key: s.end - s.work_start for s in self.spans}

    def cadence(self, name: str | None = None) -> float:
        """Return the median seconds from a task's start to the next one's on the same worker.

        For tasks that do not wait for each other, that is a task's run plus
        the gap before the worker starts its next: beyond the task's own work,
        the fixed cost per task of this scheduler on this machine.  (A step to
        a task that waited for a dependency includes the wait.)  Only tasks
        named ``name`` count, if given.

        >>> spans = [TaskSpan(f"add-{i}", "add", "1", "1", 0.25 * i, 0.25 * i + 0.2)
        ...          for i in range(4)]
        >>> Trace(tuple(spans), None, 1.0, "sync").cadence()
        0.25
        """
        spans = sorted((s for s in self.spans if name in (None, s.name)), key=_by_start)
        steps = [
            b.start - a.start
            for worker in dict.fromkeys(s.worker for s in spans)
            for a, b in itertools.pairwise(s for s in spans if s.worker == worker)
        ]
        if not steps:
            raise ValueError(f"no worker ran two tasks{f' named {name!r}' if name else ''}")
        return statistics.median(steps)

    def to_chrome_trace(self, path: str | os.PathLike[str]) -> Path:
        """Write the spans as Chrome trace-event JSON for Perfetto (:mod:`.chrome_trace`).

        >>> import json, tempfile
        >>> from schedtutor import slow_arithmetic
        >>> traced = trace(slow_arithmetic(delay=0.001), "sync")
        >>> path = traced.to_chrome_trace(Path(tempfile.mkdtemp()) / "sync.json")
        >>> len([e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"])
        4
        """
        from schedtutor.chrome_trace import write_chrome_trace

        return write_chrome_trace([self], path)

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write an interactive, self-contained HTML timeline (:mod:`.interactive`)."""
        from schedtutor.interactive import save_html

        return save_html([self], path)

    def __str__(self) -> str:
        return f"{self.label}: {self.seconds:.3f} s, {len(self.spans)} tasks"


def _by_start(span: TaskSpan) -> tuple[float, float]:
    return (span.start, span.end)


def trace(obj: Any, scheduler: str = "threads", **options: Any) -> Trace:
    """Compute ``obj`` under ``scheduler`` and return when each task ran, on which worker.

    Options are those of :func:`schedtutor.timing.run` (``num_workers``,
    ``chunksize``, ``n_workers``, ``address``, ...), checked the same way.

    >>> from schedtutor import slow_arithmetic
    >>> traced = trace(slow_arithmetic(delay=0.01), "threads", num_workers=2)
    >>> traced.result, len(traced.spans), traced.overlap("add", "sub")
    (-2.2857142857142856, 4, 0.0)
    """
    check_collection(obj)
    _import_distributed()
    with open_scheduler(scheduler, **options) as opened:
        dsk, keys = materialize(obj, options.get("optimize_graph", True))
        if len(keys) != 1:
            raise TypeError(f"cannot trace a collection with {len(keys)} outputs; give one")
        return _traced_compute(opened, dsk, keys[0])


def _import_distributed() -> None:
    """Import distributed now: Dask's first compute does, which is not the scheduler's time."""
    try:
        import distributed  # noqa: F401
    except ImportError:  # pragma: no cover - distributed is a dependency
        pass


def _traced_compute(opened: Scheduler, dsk: dict[Any, Any], out_key: Any) -> Trace:
    trace_id = uuid.uuid4().hex
    records: list[_tracing.Record] = []
    folder = tempfile.mkdtemp(prefix="schedtutor-trace-") if opened.name == "processes" else None
    if opened.name == "distributed":
        sink, clock = _tracing.WORKER, time.time
    else:
        sink, clock = (_tracing.SPOOL if folder else _tracing.MEMORY), time.perf_counter
    graph, keys = _tracing.instrument(
        dsk, trace_id, sink, records if sink == _tracing.MEMORY else None, folder
    )
    unoptimized = replace(opened, options={**opened.options, "optimize_graph": False})
    try:
        started = clock()
        result = unoptimized.compute(Delayed(out_key, graph))
        seconds = clock() - started
    finally:
        if folder is not None:
            records = _tracing.read_spool(folder)
            shutil.rmtree(folder, ignore_errors=True)
        elif sink == _tracing.WORKER:
            gathered = opened.client.run(_tracing.collect, trace_id)
            records = [r for worker in gathered.values() for r in worker]
    with gc_paused():  # a record per task, all kept: nothing to collect
        spans = _spans(records, keys, started)
    return Trace(spans, result, seconds, opened.name, dict(opened.options), opened.startup)


def _spans(records: Sequence[_tracing.Record], keys: list[Any], t0: float) -> tuple[TaskSpan, ...]:
    threads: dict[int, str] = {}
    spans = [
        TaskSpan(
            keys[index],
            key_split(keys[index]),
            process,
            threads.get(thread) or threads.setdefault(thread, str(thread)),
            start - t0,
            end - t0,
            waited,
        )
        for index, process, thread, start, end, waited in records
    ]
    spans.sort(key=_by_start)
    return tuple(spans)


def spans_table(traces: Trace | Sequence[Trace], digits: int = 2) -> Table:
    """Return the spans of one trace, or of several, as a table: one row per task.

    Each row says which task ran where and from when to when: its name, its
    worker, its start and end in seconds from the start of the compute, and
    how long of that it waited for the lock of :mod:`schedtutor.sleeplock`.
    Workers are named as a reader counts them, in the order they started
    their first task: ``thread 1, 2`` under sync and threads, ``process 1,
    2`` under processes, ``worker 1, 2`` under distributed (with the thread,
    ``worker 1 · thread 2``, when a worker has several).  Rows follow the
    start of their task.  Several traces give one table with their label in
    a first column, ``configuration``.

    >>> from schedtutor import slow_arithmetic
    >>> table = spans_table(trace(slow_arithmetic(delay=0.001), "threads", num_workers=2))
    >>> table.columns
    ('task', 'worker', 'start s', 'end s', 'lock wait s')
    >>> sorted(row[0] for row in table.rows)
    ['add', 'div', 'mul', 'sub']
    >>> spans_table([]).rows
    ()
    """
    several = not isinstance(traces, Trace)
    given: list[object] = list(traces) if several and isinstance(traces, Iterable) else [traces]
    chosen = [each for each in given if isinstance(each, Trace)]
    for each in given:
        if not isinstance(each, Trace):
            raise TypeError(
                "spans_table needs a Trace or a list of them (schedtutor.trace.trace), "
                f"got {type(each).__name__}: {each!r}"
            )
    columns = ("task", "worker", "start s", "end s", "lock wait s")
    rows = []
    for each in chosen:
        names = _worker_names(each)
        for span in sorted(each.spans, key=_by_start):
            row = (span.name, names[span.worker], span.start, span.end, span.lock_wait)
            rows.append((each.label, *row) if several else row)
    return Table(("configuration", *columns) if several else columns, rows, digits)


def _worker_names(traced: Trace) -> dict[str, str]:
    """Name each worker of ``traced`` as a reader counts them, in the order they started."""
    kind = {"processes": "process", "distributed": "worker"}.get(traced.scheduler)
    if kind is None:  # sync, threads: the threads of this process
        return {w: f"thread {n}" for n, w in enumerate(traced.workers, 1)}
    processes = list(dict.fromkeys(w.split(" / ")[0] for w in traced.workers))
    threads: dict[str, list[str]] = {}
    for worker in traced.workers:
        process = worker.split(" / ")[0]
        threads.setdefault(process, []).append(worker)
    names = {}
    for number, process in enumerate(processes, 1):
        for thread, worker in enumerate(threads[process], 1):
            several = len(threads[process]) > 1
            names[worker] = f"{kind} {number}" + (f" · thread {thread}" if several else "")
    return names


def tasks_seconds(traced: Trace | Iterable[TaskSpan]) -> float:
    """Return the seconds from the first task's start to the last task's end.

    That is a compute's wall time less what came before its first task (the
    processes scheduler's spawn pool, a cluster's first message) and after
    its last (shutting the pool down): the part that the tasks and the
    scheduler's handling of them took.  ``traced`` is a :class:`Trace` or
    its spans (a :class:`~schedtutor.predict.Prediction`'s ``spans`` too).

    >>> spans = [TaskSpan("add-1", "add", "1", "1", 0.25, 0.5),
    ...          TaskSpan("mul-1", "mul", "1", "1", 0.5, 1.0)]
    >>> tasks_seconds(Trace(tuple(spans), None, 1.25, "processes"))
    0.75
    >>> tasks_seconds([])
    Traceback (most recent call last):
    ...
    ValueError: tasks_seconds needs at least one task span, got none
    """
    spans = list(traced.spans if isinstance(traced, Trace) else traced)
    if not spans:
        raise ValueError("tasks_seconds needs at least one task span, got none")
    return max(s.end for s in spans) - min(s.start for s in spans)
