"""The machinery behind :func:`schedtutor.trace.trace`: the wrapper every traced task calls.

:func:`instrument` rewrites a materialised task graph: each ``Task`` keeps its
key and its arguments, but its function is wrapped in a :class:`Traced`, which
notes the clock and the thread's lock-wait counter
(:func:`schedtutor.sleeplock.lock_wait`) around the real call and hands the
record to a *sink*.  Everything the wrapper needs -- the task's index, the
trace's id and the sink -- is an attribute of the wrapper, so it travels
inside the task to wherever the task runs (a spawned process, a remote
worker); this module only has to be importable there.

A record is ``(index, process, thread, start, end, lock_wait)``.  The sinks:

``MEMORY`` (sync, threads)
    The task runs in this process and is not pickled, so the wrapper holds the
    trace's list itself and appends to it (``list.append`` is atomic under the
    GIL): a few microseconds per task.  Clock: ``time.perf_counter``.
``SPOOL`` (processes)
    Each worker process appends its pickled records to a file of its own,
    ``<folder>/<pid>.spool``, opened and closed around each write, so nothing
    is lost when the pool shuts its processes down.  Clock:
    ``time.perf_counter``, which on Linux is ``CLOCK_MONOTONIC`` -- one clock
    for every process on the machine.
``WORKER`` (distributed)
    Records stay in this module's memory inside the worker, under the trace's
    id, until :func:`collect` (sent with ``Client.run``) pops them.  Clock:
    ``time.time``, as Dask's own task stream uses, so a remote cluster is only
    as exact as its clocks are synchronised.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from schedtutor._base import gc_paused
from schedtutor._compat import GraphNode, Task, with_function
from schedtutor.sleeplock import lock_wait

Record = tuple[int, str, int, float, float, float]
"""``(task index, process, thread id, start, end, seconds waiting for the lock)``."""

MEMORY, SPOOL, WORKER = "memory", "spool", "worker"

_pid = str(os.getpid())
_store: dict[str, list[Record]] = {}
_store_lock = threading.Lock()


def _forked() -> None:
    global _pid
    _pid = str(os.getpid())


os.register_at_fork(after_in_child=_forked)


class Traced:
    """A task's function, wrapped to record when and where it really ran."""

    __slots__ = ("clock", "folder", "func", "index", "out", "sink", "trace_id")

    def __init__(
        self,
        func: Callable[..., Any],
        index: int,
        trace_id: str,
        sink: str,
        out: list[Record] | None = None,
        folder: str | None = None,
    ) -> None:
        self.func = func
        self.index = index
        self.trace_id = trace_id
        self.sink = sink
        self.out = out
        self.folder = folder
        self.clock = time.time if sink == WORKER else time.perf_counter

    def __reduce__(self) -> tuple[Any, ...]:
        # ``out`` is this process's list: it never travels (only the MEMORY sink uses it).
        return Traced, (self.func, self.index, self.trace_id, self.sink, None, self.folder)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        clock = self.clock
        waited = lock_wait()
        start = clock()
        try:
            return self.func(*args, **kwargs)
        finally:
            end = clock()
            self._record(start, end, lock_wait() - waited)

    def _record(self, start: float, end: float, waited: float) -> None:
        thread = threading.get_ident()
        if self.out is not None:
            self.out.append((self.index, _pid, thread, start, end, waited))
        elif self.sink == SPOOL:
            record = (self.index, _pid, thread, start, end, waited)
            with open(Path(str(self.folder)) / f"{_pid}.spool", "ab") as file:
                file.write(pickle.dumps(record))
        else:
            from distributed import get_worker

            record = (self.index, get_worker().address, thread, start, end, waited)
            with _store_lock:
                _store.setdefault(self.trace_id, []).append(record)


def instrument(
    dsk: Mapping[Any, GraphNode],
    trace_id: str,
    sink: str,
    out: list[Record] | None = None,
    folder: str | None = None,
) -> tuple[dict[Any, GraphNode], list[Any]]:
    """Return ``dsk`` with every task's function wrapped, and the traced keys by index.

    Data and aliases are kept as they are; they run no function of the graph's.
    """
    graph: dict[Any, GraphNode] = {}
    keys: list[Any] = []
    with gc_paused():  # a copy of every task: nothing to collect (see schedtutor._base)
        for key, node in dsk.items():
            if isinstance(node, Task):
                traced = Traced(node.func, len(keys), trace_id, sink, out, folder)
                node = with_function(node, traced)
                keys.append(key)
            graph[key] = node
    return graph, keys


def read_spool(folder: str | Path) -> list[Record]:
    """Return the records the worker processes wrote to ``folder``, and remove the files."""
    records: list[Record] = []
    for path in sorted(Path(folder).glob("*.spool")):
        with open(path, "rb") as file:
            records.extend(_unpickle_all(file))
        path.unlink()
    return records


def _unpickle_all(file: Any) -> Iterator[Record]:
    while True:
        try:
            yield pickle.load(file)
        except EOFError:
            return


def collect(trace_id: str) -> list[Record]:
    """Pop the records this process holds for ``trace_id`` (run on workers by ``Client.run``)."""
    with _store_lock:
        return _store.pop(trace_id, [])
