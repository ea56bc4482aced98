"""The discrete-event simulation behind :func:`schedtutor.predict.predict`.

Two parts.  A :class:`Machine` runs *segments* of work on *slots* (a worker
thread, or a worker process's one thread) and knows what they share: each
process has one sleeplock lock and one GIL, and the machine has ``cpus`` CPUs.
Its clock advances from event to event; between events every running segment
progresses at a constant rate:

========  ==========================================================
kind      rate while it runs
========  ==========================================================
sleep     1: sleeping needs nothing
lock      1 once it holds its process's lock; 0 (a lock wait) before
python    its share of the process's GIL, times its share of a CPU, times ``pace``
numpy     its share of a CPU: NumPy's loops release the GIL
import    its share of a CPU: a worker process importing NumPy
========  ==========================================================

where a busy thread's share of a CPU is ``min(1, cpus / (demand +
background))``: ``demand`` counts one busy thread per process running Python
work (they take turns at its GIL), one per running NumPy segment, and
:data:`IMPORT_CPUS` per import of NumPy, and ``background`` the CPUs kept
busy by anything else (0 on a quiet machine).
``pace`` is the share of the GIL's time Python work gets at all: 1 in a local
pool; a little less on a distributed worker, whose own threads (its event
loop, heartbeats) take turns at the GIL; NumPy work, which lets the GIL go,
does not share it with them.

On top, a *driver* decides what runs where and when, like the real scheduler:
:func:`run_local` is ``dask.local.get_async`` (a LIFO ready stack, ``fire_tasks``
with ``num_workers`` and ``chunksize``, one finished batch handled per turn of
the main loop, batches queued first-in first-out to the pool);
:func:`schedtutor._distributed_model.run_distributed` follows the distributed
scheduler's placement (root-ish tasks queued and sent to free workers, others
to a worker holding their dependencies; each worker runs its tasks in priority
order) and its work stealing.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

INF = float("inf")

IMPORT_CPUS = 2
"""The CPUs a worker process importing NumPy keeps busy: its own thread, and the
thread NumPy's BLAS library (OpenBLAS) starts during the import, which spins
until the import is done.  Measured on two CPUs: ``import numpy`` took 0.07-0.1 s
and 0.13-0.19 CPU-seconds alone, 0.1-0.15 s beside a busy CPU, 0.13-0.15 s two at
once; with ``OPENBLAS_NUM_THREADS=1`` its CPU time equalled its wall time."""


def cpu_share(cpus: int, demand: float, background: float = 0.0) -> float:
    """The share of a CPU each of ``demand`` busy threads gets beside ``background`` others."""
    return min(1.0, cpus / (demand + background))


Segment = tuple[Any, float, str]
"""``(key, seconds, kind)``: one original task's work inside a scheduled task."""

SpanRecord = tuple[Any, int, float, float, float]
"""``(key, slot, start, end, lock_wait)``."""


@dataclass
class Job:
    """One task as the scheduler sees it: its priority, its work and its edges."""

    key: Any
    priority: int
    segments: list[Segment]
    dependencies: list[int] = field(default_factory=list)
    dependents: list[int] = field(default_factory=list)
    group: str = ""
    data_producer: bool = False


class _Run:
    """The segments one slot is working through, and the state of the current one.

    ``phase`` is ``"work"`` while a segment works, ``"wake"`` while the slot
    waits for its process's GIL before its first segment, and ``"tail"``
    while it waits for the GIL at the end of a segment that let it go
    (sleeping, or waiting for the sleeplock).
    """

    __slots__ = (
        "done",
        "i",
        "kind",
        "phase",
        "process",
        "rate",
        "remaining",
        "running",
        "segments",
        "slot",
        "start",
        "waited",
    )

    def __init__(self, slot: int, process: int, segments: list[Segment], done: Any) -> None:
        self.slot, self.process, self.segments, self.done = slot, process, segments, done
        self.i = -1
        self.kind, self.remaining, self.rate, self.phase = "sleep", 0.0, 1.0, "work"
        self.running, self.start, self.waited = True, 0.0, 0.0


class Machine:
    """Slots in processes that share locks, GILs and CPUs; an event clock.

    ``switch`` is the GIL's switch interval (``sys.getswitchinterval()``): a
    thread that needs its process's GIL while another thread of the process
    runs Python code gets it only when that thread is made to let it go, up
    to this long later.  ``numpy_share`` is the pace NumPy work keeps then
    (it needs the GIL back after every NumPy call); ``python_share`` the pace
    of Python work in threads that take turns at one GIL.
    """

    def __init__(
        self,
        slot_process: list[int],
        cpus: int,
        background: float = 0.0,
        pace: float = 1.0,
        switch: float = 0.0,
        numpy_share: float = 1.0,
        python_share: float = 1.0,
    ) -> None:
        self.slot_process = slot_process
        self.cpus = max(1, cpus)
        self.background = background
        self.pace = pace
        self.switch = switch
        self.numpy_share = numpy_share
        self.python_share = python_share
        self.now = 0.0
        self.spans: list[SpanRecord] = []
        self._events: list[tuple[float, int, Callable[..., None], Any]] = []
        self._seq = itertools.count()
        self._active: list[_Run] = []
        self._holder: dict[int, _Run | None] = {}
        self._waiters: dict[int, deque[_Run]] = {}
        self._dirty = False

    def at(self, time: float, action: Callable[..., None], arg: Any = None) -> None:
        """Call ``action(arg)`` when the clock reaches ``time``."""
        heapq.heappush(self._events, (time, next(self._seq), action, arg))

    def start(
        self, slot: int, segments: list[Segment], done: Callable[[int], None], wake: bool = False
    ) -> None:
        """Work through ``segments`` on ``slot`` from now; call ``done(slot)`` at the end.

        With ``wake``, the slot's thread was asleep and first takes its process's
        GIL back (a pool thread handed a task).
        """
        run = _Run(slot, self.slot_process[slot], segments, done)
        self._active.append(run)
        if wake and self.python_running(run.process):
            self._wait_for_gil(run, "wake")
        else:
            self._next_segment(run)

    def python_running(self, process: int) -> bool:
        """Whether a thread of ``process`` is running Python work (and so holds its GIL)."""
        return any(
            r.running and r.phase == "work" and r.kind == "python" and r.process == process
            for r in self._active
        )

    def gil_wait(self, process: int | None) -> float:
        """How long a thread of ``process`` waits to take its GIL back now (None: no process
        of ours, as the processes scheduler's main loop)."""
        return self.switch if process is not None and self.python_running(process) else 0.0

    def _wait_for_gil(self, run: _Run, phase: str) -> None:
        run.phase, run.remaining, run.running = phase, self.switch, True
        self._dirty = True

    def _next_segment(self, run: _Run) -> None:
        while True:
            run.i += 1
            if run.i == len(run.segments):
                self._active.remove(run)
                self._dirty = True
                run.done(run.slot)
                return
            key, seconds, kind = run.segments[run.i]
            run.start, run.waited, run.kind, run.remaining = self.now, 0.0, kind, seconds
            run.phase = "work"
            if seconds <= 0:  # do_work(0) returns at once, without taking the lock
                self.spans.append((key, run.slot, self.now, self.now, 0.0))
                continue
            run.running = True
            if kind == "lock":
                if self._holder.get(run.process) is None:
                    self._holder[run.process] = run
                else:
                    run.running = False
                    self._waiters.setdefault(run.process, deque()).append(run)
            self._dirty = True
            return

    def _finish(self, run: _Run) -> None:
        if run.phase == "wake":
            run.phase = "work"
            self._next_segment(run)
            return
        if run.phase == "work" and run.kind in ("sleep", "lock"):
            if self.python_running(run.process):  # it let the GIL go: take it back
                self._wait_for_gil(run, "tail")
                return
        was_python = run.phase == "work" and run.kind == "python"
        key = run.segments[run.i][0]
        self.spans.append((key, run.slot, run.start, self.now, run.waited))
        if run.kind == "lock":
            waiters = self._waiters.get(run.process)
            following = waiters.popleft() if waiters else None
            self._holder[run.process] = following
            if following is not None:
                following.running = True
        self._dirty = True
        self._next_segment(run)
        if was_python and not self.python_running(run.process):
            # the GIL is free: whoever waited for it takes it now
            for other in self._active:
                if other.process == run.process and other.phase != "work":
                    other.remaining = 0.0

    def _rates(self) -> None:
        python: dict[int, int] = {}
        other_cpus = 0  # busy with NumPy work and imports: not counted per GIL as Python is
        for run in self._active:
            if run.phase != "work" or not run.running:
                continue
            if run.kind == "python":
                python[run.process] = python.get(run.process, 0) + 1
            elif run.kind == "numpy":
                other_cpus += 1
            elif run.kind == "import":
                other_cpus += IMPORT_CPUS
        demand = len(python) + other_cpus
        cpu = cpu_share(self.cpus, demand, self.background) if demand else 1.0
        for run in self._active:
            if run.phase != "work":
                run.rate = 1.0
            elif run.kind == "python":
                sharing = python.get(run.process, 1)
                share = self.python_share if sharing > 1 else 1.0
                run.rate = self.pace * cpu / sharing * share
            elif run.kind == "numpy":
                run.rate = cpu * (self.numpy_share if run.process in python else 1.0)
            elif run.kind == "import":
                run.rate = cpu
            else:
                run.rate = 1.0
        self._dirty = False

    def run(self) -> None:
        """Advance the clock until no event and no work is left."""
        events = self._events
        while True:
            if self._dirty:
                self._rates()
            first: _Run | None = None
            t_finish = INF
            for run in self._active:
                if run.running:
                    t = self.now + run.remaining / run.rate
                    if t < t_finish:
                        t_finish, first = t, run
            t_event = events[0][0] if events else INF
            if first is None and not events:
                return
            t = min(t_finish, t_event)
            elapsed = t - self.now
            if elapsed > 0:
                for run in self._active:
                    if run.running:
                        run.remaining -= run.rate * elapsed
                    else:
                        run.waited += elapsed
                self.now = t
            if first is not None and t_finish <= t_event:
                first.remaining = 0.0
                self._finish(first)
            else:
                _, _, action, arg = heapq.heappop(events)
                action(arg)


def run_local(
    jobs: list[Job],
    machine: Machine,
    num_workers: int,
    chunksize: int,
    task_cost: float,
    spawn: float | None = None,
    hop: float = 0.0,
    stagger: float = 0.0,
    main: int | None = 0,
    numpy_import: float = 0.0,
) -> float:
    """Simulate ``dask.local.get_async``; return when its main loop ends.

    A finished batch reaches the main loop ``hop`` seconds after its last task
    ended (its results travel back from a worker process).  The main loop
    runs in process ``main`` (None: none of the slots' processes): each time
    it wakes for a finished batch, it waits for that process's GIL (while a
    worker thread runs Python work there), and so does each pool thread it
    hands a batch to.

    ``spawn`` is ``None`` for a pool whose workers exist already (threads,
    sync); otherwise a worker process is spawned, as ``ProcessPoolExecutor``
    does, when a batch is submitted and no process is idle, and can take
    work ``spawn`` seconds later, plus ``stagger`` for each other process
    starting beside it: processes spawned together compete for the CPUs while
    they import, and all of them start later, not only the last.  Idle worker
    processes wait on the pool's one call queue, the first to wait holding its
    read lock, so the process that has been idle longest takes the next batch
    (``multiprocessing.queues.Queue.get``).  A process
    that has not imported NumPy yet imports it right before the first NumPy
    segment it is handed (the library's NumPy work imports it there): an
    ``import`` segment of ``numpy_import`` seconds at full pace.
    """
    waiting = [len(job.dependencies) for job in jobs]
    roots = [i for i, n in enumerate(waiting) if n == 0]
    ready = sorted(roots, key=lambda i: jobs[i].priority, reverse=True)
    running = 0
    pool: deque[list[int]] = deque()  # submitted batches, first in first out
    completed: deque[list[int]] = deque()
    free_slots: list[int] = [] if spawn is not None else list(range(num_workers))
    spawned = 0 if spawn is not None else num_workers
    ready_at: list[float] = []
    idle = 0
    busy = [False]  # the main loop is handling a batch
    finished = [0.0]
    with_numpy: set[int] = set()  # the processes that have imported NumPy

    def fire() -> list[list[int]]:
        nonlocal running
        used = -(running // -chunksize)
        ntasks = min(len(ready), chunksize * max(num_workers - used, 0))
        fired = [ready.pop() for _ in range(ntasks)]
        running += ntasks
        return [fired[i : i + chunksize] for i in range(0, ntasks, chunksize)]

    def submit(batches: list[list[int]]) -> None:
        nonlocal spawned, idle
        if spawn is not None:
            # the processes this submission spawns start together, each slowed by the others
            new = min(max(len(batches) - idle, 0), num_workers - spawned)
            starting = sum(t > machine.now for t in ready_at) + new
            at = machine.now + spawn + stagger * (starting - 1)
        for batch in batches:
            pool.append(batch)
            if spawn is not None:
                if idle > 0:
                    idle -= 1
                elif spawned < num_workers:
                    ready_at.append(at)
                    machine.at(at, slot_free, spawned)
                    spawned += 1
        dispatch()

    def dispatch() -> None:
        while pool and free_slots:
            batch = pool.popleft()
            if spawn is None:  # threads share one process: which one changes no time
                slot = min(free_slots)
                free_slots.remove(slot)
            else:  # the worker process that has waited longest on the pool's queue
                slot = free_slots.pop(0)
            segments = [s for i in batch for s in jobs[i].segments]
            process = machine.slot_process[slot]
            if numpy_import > 0 and process not in with_numpy:
                first = next((n for n, s in enumerate(segments) if s[2] == "numpy"), None)
                if first is not None:  # the import: no task of its own, no span
                    segments.insert(first, (None, numpy_import, "import"))
                    with_numpy.add(process)
            machine.start(slot, segments, partial(batch_done, batch=batch), wake=True)

    def slot_free(slot: int) -> None:
        free_slots.append(slot)
        dispatch()

    def batch_done(slot: int, *, batch: list[int]) -> None:
        slot_free(slot)
        if hop > 0:
            machine.at(machine.now + hop, returned, batch)
        else:
            returned(batch)

    def returned(batch: list[int]) -> None:
        nonlocal idle
        idle += 1
        completed.append(batch)
        if not busy[0]:
            step()

    def step(_: Any = None) -> None:
        nonlocal running
        batch = completed.popleft()
        running -= len(batch)
        for i in batch:
            newly = [d for d in jobs[i].dependents if release(waiting, d)]
            ready.extend(sorted(newly, key=lambda d: jobs[d].priority, reverse=True))
        batches = fire()
        busy[0] = True
        handled = task_cost * (len(batch) + sum(map(len, batches)))
        machine.at(machine.now + machine.gil_wait(main) + handled, after, batches)

    def after(batches: list[list[int]]) -> None:
        busy[0] = False
        finished[0] = machine.now
        submit(batches)  # a batch that ends at once may have started the next step
        if completed and not busy[0]:
            step()

    first = fire()
    busy[0] = True
    machine.at(task_cost * sum(map(len, first)), after, first)
    machine.run()
    return finished[0]


def release(waiting: list[int], job: int) -> bool:
    waiting[job] -= 1
    return waiting[job] == 0
