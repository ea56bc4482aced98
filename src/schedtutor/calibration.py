"""This machine's fixed costs of running a graph: measured, and remembered.

:func:`schedtutor.predict.predict` replays a scheduler's policy on a graph; on
top of the tasks' own work, every scheduler costs something fixed -- the
local main loop's bookkeeping per task, a spawn pool's start-up, a
distributed scheduler's round trips.  Those are the machine's, not the
graph's, and they live in a :class:`Costs` record.

>>> DEFAULT_COSTS.process_start
0.15

Three sources:

* :data:`DEFAULT_COSTS`, built in: a quiet 2-CPU Linux machine with
  Python 3.11 and Dask 2026.8.
* :func:`calibrate` measures them here and now, in a few seconds, from traces
  of tiny graphs -- and, always, how many CPUs other programs keep busy
  right now (:attr:`Costs.background`).
* :func:`machine_costs`, what :func:`~schedtutor.predict.predict` uses when
  it is given no costs: this machine's, measured the first time a
  scheduler's costs are needed and remembered.

Costs without asking
====================

A reader who never calls :func:`calibrate` still gets this machine's costs.
The first prediction for a scheduler on a machine measures them
(:func:`calibrate` with its defaults: about a second for sync, a few seconds
for threads, for distributed with a local cluster's start, and for processes,
a second per repeat) and keeps them in a small JSON file, so every later
prediction, in this process or another, reads them back.

* **Where**: ``costs-<stamp>.json`` in :func:`schedtutor.settings.cache_folder`
  -- ``~/.cache/schedtutor`` on Linux (``$XDG_CACHE_HOME``),
  ``~/Library/Caches/schedtutor`` on macOS, ``%LOCALAPPDATA%\\schedtutor\\Cache``
  on Windows, or ``SCHEDTUTOR_CACHE_DIR``; :func:`cache_file` names it.
* **Per machine and versions**: the stamp is a hash of the operating system,
  the machine type, the CPU count and the versions of Python, dask,
  distributed and schedtutor (and of this file's way of measuring), never a
  host or user name: another machine, or an upgrade, measures again.
* **What is not kept**: the background load.  It changes from minute to
  minute, so it is no property of the machine: remembered costs have
  ``background=0`` (a quiet machine); :func:`calibrate` measures the load of
  the moment.  The file records the load while the costs were measured, so
  a reader can tell whether they were measured on a busy machine.
* **Busy measurements are not trusted later**: costs measured while other
  programs kept more than :data:`QUIET` CPUs busy (after a few attempts)
  are those of a busy machine -- a distributed worker's pace read 0.62 and
  the NumPy share beside Python work 0.42 with about one CPU busy, and every
  cluster prediction came out up to a third too long.  The process that
  measured them uses them; the next process that needs them measures again,
  and a quiet measurement replaces them.
* **Measured apart**: in a fresh Python process (``sys.executable``), so
  a measurement starts no pool or cluster in the reader's process, and a
  script without an ``if __name__ == "__main__":`` guard, or one read from
  standard input, can still be predicted.  If that fails, the built-in costs
  are used, with a warning saying why.
* **Two processes at once**: whoever measures holds a lock file beside the
  cache, so a second process waits for the first one's figures instead of
  measuring at the same time (two measurements side by side would slow each
  other down); the file is written to a temporary name and renamed, so
  nobody ever reads half of one.
* **Refresh or bypass**: :func:`machine_costs` with ``refresh=True``, or
  :func:`forget`, or ``SCHEDTUTOR_COSTS=refresh`` (measure once more in each
  process) or ``SCHEDTUTOR_COSTS=builtin`` (:data:`DEFAULT_COSTS`, nothing
  measured); :func:`schedtutor.settings.costs_mode`.  Or pass ``costs=`` to
  :func:`~schedtutor.predict.predict`.

Remembered costs are those of a local scheduler or a local cluster: for a
cluster on other machines, ``calibrate("distributed", address=...)`` and pass
the result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from schedtutor import _work, settings
from schedtutor.schedulers import check_options, open_scheduler

if TYPE_CHECKING:  # for annotations only: calibrate imports trace when it runs
    from schedtutor.trace import TaskSpan, Trace

__all__ = [
    "DEFAULT_COSTS",
    "MEASURED",
    "USES",
    "Costs",
    "background",
    "cache_file",
    "calibrate",
    "forget",
    "machine_costs",
    "others_during",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Costs:
    """The fixed costs of running a graph on this machine, in seconds.

    The defaults are those of a quiet 2-CPU Linux machine with Python 3.11
    and Dask 2026.8: with them the model reproduces the old lesson's graph as
    measured there at 1 s per op (4.15-4.2 s under processes, 3.2 s with
    ``chunksize=1``).  A loaded machine starts processes two to five times
    slower: :func:`calibrate` measures the costs here and now.
    """

    sync_task: float = 15e-6
    """The local main loop's bookkeeping per task handed out, and again per task handled (sync)."""
    local_task: float = 30e-6
    """The same under threads."""
    process_task: float = 50e-6
    """The same under processes, pickling included."""
    process_start: float = 0.15
    """From a batch's submission to a freshly spawned worker process until it starts it."""
    process_stagger: float = 0.03
    """How much later each worker process starts work for each other one spawned beside it."""
    process_hop: float = 0.004
    """From a batch's end in its process until its dependents can be handed out."""
    process_stop: float = 0.05
    """Shutting the process pool down after the last result."""
    process_numpy: float = 0.06
    """What a worker process's first NumPy work adds when nothing it ran before imported
    NumPy: the import, when it has two CPUs to itself.  It keeps two CPUs busy (see
    :data:`schedtutor._simulate.IMPORT_CPUS`), so beside other work, or another
    import, it takes longer (two side by side on two CPUs: twice as long)."""
    distributed_start: float = 0.015
    """From ``compute`` until the first task starts on a worker."""
    distributed_hop: float = 0.008
    """From a task's end until a dependent starts (a scheduler round trip)."""
    distributed_task: float = 0.0015
    """The scheduler's time per task: it starts at most one task per this many seconds."""
    distributed_stop: float = 0.02
    """From the last task's end until ``compute`` returns."""
    distributed_pace: float = 1.0
    """The share of its thread's time Python work gets on a distributed worker (the rest
    goes to the worker's own event loop and heartbeats, which take turns at its GIL)."""
    distributed_cpus: float = 0.0
    """CPUs a local cluster's own processes (scheduler, nannies, client) keep busy
    while its workers run CPU work: they compete with it like other programs."""
    python_shared: float = 0.97
    """The pace Python work keeps while it takes turns at its process's GIL with
    Python work in another thread: each hand-over, every switch interval, costs a
    wake-up in which neither works."""
    numpy_beside_python: float = 0.25
    """The pace NumPy work keeps while another thread of its process runs Python work:
    it needs the GIL back after each NumPy call and waits up to a switch interval
    for it (measured with the library's NumPy work, calls of a few milliseconds)."""
    background: float = 0.0
    """CPUs kept busy by other programs, competing with ours (0 on a quiet machine)."""


DEFAULT_COSTS = Costs()
"""The built-in costs: those of a quiet 2-CPU Linux machine (``SCHEDTUTOR_COSTS=builtin``)."""

MEASURED: dict[str, tuple[str, ...]] = {
    "sync": ("sync_task",),
    "threads": ("local_task", "python_shared", "numpy_beside_python"),
    "processes": (
        "process_start",
        "process_stagger",
        "process_hop",
        "process_stop",
        "process_numpy",
    ),
    "distributed": (
        "distributed_start",
        "distributed_hop",
        "distributed_stop",
        "distributed_pace",
        "distributed_cpus",
    ),
}
"""The costs :func:`calibrate` measures for each scheduler (besides the background)."""

USES: dict[str, tuple[str, ...]] = {
    "sync": ("sync",),
    "threads": ("threads",),
    "processes": ("processes",),
    "distributed": ("distributed", "threads"),
}
"""Whose measured costs each scheduler's model uses: a distributed worker's threads
share a GIL as the threads scheduler's do."""

_FORMAT = 4
"""The way of measuring: a change to :func:`calibrate` that changes its figures bumps it,
so that costs measured the old way are measured again."""

_TIMEOUT = 300.0

QUIET = 0.25
"""CPUs other programs may keep busy while costs are measured for the cache to trust them."""
"""Seconds a measurement in a fresh process may take before the built-in costs are used."""


NUMPY_WORK = 0.02
"""Seconds of NumPy work in each task :func:`calibrate` times a worker's NumPy import with."""


def calibrate(
    scheduler: str = "processes", repeat: int = 7, costs: Costs | None = None, **options: Any
) -> Costs:
    """Measure the machine's costs for ``scheduler`` now; return ``costs`` with them.

    Always: how many CPUs other programs keep busy (:attr:`Costs.background`,
    from the machine's CPU time over a quarter of a second, less our own).
    For sync and threads: the main loop's cost per task, from 2000 tasks that
    do nothing; for threads also the pace Python work keeps when two threads
    take turns at the GIL, and NumPy work beside a thread running Python work
    (a third of a second of each).  For processes: a
    fresh worker process's start-up (from traces of a one-task graph), how
    much later each of two starts when they are spawned together (two 0.3 s
    tasks with ``chunksize=1``), how long a finished task's result takes to
    reach a dependent (a third task waiting for both), what a worker's first
    NumPy work adds (two tasks of 0.02 s of NumPy work, spawned together: each
    imports NumPy beside the other, at the pace the model gives two imports), and
    the pool's shutdown: each repeat traces those three graphs (seven repeats
    by default: a spawn's start-up varies from run to run, and with fewer
    repeats one slow start moves the figures every processes prediction rests
    on).  For
    distributed: the start, hop and stop latencies, from traces of a short
    chain on the cluster ``options`` describe, and how fast CPU work runs
    there: alone (one 0.3 s task of Python work) and with every worker thread
    busy (NumPy work, up to one task per CPU), which sets the background to
    the CPUs the cluster's own processes take from its workers
    (:attr:`Costs.distributed_cpus`).  ``costs`` (by default
    :data:`DEFAULT_COSTS`) gives the rest.

    >>> calibrate("threads").background >= 0
    True
    """
    from dask.delayed import delayed

    from schedtutor.trace import trace

    canonical = check_options(scheduler, options)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a whole number >= 1, got {repeat!r}")
    costs = replace(check_costs(costs), background=background())
    if canonical == "sync":
        return replace(costs, sync_task=_local_task(canonical, repeat, options))
    if canonical == "threads":
        return replace(
            costs,
            local_task=_local_task(canonical, repeat, options),
            python_shared=_python_shared(),
            numpy_beside_python=_numpy_beside_python(),
        )
    if canonical == "processes":
        one = delayed(_work.do_work)(0.0, "sleep")  # one process spawned on its own
        # two processes spawned together, then a task that waits for both
        two = delayed(list)([delayed(_work.do_work)(0.3, "sleep") for _ in range(2)])
        singles = [trace(one, "processes", **options) for _ in range(repeat)]
        pairs = [trace(two, "processes", **{**options, "chunksize": 1}) for _ in range(repeat)]
        # two processes spawned together, each beginning with NumPy work: it imports NumPy first
        numpy_two = delayed(list)([delayed(_work.do_work)(NUMPY_WORK, "numpy") for _ in range(2)])
        numpy_pairs = [
            trace(numpy_two, "processes", **{**options, "chunksize": 1}) for _ in range(repeat)
        ]
        numpy_imports = [_numpy_import(t, costs.background) for t in numpy_pairs]
        single_start = statistics.median(t.spans[0].start for t in singles)
        works = [[s for s in t.spans if s.name == "do_work"] for t in pairs]
        # only where the two ran in two processes (not with num_workers=1)
        together = [
            statistics.mean(s.start for s in w) for w in works if w[0].process != w[1].process
        ]
        hops = [
            next(s for s in t.spans if s.name == "list").start - max(s.end for s in w)
            for t, w in zip(pairs, works, strict=True)
        ]
        return replace(
            costs,
            process_start=single_start,
            process_stagger=(
                max(statistics.median(together) - single_start, 0.0)
                if together
                else costs.process_stagger
            ),
            process_hop=max(statistics.median(hops), 0.0),
            process_stop=statistics.median(t.seconds - t.spans[-1].end for t in singles + pairs),
            process_numpy=max(statistics.median(i for some in numpy_imports for i in some), 0.0),
        )
    with open_scheduler("distributed", **options) as opened:
        traces = [trace(_chain(), "distributed", client=opened.client) for _ in range(repeat)]
        pace, crowding = _distributed_cpu(opened.client, costs.background)
    hops = [b.start - a.end for t in traces for a, b in zip(t.spans, t.spans[1:], strict=False)]
    return replace(
        costs,
        distributed_start=statistics.median(t.spans[0].start for t in traces),
        distributed_hop=statistics.median(hops),
        distributed_stop=statistics.median(t.seconds - t.spans[-1].end for t in traces),
        distributed_pace=pace,
        distributed_cpus=crowding,
    )


def _numpy_import(traced: Trace, background: float) -> list[float]:
    """What importing NumPy took each process of ``traced``, at full pace.

    Each process's first task does :data:`NUMPY_WORK` of NumPy work, and imports
    NumPy first; the processes import it side by side, each keeping
    :data:`schedtutor._simulate.IMPORT_CPUS` CPUs busy, so each went at the
    pace the model gives them (two on two CPUs: half pace).
    """
    from dask.system import CPU_COUNT

    from schedtutor._simulate import IMPORT_CPUS, cpu_share

    firsts = _firsts(traced)
    pace = cpu_share(int(CPU_COUNT), IMPORT_CPUS * len(firsts), background)
    return [(first.end - first.start - NUMPY_WORK) * pace for first in firsts]


def _firsts(traced: Trace) -> list[TaskSpan]:
    """The first ``do_work`` span of each process of ``traced``."""
    firsts: dict[str, TaskSpan] = {}
    for span in sorted(traced.spans, key=lambda s: s.start):
        if span.name == "do_work":
            firsts.setdefault(span.process, span)
    return list(firsts.values())


def check_costs(costs: object) -> Costs:
    """Return ``costs``, or :data:`DEFAULT_COSTS` for None; raise ``TypeError`` for anything else.

    >>> check_costs("fast")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: costs must be a Costs (DEFAULT_COSTS, machine_costs() or calibrate()), got str: ...
    """
    if costs is None:
        return DEFAULT_COSTS
    if not isinstance(costs, Costs):
        raise TypeError(
            "costs must be a Costs (DEFAULT_COSTS, machine_costs() or calibrate()), "
            f"got {type(costs).__name__}: {costs!r}"
        )
    return costs


def check_background(background: object) -> float:
    """Return ``background`` as CPUs kept busy by other programs, or raise ``ValueError``.

    >>> check_background(1)
    1.0
    >>> check_background(-0.5)
    Traceback (most recent call last):
    ...
    ValueError: background must be the CPUs other programs keep busy, a number from 0 up, got -0.5
    """
    if isinstance(background, (int, float)) and not isinstance(background, bool):
        if 0 <= background < float("inf"):
            return float(background)
    raise ValueError(
        "background must be the CPUs other programs keep busy, a number from 0 up, "
        f"got {background!r}"
    )


def _local_task(scheduler: str, repeat: int, options: dict[str, Any], n: int = 2000) -> float:
    """The main loop's cost per task handed out (and again per task handled), in seconds.

    ``n`` independent tasks that do nothing, computed without optimising the
    graph: each costs the loop one hand-out and one hand-back, so the best of
    ``repeat`` runs over ``2 n``.
    """
    from dask.base import compute
    from dask.delayed import Delayed

    dsk: dict[Any, Any] = {("nothing", i): (_work.do_work, 0.0, "sleep") for i in range(n)}
    dsk["all"] = (len, [("nothing", i) for i in range(n)])
    graph = Delayed("all", dsk)
    pool = {k: v for k, v in options.items() if k == "num_workers"}
    compute(graph, scheduler=scheduler, optimize_graph=False, **pool)  # first-compute imports
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        compute(graph, scheduler=scheduler, optimize_graph=False, **pool)
        best = min(best, time.perf_counter() - started)
    return best / (2 * (n + 1))


def _python_shared(seconds: float = 0.3) -> float:
    """Return the pace Python work keeps in two threads taking turns at the GIL.

    ``seconds`` of Python work in one thread, then half as much in each of two
    threads at once: the first wall time over the second (the best of two).
    """
    import threading

    def wall(threads: int) -> float:
        each = [
            threading.Thread(target=_work._do_work, args=(seconds / threads, "python"))
            for _ in range(threads)
        ]
        started = time.perf_counter()
        for thread in each:
            thread.start()
        for thread in each:
            thread.join()
        return time.perf_counter() - started

    return min(1.0, max(wall(1) / wall(2) for _ in range(2)))


def _numpy_beside_python(seconds: float = 0.3) -> float:
    """Return the pace NumPy work keeps while another thread of this process runs Python work.

    NumPy work's CPU time per second alone, then while a thread runs
    ``seconds`` of Python work: the second over the first.  Each NumPy call
    lets the GIL go and must take it back after, from a thread that gives it
    up only every switch interval (``sys.getswitchinterval()``, 5 ms).
    """
    import threading

    def rate(going: Any) -> float:
        cpu, wall = time.thread_time(), time.perf_counter()
        while going():
            _work._do_work(0.002, "numpy")
        return (time.thread_time() - cpu) / (time.perf_counter() - wall)

    until = time.perf_counter() + seconds / 2
    alone = rate(lambda: time.perf_counter() < until)
    python = threading.Thread(target=_work._do_work, args=(seconds, "python"))
    python.start()
    beside = rate(python.is_alive)
    python.join()
    return min(1.0, beside / alone)


def _distributed_cpu(client: Any, background: float, seconds: float = 0.3) -> tuple[float, float]:
    """Return the pace of CPU work on ``client``'s cluster and the CPUs its own processes take.

    The pace is the CPU time one task of Python work gets per second of its run,
    alone on the cluster.  Then NumPy tasks on as many threads as there are
    CPUs (or fewer, if the cluster has fewer threads), which let the GIL go:
    when they run slower than their own seconds, something else takes
    ``CPU_COUNT / share - busy`` CPUs from them; less the ``background`` other
    programs kept busy before, that is the cluster's own processes (scheduler,
    nannies, this client).  Each is the fastest of three runs: other programs
    only slow a run, and one slow run made every cluster prediction long.
    """
    from dask.delayed import delayed
    from dask.system import CPU_COUNT

    from schedtutor.timing import fastest
    from schedtutor.trace import trace

    def task_seconds(traced: Any) -> float:
        return float(statistics.mean(s.seconds for s in traced.spans if s.name == "do_work"))

    alone = delayed(_work.do_work)(seconds, "python")
    ran = fastest(lambda: trace(alone, "distributed", client=client), at_least=3, at_most=3,
                  seconds=task_seconds)  # fmt: skip
    pace = min(1.0, seconds / task_seconds(ran))
    threads = sum(client.nthreads().values())
    busy = max(1, min(threads, int(CPU_COUNT)))
    together = delayed(list)([delayed(_work.do_work)(seconds, "numpy") for _ in range(busy)])
    ran = fastest(lambda: trace(together, "distributed", client=client), at_least=3, at_most=3,
                  seconds=task_seconds)  # fmt: skip
    share = min(1.0, seconds / task_seconds(ran))  # NumPy: not paced
    crowded = int(CPU_COUNT) / share - busy if busy == int(CPU_COUNT) and share < 1 else 0.0
    return pace, max(0.0, crowded - background)


def background(seconds: float = 0.25) -> float:
    """Return how many CPUs other programs keep busy right now.

    What :func:`calibrate` records as :attr:`Costs.background`: the load of the
    moment, which a prediction may be given (``costs=replace(costs,
    background=background())``) but no cache keeps.

    >>> background(0.05) >= 0
    True
    """
    return others_during(lambda: time.sleep(seconds))[1]


def others_during(work: Callable[[], T]) -> tuple[T, float]:
    """Run ``work()``; return its result and how many CPUs other programs kept busy meanwhile.

    The machine's busy CPU time during the call, less what this process and
    its children used meanwhile (those it has waited for, a spawn pool's
    workers say, and those still alive, a local cluster's), divided by the
    wall time.  Under a tenth of a CPU is the kernel's and the system's own
    chatter, and counts as nothing.  (A busy thread of ours timing its own
    share of a CPU, the earlier way, cannot tell one busy thread elsewhere
    from none on two CPUs, and reads contention for our own GIL as other
    programs' load.)

    >>> others_during(lambda: 42)[0]
    42
    """
    import psutil

    machine_before, ours_before = _busy(psutil.cpu_times()), _ours()
    wall = time.perf_counter()
    result = work()
    wall = time.perf_counter() - wall
    machine, own = _busy(psutil.cpu_times()) - machine_before, _ours() - ours_before
    others = (machine - own) / wall if wall > 0 else 0.0
    return result, others if others >= 0.1 else 0.0


def _busy(times: Any) -> float:
    """The CPU seconds in ``psutil.cpu_times()`` spent doing anything (as cpu_percent counts)."""
    idle = sum(getattr(times, name, 0.0) for name in ("idle", "iowait", "guest", "guest_nice"))
    return float(sum(times)) - idle


def _ours() -> float:
    """The CPU seconds this process, the children it waited for, and its living ones used."""
    import psutil

    me = psutil.Process()
    used = me.cpu_times()
    total = used.user + used.system
    total += getattr(used, "children_user", 0.0) + getattr(used, "children_system", 0.0)
    for child in me.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:  # a child that ended in between
            continue
        total += times.user + times.system
    return total


def _chain(length: int = 5) -> Any:
    from dask.delayed import delayed

    node = delayed(_work.add)(0, 0, 0.0, "sleep")
    for _ in range(length - 1):
        node = delayed(_work.add)(node, 0, 0.0, "sleep")
    return node


# -- costs without asking --------------------------------------------------------------

_memo: dict[str, Costs] = {}
_memo_lock = threading.Lock()


def machine_costs(scheduler: str = "processes", *, refresh: bool = False) -> Costs:
    """Return this machine's costs for ``scheduler``, measuring them the first time.

    What :func:`~schedtutor.predict.predict` uses when given no ``costs``: the
    costs :func:`calibrate` measures for ``scheduler`` (:data:`MEASURED`, and
    those of the schedulers it shares a model with, :data:`USES`),
    read from :func:`cache_file` -- or, the first time on this machine with
    these versions, or with ``refresh=True``, measured in a fresh process
    and written there -- on top of :data:`DEFAULT_COSTS`, with no background
    load.  ``SCHEDTUTOR_COSTS=builtin`` returns :data:`DEFAULT_COSTS`.

    >>> machine_costs("sync").sync_task > 0
    True
    """
    kind = check_options(scheduler, {})
    mode = settings.costs_mode()
    if mode == "builtin":
        return DEFAULT_COSTS
    with _memo_lock:
        if kind in _memo and not refresh:
            return _memo[kind]
        again = refresh or mode == "refresh"
        kept = {} if again else _read_cache()
        found: dict[str, float] = {}
        for measurement in USES[kind]:
            figures = kept.get(measurement)
            if figures is None:
                figures = _measure_and_keep(measurement, again)
            found.update(figures)
        _memo[kind] = costs = replace(DEFAULT_COSTS, **found)
        return costs


def cache_file() -> Path:
    """Return the file this machine's measured costs are kept in (it may not exist yet).

    >>> cache_file().name.startswith("costs-")
    True
    """
    digest = hashlib.sha256(json.dumps(_stamp(), sort_keys=True).encode()).hexdigest()
    return settings.cache_folder() / f"costs-{digest[:16]}.json"


def forget() -> None:
    """Forget this machine's measured costs: the next prediction measures them again.

    >>> import os, tempfile
    >>> os.environ["SCHEDTUTOR_CACHE_DIR"] = tempfile.mkdtemp()
    >>> forget()
    >>> cache_file().exists()
    False
    >>> del os.environ["SCHEDTUTOR_CACHE_DIR"]
    """
    with _memo_lock:
        _memo.clear()
        with contextlib.suppress(FileNotFoundError):
            cache_file().unlink()


def _stamp() -> dict[str, Any]:
    """What the costs depend on, and nothing that names a host or a person."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return ""

    return {
        "format": _FORMAT,
        "os": platform.system(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}"
        + (" free-threaded" if not getattr(sys, "_is_gil_enabled", lambda: True)() else ""),
        "dask": installed("dask"),
        "distributed": installed("distributed"),
        "schedtutor": installed("schedtutor"),
    }


def _read_cache() -> dict[str, dict[str, float]]:
    """Return the costs kept for this machine, by scheduler; nothing if the file is unreadable."""
    try:
        kept = json.loads(cache_file().read_text(encoding="utf-8"))
        known = {f.name for f in fields(Costs)}
        return {
            kind: {name: float(value) for name, value in entry["costs"].items() if name in known}
            for kind, entry in kept["measured"].items()
            if kind in MEASURED
            and set(entry["costs"]) >= set(MEASURED[kind])
            and float(entry["background_while_measured"]) <= QUIET
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _measure_and_keep(kind: str, again: bool) -> dict[str, float]:
    """Measure ``kind``'s costs in a fresh process, keep them, and return them.

    Under the cache's lock: a process that waited for another's measurement
    reads it instead of measuring again (unless ``again``: a refresh).
    """
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock: contextlib.AbstractContextManager[object] = _exclusive(path.with_suffix(".lock"))
    except OSError:  # no writable cache: measure for this process only
        lock = contextlib.nullcontext()
    with lock:
        kept = None if again else _read_cache().get(kind)
        if kept is not None:
            return kept
        started = time.time()
        measured = _measure_apart(kind)
        if measured is None:
            return {}
        found, background = measured
        with contextlib.suppress(OSError):
            _write_cache(path, kind, found, background, started)
        return found


def _measure_apart(kind: str) -> tuple[dict[str, float], float] | None:
    """Run :func:`calibrate` for ``kind`` in a fresh Python; return its figures and the load.

    None, with a warning, if that process fails or takes over :data:`_TIMEOUT` seconds.
    """
    code = f"from schedtutor.calibration import _report; _report({kind!r})"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise RuntimeError(reason)
        report = json.loads(lines[-1])
        return {name: float(report[name]) for name in MEASURED[kind]}, float(report["background"])
    except (OSError, ValueError, KeyError, RuntimeError, subprocess.SubprocessError) as error:
        warnings.warn(
            f"schedtutor could not measure this machine's {kind} costs ({error}); "
            "predicting with the built-in ones (schedtutor.calibration.DEFAULT_COSTS)",
            RuntimeWarning,
            stacklevel=4,
        )
        return None


def _report(kind: str, attempts: int = 3, quiet: float = QUIET) -> None:
    """Measure ``kind``'s costs and print them as one line of JSON (the fresh process's work).

    Costs measured while other programs keep the CPUs busy are those of a busy
    machine (a spawn pool starts two to five times slower), and a cache would
    keep them: while other programs kept more than ``quiet`` CPUs busy during
    a measurement, it is made again, a few seconds later, ``attempts`` times
    in all; the one with the least load is kept, with that load.
    """
    best: tuple[Costs, float] | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(3.0)
        measured = others_during(lambda: calibrate(kind))
        if best is None or measured[1] < best[1]:
            best = measured
        if measured[1] <= quiet:
            break
    assert best is not None
    report = {name: getattr(best[0], name) for name in MEASURED[kind]}
    print(json.dumps({**report, "background": best[1]}), flush=True)


def _write_cache(
    path: Path, kind: str, found: dict[str, float], background: float, started: float
) -> None:
    """Add ``kind``'s costs to the cache file, replacing it whole (a rename, never half-written)."""
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("stamp") != _stamp() or not isinstance(kept.get("measured"), dict):
            raise ValueError("another stamp")
    except (OSError, ValueError, AttributeError):
        kept = {"stamp": _stamp(), "measured": {}}
    kept["measured"][kind] = {
        "utc": datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "background_while_measured": round(background, 3),
        "costs": found,
    }
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".costs-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(kept, file, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if needed) for the block."""
    with open(path, "a+b") as handle:
        if sys.platform == "win32":
            import msvcrt

            handle.seek(0)
            while True:
                try:  # LK_LOCK tries for 10 s, then raises
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
