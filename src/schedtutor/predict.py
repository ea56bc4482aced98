"""Predict how long a graph takes under a scheduler, and when each task runs.

:func:`predict` answers before anything runs.  It does not just add up the
critical path: it replays the scheduler's own policy on the graph, in a
discrete-event simulation (:mod:`schedtutor._simulate`), and returns a
:class:`Prediction` with the predicted wall time, predicted
:class:`~schedtutor.trace.TaskSpan` s (so :func:`schedtutor.timeline.plot_timeline`
draws a prediction like a trace) and the critical path.

>>> from schedtutor import slow_arithmetic
>>> graph = slow_arithmetic(delay=0.1)  # four ops that sleep holding one lock
>>> [round(predict(graph, s).seconds, 2) for s in ("sync", "threads", "distributed")]
[0.4, 0.4, 0.36]
>>> round(predict(slow_arithmetic(delay=0.1, work="sleep"), "threads").seconds, 2)
0.3
>>> round(predict(graph).critical_path, 2)
0.3

The model
=========

**Durations.**  The library's ops (:data:`schedtutor._work.OPS`) carry their
``delay`` and kind of ``work`` in their arguments, so their tasks are read
directly.  Any other task needs ``durations=``: a :class:`~schedtutor.trace.Trace`
of the same object (measure once with ``trace(obj, "sync")``, predict every
scheduler) or a ``{key: seconds}`` mapping; such a task is assumed to do work
of kind ``work`` (default ``"sleep"``: it runs in parallel with anything;
say ``"python"`` if it holds the GIL).

**The local schedulers** (sync, threads, processes) are all
``dask.local.get_async``, replayed step by step: ``dask.order`` priorities; the
ready tasks on a stack, the most recently readied first, ties broken by
priority; ``fire_tasks`` sending ``chunksize`` tasks per batch to at most
``num_workers`` workers (default ``dask.system.CPU_COUNT``; ``chunksize``
default 1 for threads and 6 for processes; both also read from
``dask.config``); a batch's tasks run one after another on one worker and come
back together; the main loop handles one finished batch per turn, spending
:attr:`Costs.sync_task` (:attr:`~Costs.local_task`, :attr:`~Costs.process_task`)
per task handed out and per task handled.  The processes scheduler first
``cull``s and ``fuse``s the graph as Dask does (in Dask 2026.8 ``fuse`` leaves
task-spec graphs alone), and starts a fresh spawn pool every compute: a worker
process is spawned when a batch finds none idle and takes work
:attr:`Costs.process_start` seconds later (:attr:`~Costs.process_stagger` more
for each other process starting beside it: processes spawned together slow
each other down); a finished batch reaches the main loop
:attr:`~Costs.process_hop` later; shutting the pool down costs
:attr:`~Costs.process_stop`.

**Distributed** (:func:`schedtutor._distributed_model.run_distributed`):
``n_workers`` x ``threads_per_worker`` threads (2 x 1 by default, or read
from ``client``/``address``); the scheduler's placement -- a task goes to the
worker holding one of its dependencies where it would start first (then
the one holding fewer results), a task without any round
robin to an empty worker, a *root-ish* task (of a large group) waits in the
scheduler's queue for a free worker -- and each worker runs what it holds in
priority order; a task starts :attr:`Costs.distributed_hop` after its last
dependency ended; ``processes=False`` puts every worker in one process.  The
tasks without dependencies are placed in the order the scheduler reaches
them from the graph's output, through each task's set of dependencies
(:func:`schedtutor._distributed_model.submission_order`); a running
cluster's state changes the placement too, so with ``client``/``address``
the model reads it first: how many tasks the scheduler has placed (where its
round robin starts), what it learned of each task prefix's duration
(what it calls a worker's occupancy), the hashes that order its workers in
a set (which breaks ties between equally good workers) and how often it
steals.

**Work stealing.**  Every ``work-stealing-interval`` (1 s by default) the
scheduler asks a worker holding more tasks than threads to hand one it has
not started to an idle worker, trying the busy worker's tasks in an order
nobody can know beforehand (a set's); a task already running is refused.
When the run starts on that clock is not known either, so where a steal is
possible the model replays the graph at 24 evenly spread phases of the clock
with shuffled orders: :attr:`Prediction.seconds` is the median of those
runs, :attr:`Prediction.outcomes` all of them.

**What runs side by side.**  Each process has one sleeplock lock (threads of
one process take turns) and one GIL (its Python work shares one CPU); NumPy
work and sleeping run in parallel; CPU work shares ``CPU_COUNT`` CPUs with
the :attr:`Costs.background` CPUs that other programs keep busy, each busy
thread getting ``min(1, CPU_COUNT / (ours + background))`` of a CPU; on a
distributed worker it gets :attr:`Costs.distributed_pace` of that (the
worker's own event loop takes the rest).

**The costs** are the machine's, not the graph's: :data:`DEFAULT_COSTS` are
those of a quiet 2-CPU Linux machine; :func:`calibrate` measures them here and
now, in a few seconds, from traces of tiny graphs.

**Not modelled**: the run-to-run variation of the spawn pool's start-up
(large when other programs load the machine); imports a reader's tasks
trigger in a fresh worker process; the distributed scheduler's memory limits,
and the cost of moving a stolen task's inputs (tasks are taken to have small
results); the order of the tasks without dependencies when the scheduler runs in
another process (a set's order follows the keys' hashes, seeded per
process); which of two equally good workers gets a task when their hashes
share a slot of a small set (the order then follows insertion) or when two
results reach the scheduler within a millisecond (either may come first);
the GIL that Dask's own threads need beyond what
:attr:`Costs.distributed_pace` measures on a distributed worker.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil
from dask.system import CPU_COUNT
from dask.utils import key_split

from schedtutor import _compat, _distributed_model, _model, _simulate, _work
from schedtutor._base import check_collection, label
from schedtutor.ops import check_work
from schedtutor.schedulers import check_options, open_scheduler
from schedtutor.trace import TaskSpan, Trace, overlap, trace

__all__ = ["DEFAULT_COSTS", "Costs", "Prediction", "calibrate", "critical_path", "predict"]


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
    distributed_start: float = 0.015
    """From ``compute`` until the first task starts on a worker."""
    distributed_hop: float = 0.008
    """From a task's end until a dependent starts (a scheduler round trip)."""
    distributed_task: float = 0.0015
    """The scheduler's time per task: it starts at most one task per this many seconds."""
    distributed_stop: float = 0.02
    """From the last task's end until ``compute`` returns."""
    distributed_pace: float = 1.0
    """The share of its thread's time CPU work gets on a distributed worker (the rest
    goes to the worker's own event loop and heartbeats)."""
    background: float = 0.0
    """CPUs kept busy by other programs, competing with ours (0 on a quiet machine)."""


DEFAULT_COSTS = Costs()
"""The costs :func:`predict` uses unless given others."""


@dataclass(frozen=True)
class Prediction:
    """What :func:`predict` expects: the wall time, each task's span, the critical path."""

    seconds: float
    spans: tuple[TaskSpan, ...]
    critical_path: float
    scheduler: str
    options: dict[str, Any] = field(default_factory=dict)
    outcomes: tuple[float, ...] = ()
    """Every wall time the model finds possible, fastest first, each as likely as the
    others: one, unless the distributed scheduler's work stealing may act (its
    clock and the order it tries tasks are not known before a run); then
    ``seconds`` is their median."""

    @property
    def fastest(self) -> float:
        """The shortest wall time the model finds possible."""
        return min(self.outcomes, default=self.seconds)

    @property
    def slowest(self) -> float:
        """The longest wall time the model finds possible."""
        return max(self.outcomes, default=self.seconds)

    @property
    def label(self) -> str:
        """The configuration's readable label, e.g. ``processes (chunksize=1)``."""
        return label(self.scheduler, self.options)

    def overlap(self, first: str, second: str) -> float:
        """Return the seconds tasks named ``first`` and ``second`` are to work side by side."""
        return overlap(self.spans, first, second)

    def to_chrome_trace(self, path: str | os.PathLike[str]) -> Path:
        """Write the predicted spans as Chrome trace-event JSON (:mod:`.chrome_trace`)."""
        from schedtutor.chrome_trace import write_chrome_trace

        return write_chrome_trace([self], path)

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the predicted timeline as interactive HTML (:mod:`.interactive`)."""
        from schedtutor.interactive import save_html

        return save_html([self], path)

    def __str__(self) -> str:
        spread = ""
        if self.slowest - self.fastest >= 0.0005:
            spread = f"{self.fastest:.3f}-{self.slowest:.3f} s as work stealing acts or not; "
        return (
            f"{self.label}: {self.seconds:.3f} s predicted "
            f"({spread}critical path {self.critical_path:.3f} s)"
        )


def predict(
    obj: Any,
    scheduler: str = "threads",
    durations: Trace | Mapping[Any, float] | None = None,
    *,
    work: str = "sleep",
    costs: Costs | None = None,
    **options: Any,
) -> Prediction:
    """Predict the wall time and the task spans of computing ``obj`` under ``scheduler``.

    ``options`` are those of :func:`schedtutor.timing.run`.  Tasks that are not the
    library's ops need ``durations`` (a sync :class:`~schedtutor.trace.Trace`
    of ``obj``, or ``{key: seconds}``) and are taken to do work of kind
    ``work``.  ``costs`` are the machine's fixed costs (:func:`calibrate`).

    >>> from schedtutor import slow_arithmetic
    >>> prediction = predict(slow_arithmetic(delay=0.01, work="sleep"), "threads", num_workers=2)
    >>> round(prediction.seconds, 2), prediction.overlap("add", "sub") > 0
    (0.03, True)
    """
    check_collection(obj)
    canonical = check_options(scheduler, options)
    kind = _model.KINDS[check_work(work)]
    table = _table(durations)
    costs = _costs(costs)
    dsk = _model.graph(obj, canonical, options.get("optimize_graph", True))
    jobs = _model.jobs(dsk, table, kind)
    if canonical == "distributed":
        workers, processes, names, history = _cluster_layout(options)

        start, hop = costs.distributed_start, costs.distributed_hop

        def simulate(clock: _distributed_model.StealClock | None) -> _distributed_model.Run:
            machine = _simulate.Machine(
                processes, int(CPU_COUNT), costs.background, costs.distributed_pace
            )
            return _distributed_model.run_distributed(
                jobs, machine, workers, start, hop, costs.distributed_task, history=history,
                clock=clock,
            )  # fmt: skip

        runs = _distributed_model.possible_runs(simulate, history.steal_every)
        likeliest = runs[(len(runs) - 1) // 2]  # the median run (the lower one of two)
        machine, seconds = likeliest.machine, likeliest.end + costs.distributed_stop
        outcomes = tuple(run.end + costs.distributed_stop for run in runs)
    else:
        machine, names, seconds = _run_local(jobs, canonical, options, costs)
        outcomes = (seconds,)
    spans = sorted(
        (
            TaskSpan(key, key_split(key), *names[slot], start, end, waited)
            for key, slot, start, end, waited in machine.spans
            if key is not None  # an alias: no span in a trace either
        ),
        key=lambda s: (s.start, s.end),
    )
    return Prediction(
        seconds, tuple(spans), _model.critical_path(jobs), canonical, dict(options), outcomes
    )


def _table(durations: object) -> Mapping[Any, float] | None:
    """Return ``durations`` as a table of seconds by key, or raise TypeError."""
    if durations is None or isinstance(durations, Mapping):
        return durations
    if isinstance(durations, Trace):
        return durations.durations()
    raise TypeError(
        "durations must be a Trace (trace(obj, 'sync')) or a mapping of task key to seconds, "
        f"got {type(durations).__name__}: {durations!r}"
    )


def _costs(costs: object) -> Costs:
    if costs is None:
        return DEFAULT_COSTS
    if not isinstance(costs, Costs):
        raise TypeError(
            f"costs must be a Costs (DEFAULT_COSTS or calibrate()), "
            f"got {type(costs).__name__}: {costs!r}"
        )
    return costs


def _run_local(
    jobs: list[_simulate.Job], canonical: str, options: Mapping[str, Any], costs: Costs
) -> tuple[_simulate.Machine, list[tuple[str, str]], float]:
    """Simulate sync, threads or processes; return the machine, the slots' names, the seconds."""
    workers = 1 if canonical == "sync" else _setting(options, "num_workers", int(CPU_COUNT))
    chunksize = _setting(options, "chunksize", 6 if canonical == "processes" else 1)
    if canonical == "processes":
        machine = _simulate.Machine(list(range(workers)), int(CPU_COUNT), costs.background)
        names = [(f"process {i + 1}", "thread 1") for i in range(workers)]
        end = _simulate.run_local(
            jobs,
            machine,
            workers,
            chunksize,
            costs.process_task,
            spawn=costs.process_start,
            hop=costs.process_hop,
            stagger=costs.process_stagger,
        )
        return machine, names, end + costs.process_stop
    machine = _simulate.Machine([0] * workers, int(CPU_COUNT), costs.background)
    names = [("process 1", f"thread {i + 1}") for i in range(workers)]
    task_cost = costs.sync_task if canonical == "sync" else costs.local_task
    return machine, names, _simulate.run_local(jobs, machine, workers, chunksize, task_cost)


def _setting(options: Mapping[str, Any], name: str, default: int) -> int:
    """Return a local scheduler's setting as Dask resolves it: argument, config, default."""
    import dask

    return int(options.get(name) or dask.config.get(name, None) or default)


def _cluster_layout(
    options: Mapping[str, Any],
) -> tuple[list[list[int]], list[int], list[tuple[str, str]], _distributed_model.History]:
    """Return each worker's slots, each slot's process number, (worker, thread) names,
    and what the scheduler knows already (nothing, for a cluster yet to start)."""
    history = _distributed_model.History(
        unknown=_config_seconds("unknown-task-duration", _distributed_model.History.unknown),
        steal_every=_steal_every(),
    )
    if "client" in options or "address" in options:
        from distributed.comm.addressing import get_address_host

        with open_scheduler("distributed", **options) as opened:
            # asked of the scheduler: Client.scheduler_info() returns a cache that the
            # client's periodic refresh can empty of workers just before it is read
            threads = opened.client.nthreads()
            if not threads:
                raise ValueError(
                    "the cluster has no workers: predict needs at least one running worker"
                )
            pids = opened.client.run(os.getpid)
            history = _scheduler_history(opened.client, history)
        addresses = sorted(threads)
        counts = [int(threads[a]) for a in addresses]
        where = [(get_address_host(a), int(pids[a])) for a in addresses]
    else:
        n = int(options.get("n_workers", 2))
        counts = [int(options.get("threads_per_worker", 1))] * n
        where = [("", i if options.get("processes", True) else 0) for i in range(n)]
    number = {place: i for i, place in enumerate(dict.fromkeys(where))}
    workers: list[list[int]] = []
    processes: list[int] = []
    names: list[tuple[str, str]] = []
    for worker, (count, place) in enumerate(zip(counts, where, strict=True)):
        workers.append(list(range(len(processes), len(processes) + count)))
        for thread in range(count):
            processes.append(number[place])
            names.append((f"worker {worker + 1}", f"thread {thread + 1}"))
    return workers, processes, names, history


def _config_seconds(name: str, default: float) -> float:
    """A distributed scheduler's setting in seconds (``distributed.scheduler.<name>``).

    Read from Dask's config, with distributed's own default when distributed is
    not imported yet (predicting a cluster does not need it).
    """
    import dask
    from dask.utils import parse_timedelta

    setting = dask.config.get(f"distributed.scheduler.{name}", None)
    return default if setting is None else float(parse_timedelta(setting))


def _steal_every() -> float | None:
    """How often a new cluster's scheduler runs work stealing, from Dask's config; None: never."""
    import dask

    if not dask.config.get("distributed.scheduler.work-stealing", True):
        return None
    return _config_seconds("work-stealing-interval", _distributed_model.DEFAULT_STEAL_EVERY)


def _scheduler_history(
    client: Any, fresh: _distributed_model.History
) -> _distributed_model.History:
    """Read what a running scheduler knows; ``fresh`` where it cannot be read."""

    try:
        state = _compat.scheduler_state(client)
    except Exception:  # a scheduler that does not run our code: as if new
        return fresh
    return _distributed_model.History(*state)


def critical_path(obj: Any, durations: Trace | Mapping[Any, float] | None = None) -> float:
    """Return the seconds of work on the longest chain of dependent tasks in ``obj``.

    >>> from schedtutor import slow_arithmetic
    >>> critical_path(slow_arithmetic(delay=0.5))
    1.5
    """
    check_collection(obj)
    table = _table(durations)
    return _model.critical_path(_model.jobs(_model.graph(obj, "sync"), table, "sleep"))


def calibrate(
    scheduler: str = "processes", repeat: int = 3, costs: Costs | None = None, **options: Any
) -> Costs:
    """Measure the machine's costs for ``scheduler`` now; return ``costs`` with them.

    Always: how many CPUs other programs keep busy (:attr:`Costs.background`,
    from the machine's CPU time over a quarter of a second, less our own).
    For processes: a fresh worker process's start-up (from traces of a
    one-task graph), how much later each of two starts when they are spawned
    together (two 0.3 s tasks with ``chunksize=1``), how long a finished task's
    result takes to reach a dependent (a third task waiting for both), and the
    pool's shutdown: about a second per repeat.  For distributed: the start,
    hop and stop latencies, from traces of a short chain on the cluster
    ``options`` describe, and how fast CPU work runs there: alone (one 0.3 s
    task of Python work) and with every worker thread busy (NumPy work, up to
    one task per CPU), which sets the background to what the cluster's own
    processes take from its workers.

    >>> calibrate("threads").background >= 0
    True
    """
    from dask.delayed import delayed

    canonical = check_options(scheduler, options)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a whole number >= 1, got {repeat!r}")
    costs = replace(_costs(costs), background=_background())
    if canonical == "processes":
        one = delayed(_work.do_work)(0.0, "sleep")  # one process spawned on its own
        # two processes spawned together, then a task that waits for both
        two = delayed(list)([delayed(_work.do_work)(0.3, "sleep") for _ in range(2)])
        singles = [trace(one, "processes", **options) for _ in range(repeat)]
        pairs = [trace(two, "processes", **{**options, "chunksize": 1}) for _ in range(repeat)]
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
        )
    if canonical == "distributed":
        with open_scheduler("distributed", **options) as opened:
            traces = [trace(_chain(), "distributed", client=opened.client) for _ in range(repeat)]
            pace, background = _distributed_cpu(opened.client, costs.background)
        hops = [b.start - a.end for t in traces for a, b in zip(t.spans, t.spans[1:], strict=False)]
        return replace(
            costs,
            distributed_start=statistics.median(t.spans[0].start for t in traces),
            distributed_hop=statistics.median(hops),
            distributed_stop=statistics.median(t.seconds - t.spans[-1].end for t in traces),
            distributed_pace=pace,
            background=background,
        )
    return costs


def _distributed_cpu(client: Any, background: float, seconds: float = 0.3) -> tuple[float, float]:
    """Return the pace of CPU work on ``client``'s cluster and the background while it is busy.

    The pace is the CPU time one task of Python work gets per second of its run,
    alone on the cluster.  Then NumPy tasks on as many threads as there are
    CPUs (or fewer, if the cluster has fewer threads): when they run slower
    than that pace, the cluster's own processes (scheduler, nannies, this
    client) take ``CPU_COUNT / share - busy`` CPUs from them, and that becomes
    the background, if larger than the ``background`` measured before.
    """
    from dask.delayed import delayed

    alone = trace(delayed(_work.do_work)(seconds, "python"), "distributed", client=client)
    pace = min(1.0, seconds / alone.spans[0].seconds)
    threads = sum(client.nthreads().values())
    busy = max(1, min(threads, int(CPU_COUNT)))
    together = delayed(list)([delayed(_work.do_work)(seconds, "numpy") for _ in range(busy)])
    spans = [s for s in trace(together, "distributed", client=client).spans if s.name == "do_work"]
    share = min(1.0, seconds / (pace * statistics.mean(s.seconds for s in spans)))
    crowded = int(CPU_COUNT) / share - busy if busy == int(CPU_COUNT) and share < 1 else 0.0
    return pace, max(background, crowded)


def _background(seconds: float = 0.25) -> float:
    """Return how many CPUs other programs keep busy right now.

    The machine's busy CPU time over ``seconds`` of sleeping, less what this
    process and its children (a local cluster's workers, say) used meanwhile,
    divided by the wall time.  Under a tenth of a CPU is the kernel's and the
    system's own chatter, and counts as nothing.  (A busy thread of ours
    timing its own share of a CPU, the earlier way, cannot tell one busy
    thread elsewhere from none on two CPUs, and read contention for our own
    GIL as other programs' load.)
    """
    ours = psutil.Process()
    machine_before, ours_before = _busy(psutil.cpu_times()), _cpu_of(ours)
    wall = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - wall
    machine, own = _busy(psutil.cpu_times()) - machine_before, _cpu_of(ours) - ours_before
    others = (machine - own) / wall
    return others if others >= 0.1 else 0.0


def _busy(times: Any) -> float:
    """The CPU seconds in ``psutil.cpu_times()`` spent doing anything (as cpu_percent counts)."""
    idle = sum(getattr(times, name, 0.0) for name in ("idle", "iowait", "guest", "guest_nice"))
    return float(sum(times)) - idle


def _cpu_of(process: psutil.Process) -> float:
    """The CPU seconds ``process`` and its living children have used so far."""
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            used = each.cpu_times()
        except psutil.Error:  # a child that ended in between
            continue
        total += used.user + used.system
    return total


def _chain(length: int = 5) -> Any:
    from dask.delayed import delayed

    node = delayed(_work.add)(0, 0, 0.0, "sleep")
    for _ in range(length - 1):
        node = delayed(_work.add)(node, 0, 0.0, "sleep")
    return node
