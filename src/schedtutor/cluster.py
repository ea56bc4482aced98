"""Look inside a distributed cluster: where its parts run, and what its task stream recorded.

A ``distributed`` cluster is made of a *scheduler*, which decides where each
task runs, and *workers*, which run them in threads of their own; a worker
started by ``LocalCluster(processes=True)`` or ``dask worker`` (without
``--no-nanny``) has a *nanny* too, which starts the worker's process and
watches it.  Where each part runs depends on how the cluster was started: a
``LocalCluster`` creates its scheduler, and its nannies, inside the process
that created it; ``dask scheduler`` and ``dask worker`` are processes of
their own.  :func:`layout` asks a running cluster, through its ``Client``,
where each part runs:

>>> from schedtutor import local_cluster
>>> with local_cluster(n_workers=1, processes=False) as client:
...     parts = layout(client)
>>> [(part.name, part.here) for part in parts.parts]
[('scheduler', True), ('worker 1', True)]

The scheduler also records, for every task that finishes, what the worker
that ran it did and when: ``compute`` for running the task, ``transfer`` for
fetching an input from another worker, with times measured on the worker.
``distributed.get_task_stream`` collects these records for the computes in
its block; :func:`task_stream` turns them into a :class:`TaskStream` that
shows itself as a table and gives the compute records as
:class:`~schedtutor.trace.TaskSpan` records for
:func:`~schedtutor.timeline.plot_timelines`.

Workers are named ``worker 1``, ``worker 2``, ... in the order of their
addresses (:func:`worker_names`), the same in both: a row of the layout and a
record of the stream that name the same worker name it the same way.  No
address, host name or process id is shown: processes are ``this process`` or
``process 1``, ``process 2``, ... in order of appearance.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dask.utils import key_split

from schedtutor.tables import Table
from schedtutor.trace import TaskSpan

__all__ = ["Layout", "Part", "StreamStep", "TaskStream", "layout", "task_stream", "worker_names"]

ROLES = ("scheduler", "nanny", "worker")

Answer = tuple[str, int, int, str, str]
"""What a part answers: host name, process id, parent's process id, thread name, and (a
nanny) its worker's address."""
"""The parts of a cluster, in the order :func:`layout` lists them."""


def worker_names(addresses: Iterable[str]) -> dict[str, str]:
    """Name each worker address ``worker 1``, ``worker 2``, ... in sorted order.

    >>> worker_names(["tcp://127.0.0.1:4002", "tcp://127.0.0.1:4001"])
    {'tcp://127.0.0.1:4001': 'worker 1', 'tcp://127.0.0.1:4002': 'worker 2'}
    """
    return {address: f"worker {i}" for i, address in enumerate(sorted(set(addresses)), 1)}


@dataclass(frozen=True)
class Part:
    """One part of a cluster and where it runs.

    ``process`` names the process it runs in for a reader (``this process``,
    ``process 1``, ...); ``here`` says whether that is the calling process;
    ``thread`` is the name of the thread its event loop runs in; ``threads``
    is how many threads a worker runs tasks in (0 for the other parts);
    ``pid`` and ``parent_pid`` are the ids of its process and of the process
    that started it, on its own machine (never shown).
    """

    role: str
    name: str
    process: str
    here: bool
    thread: str
    threads: int = 0
    pid: int = 0
    parent_pid: int = 0


@dataclass(frozen=True)
class Layout:
    """Where the parts of a cluster run: what :func:`layout` returns.

    >>> parts = Layout((
    ...     Part("scheduler", "scheduler", "this process", True, "IO loop"),
    ...     Part("worker", "worker 1", "process 1", False, "MainThread", 1),
    ...     Part("worker", "worker 2", "process 2", False, "MainThread", 1),
    ... ))
    >>> parts.worker_processes, parts.threads
    (2, [1, 1])
    >>> print(parts)
    part       process       in this process  event loop thread  task threads
    scheduler  this process  yes              IO loop
    worker 1   process 1     no               MainThread         1
    worker 2   process 2     no               MainThread         1
    """

    parts: tuple[Part, ...]

    @property
    def scheduler(self) -> Part:
        """The scheduler."""
        return next(part for part in self.parts if part.role == "scheduler")

    @property
    def workers(self) -> list[Part]:
        """The workers, ``worker 1`` first."""
        return [part for part in self.parts if part.role == "worker"]

    @property
    def nannies(self) -> list[Part]:
        """The nannies (none for workers started without one)."""
        return [part for part in self.parts if part.role == "nanny"]

    @property
    def threads(self) -> list[int]:
        """How many task threads each worker has."""
        return [part.threads for part in self.workers]

    @property
    def worker_processes(self) -> int:
        """How many processes the workers run in."""
        return len({part.process for part in self.workers})

    def table(self) -> Table:
        """Return the layout as a :class:`~schedtutor.tables.Table`, one row a part."""
        return Table(
            ("part", "process", "in this process", "event loop thread", "task threads"),
            [
                (p.name, p.process, "yes" if p.here else "no", p.thread, p.threads or None)
                for p in self.parts
            ],
        )

    def _repr_markdown_(self) -> str:
        return self.table().to_markdown()

    def __str__(self) -> str:
        return str(self.table())


def layout(client: Any) -> Layout:
    """Ask the cluster of ``client`` where its scheduler, nannies and workers run.

    The question is a small function run on the scheduler
    (``Client.run_on_scheduler``), on every worker and on every nanny
    (``Client.run``); it is pickled by value, so the cluster need not have
    schedtutor installed.  A part runs in this process when it answers with
    this machine's host name and this process's id.
    """
    from distributed import Client

    if not isinstance(client, Client):
        raise TypeError(f"layout needs a distributed.Client, got {type(client).__name__}")

    def whereabouts(dask_worker: Any = None) -> Answer:
        import os
        import socket
        import threading

        worker = getattr(dask_worker, "worker_address", None) or ""  # a nanny's worker
        here = threading.current_thread().name
        return socket.gethostname(), os.getpid(), os.getppid(), here, worker

    def scheduler_whereabouts() -> Answer:
        import os
        import socket
        import threading

        here = threading.current_thread().name
        return socket.gethostname(), os.getpid(), os.getppid(), here, ""

    nthreads = client.nthreads()
    answers: list[tuple[str, str, Answer]] = [
        ("scheduler", "", tuple(client.run_on_scheduler(scheduler_whereabouts)))
    ]
    try:
        nannies = client.run(whereabouts, nanny=True)
    except Exception:  # workers without nannies answer nothing, or the call is refused
        nannies = {}
    answers += [("nanny", answer[-1], tuple(answer)) for answer in nannies.values()]
    workers = client.run(whereabouts)
    answers += [("worker", address, tuple(answer)) for address, answer in workers.items()]
    return _layout(answers, nthreads, (socket.gethostname(), os.getpid()))


def _layout(
    answers: Sequence[tuple[str, str, Answer]],
    nthreads: Mapping[str, int],
    here: tuple[str, int],
) -> Layout:
    """Build the :class:`Layout` from each part's answer: (role, worker address, whereabouts)."""
    names = worker_names(address for role, address, _ in answers if role == "worker")
    numbers: dict[tuple[str, int], str] = {}
    parts: list[Part] = []
    order = {role: i for i, role in enumerate(ROLES)}
    ranked = sorted(answers, key=lambda a: (order[a[0]], names.get(a[1], a[1])))
    for role, address, (host, pid, parent, thread, _) in ranked:
        place = (host, int(pid))
        if place == here:
            process = "this process"
        else:
            process = numbers.setdefault(place, f"process {len(numbers) + 1}")
        worker = names.get(address, "a worker")
        name = {"scheduler": "scheduler", "worker": worker}.get(role, f"nanny of {worker}")
        threads = int(nthreads.get(address, 0)) if role == "worker" else 0
        parts.append(
            Part(role, name, process, place == here, str(thread), threads, int(pid), int(parent))
        )
    return Layout(tuple(parts))


@dataclass(frozen=True)
class StreamStep:
    """One record of a task stream: a worker computing a task, or fetching one of its inputs.

    ``start`` and ``stop`` are seconds from the stream's first record;
    ``thread`` is the worker thread's id (compute records), or empty.
    """

    task: str
    key: str
    action: str
    worker: str
    start: float
    stop: float
    thread: str = ""

    @property
    def seconds(self) -> float:
        """How long the step lasted."""
        return self.stop - self.start


@dataclass(frozen=True)
class TaskStream:
    """The records of a task stream, in the order they started: what :func:`task_stream` returns.

    ``addresses`` maps each worker's name back to its address (kept for
    :meth:`spans`, never shown).
    """

    steps: tuple[StreamStep, ...]
    addresses: Mapping[str, str]

    def computes(self) -> dict[str, StreamStep]:
        """Return the compute records by task name (the last, if two tasks share a name)."""
        return {step.task: step for step in self.steps if step.action == "compute"}

    def transfers(self) -> list[StreamStep]:
        """Return the transfer records: a worker fetching a task's input from another."""
        return [step for step in self.steps if step.action == "transfer"]

    def spans(self) -> tuple[TaskSpan, ...]:
        """Return the compute records as :class:`~schedtutor.trace.TaskSpan` records."""
        return tuple(
            TaskSpan(s.key, s.task, self.addresses[s.worker], s.thread, s.start, s.stop)
            for s in self.steps
            if s.action == "compute"
        )

    def table(self) -> Table:
        """Return the records as a :class:`~schedtutor.tables.Table`, seconds to 3 decimals."""
        return Table(
            ("task", "action", "worker", "start s", "stop s"),
            [(f"`{s.task}`", s.action, s.worker, s.start, s.stop) for s in self.steps],
            digits=3,
        )

    def _repr_markdown_(self) -> str:
        return self.table().to_markdown()

    def __str__(self) -> str:
        return str(self.table())


def task_stream(records: Iterable[Mapping[str, Any]]) -> TaskStream:
    """Return the records of ``distributed.get_task_stream`` as a :class:`TaskStream`.

    Times become seconds from the earliest start among the records; workers
    are named as :func:`worker_names` names them.

    >>> records = [
    ...     {"key": "add-1", "worker": "tcp://127.0.0.1:4001", "thread": 7,
    ...      "startstops": [{"action": "compute", "start": 100.0, "stop": 100.5}]},
    ...     {"key": "mul-1", "worker": "tcp://127.0.0.1:4002", "thread": 8,
    ...      "startstops": [{"action": "transfer", "start": 100.5, "stop": 100.502},
    ...                     {"action": "compute", "start": 100.503, "stop": 101.0}]},
    ... ]
    >>> print(task_stream(records))
    task   action    worker    start s  stop s
    `add`  compute   worker 1  0.000    0.500
    `mul`  transfer  worker 2  0.500    0.502
    `mul`  compute   worker 2  0.503    1.000
    """
    records = list(records)
    for record in records:
        if not isinstance(record, Mapping) or not {"key", "worker", "startstops"} <= set(record):
            raise TypeError(
                "expected the records of distributed.get_task_stream (mappings with key, "
                f"worker and startstops), got {type(record).__name__}"
            )
    names = worker_names(str(r["worker"]) for r in records)
    t0 = min((ss["start"] for r in records for ss in r["startstops"]), default=0.0)
    steps = sorted(
        (
            StreamStep(
                key_split(r["key"]),
                str(r["key"]),
                str(ss["action"]),
                names[str(r["worker"])],
                float(ss["start"]) - t0,
                float(ss["stop"]) - t0,
                str(r.get("thread", "")) if ss["action"] == "compute" else "",
            )
            for r in records
            for ss in r["startstops"]
        ),
        key=lambda s: (s.start, s.stop),
    )
    return TaskStream(tuple(steps), {name: address for address, name in names.items()})
