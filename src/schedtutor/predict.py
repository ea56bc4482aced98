"""Predict how long a graph takes under a scheduler, and when each task runs.

:func:`predict` answers before anything runs.  It does not just add up the
critical path: it replays the scheduler's own policy on the graph, in a
discrete-event simulation (:mod:`schedtutor._simulate`), and returns a
:class:`Prediction` with the predicted wall time, predicted
:class:`~schedtutor.trace.TaskSpan` s (so :func:`schedtutor.timeline.plot_timeline`
draws a prediction like a trace) and the critical path.

>>> from schedtutor import slow_arithmetic
>>> graph = slow_arithmetic(delay=0.1)  # four ops that sleep holding one lock
>>> [round(predict(graph, s).seconds, 2) for s in ("sync", "threads")]
[0.4, 0.4]
>>> 0.3 < predict(graph, "distributed").seconds < 0.4  # two processes: two locks
True
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
each other down); idle worker processes wait on the pool's one queue, and
the one that has waited longest takes the next batch; a finished batch
reaches the main loop :attr:`~Costs.process_hop` later; shutting the pool
down costs :attr:`~Costs.process_stop`.

**Distributed** (:func:`schedtutor._distributed_model.run_distributed`):
``n_workers`` x ``threads_per_worker`` threads (2 x 1 by default, or read
from ``client``/``address``); the scheduler's placement -- a task goes to the
worker holding one of its dependencies where it would start first, counting
the inputs each worker has yet to fetch for the tasks it holds (then the one
holding fewer results), a task without any round
robin to an empty worker, a *root-ish* task (of a large group) waits in the
scheduler's queue for a free worker -- and each worker runs what it holds in
priority order, once it holds the task's inputs too (fetching one from another
worker takes a hop, while a ready task of lower priority may start); a task
starts :attr:`Costs.distributed_hop` after its last dependency ended;
``processes=False`` puts every worker in one process.  The tasks without
dependencies are placed in the order the scheduler reaches
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
not started to an idle worker, level by level of the task's cost against
its transfer, trying the busy worker's tasks in the order of the set it
keeps them in; a task already running is refused, and a task asked for
leaves the set either way.  A scheduler in this process (a local cluster)
iterates that set as the model's own set of the same keys does; for one
elsewhere the order follows hashes seeded in another process, and the model
tries shuffled orders.  When the run starts on the stealing clock is not
known (a cluster yet to start), so where a steal is possible the model
replays the graph at 24 evenly spread phases of the clock:
:attr:`Prediction.seconds` is the median of those runs,
:attr:`Prediction.outcomes` all of them; a running cluster's next balance is
read from it.

**What runs side by side.**  Each process has one sleeplock lock (threads of
one process take turns) and one GIL (its Python work shares one CPU); NumPy
work and sleeping run in parallel; CPU work shares ``CPU_COUNT`` CPUs with
the :attr:`Costs.background` CPUs that other programs keep busy, each busy
thread getting ``min(1, CPU_COUNT / (ours + background))`` of a CPU; Python
work on a distributed worker gets :attr:`Costs.distributed_pace` of that (the
worker's own event loop takes turns at its GIL; NumPy work lets the GIL go).
A worker process that has not imported NumPy imports it right before its
first NumPy work (:attr:`Costs.process_numpy`), and keeps two CPUs busy
meanwhile (NumPy's BLAS library starts a thread that spins until the import
is done): alone on two CPUs it takes that long, beside a busy CPU or another
import longer, and the work beside it slows too.

**The costs** are the machine's, not the graph's: :data:`DEFAULT_COSTS` are
those of a quiet 2-CPU Linux machine; :func:`calibrate` measures them here and
now, from traces of tiny graphs.

**Not modelled**: the run-to-run variation of the spawn pool's start-up
(large when other programs load the machine, and, on a shared virtual
machine, from one stretch of minutes to the next even when it is idle:
the costs :func:`~schedtutor.calibration.machine_costs` measured once and
kept cannot follow it); imports a task makes while it
runs (those of its function's module and its arguments' types are, by
:mod:`schedtutor._spawn`, and NumPy's, above); BLAS settings that keep NumPy
from starting threads (``OPENBLAS_NUM_THREADS=1``: the import then keeps one
CPU busy, not two); the stalls of threads
taking turns at one GIL when other programs keep the CPUs busy (a thread the system pauses while it
holds the GIL holds up the others of its process, so two threads of NumPy
work beside a busy program get less than their share of the CPUs); the
distributed scheduler's memory limits, and the time to move a large input to
another worker (every result is taken to be small: fetching it, for a stolen
task too, costs one round trip); the order of the
tasks without dependencies when the scheduler runs in another process (a
set's order follows the keys' hashes, seeded per process); which of two
equally good workers gets a task when their hashes share a slot of a small
set (the order then follows insertion) or when two results reach the
scheduler within a millisecond (either may come first); the GIL that Dask's
own threads need beyond what :attr:`Costs.distributed_pace` measures on a
distributed worker; and which of :attr:`Prediction.outcomes` a compute on a
running cluster takes: the model picks one from when the cluster's next
stealing balance is due, and a run can take another
(:attr:`Prediction.fastest` and :attr:`Prediction.slowest` bound them).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dask.system import CPU_COUNT
from dask.utils import key_split

from schedtutor import _cluster, _distributed_model, _model, _simulate, _spawn
from schedtutor._base import check_collection, gc_paused, label
from schedtutor.calibration import (
    DEFAULT_COSTS,
    Costs,
    calibrate,
    check_background,
    check_costs,
    machine_costs,
)
from schedtutor.ops import check_work
from schedtutor.schedulers import check_options
from schedtutor.trace import TaskSpan, Trace, overlap

__all__ = ["DEFAULT_COSTS", "Costs", "Prediction", "calibrate", "critical_path", "predict"]


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
    work: str | Mapping[str, str] = "sleep",
    costs: Costs | None = None,
    background: float | None = None,
    **options: Any,
) -> Prediction:
    """Predict the wall time and the task spans of computing ``obj`` under ``scheduler``.

    ``options`` are those of :func:`schedtutor.timing.run`.  Tasks that are not the
    library's ops need ``durations`` (a sync :class:`~schedtutor.trace.Trace`
    of ``obj``, or ``{key: seconds}``) and are taken to do work of kind
    ``work``: one kind for all of them, or a mapping from a task's name (its
    key's prefix, as :attr:`TaskSpan.name <schedtutor.trace.TaskSpan.name>`
    shows it) to its kind, ``"sleep"`` for names it leaves out.  ``costs``
    are the machine's fixed costs; by default this machine's
    (:func:`schedtutor.calibration.machine_costs`: measured the first time a
    scheduler's costs are needed, then remembered).  ``background`` is how
    many CPUs other programs keep busy meanwhile (:attr:`Costs.background`;
    a :class:`schedtutor.load.Load`'s ``others``, measured while the graph
    ran): CPU work is predicted at the pace the CPUs they leave allow.

    >>> from schedtutor import slow_arithmetic
    >>> prediction = predict(slow_arithmetic(delay=0.01, work="sleep"), "threads", num_workers=2)
    >>> round(prediction.seconds, 2), prediction.overlap("add", "sub") > 0
    (0.03, True)
    """
    check_collection(obj)
    canonical = check_options(scheduler, options)
    kinds = _kinds(work)
    table = _table(durations)
    if canonical == "distributed":  # first: a cluster that does not answer fails at once
        cluster = _cluster.layout(options)
    asked = time.perf_counter()
    costs = check_costs(costs) if costs is not None else machine_costs(canonical)
    if background is not None:
        costs = replace(costs, background=check_background(background))
    if canonical == "distributed" and time.perf_counter() - asked > 0.5:
        # the costs were measured just now (seconds): read the running cluster again, as
        # its next work-stealing balance is timed from when it was read
        cluster = _cluster.layout(options)
    with gc_paused():
        dsk = _model.graph(obj, canonical, options.get("optimize_graph", True))
        jobs = _model.jobs(dsk, table, kinds)
        if canonical == "distributed":
            machine, names, seconds, outcomes = _run_distributed(jobs, cluster, costs)
        else:
            numpy_import = 0.0
            if canonical == "processes":  # this program's and this graph's imports
                needed = _spawn.modules(dsk)
                start, stop = _spawn.extra(needed)
                if any(kind == "numpy" for job in jobs for _, _, kind in job.segments):
                    # NumPy work imports NumPy where it runs, unless a module did already;
                    # a worker that imported it also takes longer to exit
                    _, stop = _spawn.extra(needed | {"numpy"})
                    numpy_import = 0.0 if _spawn.has_numpy(needed) else costs.process_numpy
                costs = replace(
                    costs,
                    process_start=costs.process_start + start,
                    process_stop=costs.process_stop + stop,
                )
            machine, names, seconds = _run_local(jobs, canonical, options, costs, numpy_import)
            outcomes = (seconds,)
        spans = sorted(
            (
                TaskSpan(key, key_split(key), *names[slot], start, end, waited)
                for key, slot, start, end, waited in machine.spans
                if key is not None  # an alias: no span in a trace either
            ),
            key=_by_start,
        )
        longest = _model.critical_path(jobs)
    return Prediction(seconds, tuple(spans), longest, canonical, dict(options), outcomes)


def _by_start(span: TaskSpan) -> tuple[float, float]:
    return (span.start, span.end)


def _kinds(work: object) -> _model.Kinds:
    """Return the simulation's kind of segment for a task that is not a library op."""
    if isinstance(work, str):
        return _model.Kinds(_model.KINDS[check_work(work)])
    if isinstance(work, Mapping):
        by_name = {}
        for name, kind in work.items():
            if not isinstance(name, str):
                raise TypeError(f"work's keys must be task names (str), got {name!r}")
            by_name[name] = _model.KINDS[check_work(kind)]
        return _model.Kinds("sleep", by_name)
    raise TypeError(
        "work must be a kind of work ('sleep', 'python', ...) or a mapping of task name to "
        f"kind, got {type(work).__name__}: {work!r}"
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


def _run_distributed(
    jobs: list[_simulate.Job], cluster: _cluster.Layout, costs: Costs
) -> tuple[_simulate.Machine, list[tuple[str, str]], float, tuple[float, ...]]:
    """Simulate the distributed scheduler on ``cluster``; return the median run's machine,
    the slots' names, its seconds and every outcome work stealing makes possible."""

    def simulate(clock: _distributed_model.StealClock | None) -> _distributed_model.Run:
        machine = _machine(cluster.processes, costs, costs.distributed_pace)
        machine.background += costs.distributed_cpus
        return _distributed_model.run_distributed(
            jobs, machine, cluster.workers, costs.distributed_start, costs.distributed_hop,
            costs.distributed_task, history=cluster.history, clock=clock,
            scheduler_process=cluster.scheduler_process,
        )  # fmt: skip

    history = cluster.history
    first = None
    if history.steal_next is not None and history.steal_every:
        # the compute is taken to start now, as the prediction returns
        first = (history.steal_next - (time.perf_counter() - history.read_at)) % history.steal_every
    likeliest, runs = _distributed_model.possible_runs(
        simulate, history.steal_every, first, shuffled=not history.same_hashes
    )
    outcomes = tuple(run.end + costs.distributed_stop for run in runs)
    return likeliest.machine, cluster.names, likeliest.end + costs.distributed_stop, outcomes


def _run_local(
    jobs: list[_simulate.Job],
    canonical: str,
    options: Mapping[str, Any],
    costs: Costs,
    numpy_import: float = 0.0,
) -> tuple[_simulate.Machine, list[tuple[str, str]], float]:
    """Simulate sync, threads or processes; return the machine, the slots' names, the seconds.

    ``numpy_import`` is what a worker process spends importing NumPy before its
    first NumPy work (processes only).
    """
    workers = 1 if canonical == "sync" else _setting(options, "num_workers", int(CPU_COUNT))
    chunksize = _setting(options, "chunksize", 6 if canonical == "processes" else 1)
    if canonical == "processes":
        machine = _machine(list(range(workers)), costs)
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
            main=None,  # the main loop is in a process of its own
            numpy_import=numpy_import,
        )
        return machine, names, end + costs.process_stop
    machine = _machine([0] * workers, costs)
    names = [("process 1", f"thread {i + 1}") for i in range(workers)]
    task_cost = costs.sync_task if canonical == "sync" else costs.local_task
    return machine, names, _simulate.run_local(jobs, machine, workers, chunksize, task_cost)


def _machine(slot_process: list[int], costs: Costs, pace: float = 1.0) -> _simulate.Machine:
    """The simulated machine: this many CPUs, these costs, this process's GIL switch interval."""
    return _simulate.Machine(
        slot_process,
        int(CPU_COUNT),
        costs.background,
        pace,
        switch=sys.getswitchinterval(),
        numpy_share=costs.numpy_beside_python,
        python_share=costs.python_shared,
    )


def _setting(options: Mapping[str, Any], name: str, default: int) -> int:
    """Return a local scheduler's setting as Dask resolves it: argument, config, default."""
    import dask

    return int(options.get(name) or dask.config.get(name, None) or default)


def critical_path(obj: Any, durations: Trace | Mapping[Any, float] | None = None) -> float:
    """Return the seconds of work on the longest chain of dependent tasks in ``obj``.

    >>> from schedtutor import slow_arithmetic
    >>> critical_path(slow_arithmetic(delay=0.5))
    1.5
    """
    check_collection(obj)
    table = _table(durations)
    with gc_paused():
        return _model.critical_path(_model.jobs(_model.graph(obj, "sync"), table, _model.Kinds()))
