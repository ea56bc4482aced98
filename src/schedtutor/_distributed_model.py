"""The distributed scheduler, simulated on a :class:`schedtutor._simulate.Machine`.

:func:`run_distributed` places tasks as ``distributed.scheduler`` does
(``decide_worker_non_rootish``, ``decide_worker_rootish_queuing_enabled``,
``is_rootish`` with the default thresholds and ``worker-saturation`` 1.1), lets
each worker run what it holds in priority order, and adds the round trips
through the scheduler as fixed latencies.  Work stealing is left out: on the
small graphs of the lessons it moved a task, when it did, about when the
task would have started anyway; only where independent tasks of unequal
length are badly paired can it shorten a run, when it acts in time.

Where the scheduler's choice depends on its state, the model follows that
state too (:class:`History`): a running cluster places a graph's first tasks
round robin from the number of tasks it has placed so far, and estimates a
task's duration from what tasks of its prefix took before (half a second
for a prefix it has not seen).  The tasks without dependencies reach the
scheduler in the order of :func:`submission_order`.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

from dask.utils import key_split

from schedtutor._simulate import Job, Machine, release

__all__ = ["History", "run_distributed", "submission_order"]


@dataclass(frozen=True)
class History:
    """What a distributed scheduler knows before a graph arrives: where it places tasks.

    A new cluster knows nothing; a running one has a count and a memory.
    """

    tasks_placed: int = 0
    """``Scheduler.n_tasks``: tasks sent to workers so far.  Among idle workers a
    task without dependencies goes round robin, starting at this count."""
    durations: Mapping[str, float] = field(default_factory=dict)
    """Each task prefix's ``duration_average`` (seconds), for the prefixes seen."""
    unknown: float = 0.5
    """``distributed.scheduler.unknown-task-duration``: the estimate for a prefix not seen."""


def run_distributed(
    jobs: list[Job],
    machine: Machine,
    workers: list[list[int]],
    start: float,
    hop: float,
    task_cost: float,
    saturation: float = 1.1,
    history: History | None = None,
) -> float:
    """Simulate the distributed scheduler's placement; return when the last task ends.

    ``workers`` lists each worker's slots (threads).  Following
    ``distributed.scheduler``: a *root-ish* task (one of a group of more than
    twice as many tasks as there are threads, with few dependency groups) is
    queued on the scheduler and sent to the least busy worker with a free
    slot (``ceil(saturation * nthreads)`` tasks per worker); another task goes
    to the least occupied worker among those holding its dependencies (or,
    with none, any worker, round robin), occupancy counting each task at the
    scheduler's estimate: its prefix's average so far, updated as tasks end
    (``history`` says what the scheduler knew before).  Each worker
    runs what it was sent in priority order.  A task reaches its worker
    ``hop`` seconds after its last dependency ended (``start`` for the
    first); the scheduler sends at most one task per ``task_cost`` seconds.
    """
    history = history or History()
    threads = sum(map(len, workers))
    owner = {slot: w for w, slots in enumerate(workers) for slot in slots}
    prefix = [key_split(job.key) for job in jobs]
    learned = dict(history.durations)
    rootish = _rootish(jobs, threads)
    waiting = [len(job.dependencies) for job in jobs]
    where = [0] * len(jobs)
    processing = [0] * len(workers)
    prefix_count: list[Counter[str]] = [Counter() for _ in workers]  # tasks sent, by prefix
    started: dict[int, float] = {}
    limit = [max(-(-saturation * len(slots) // 1), 1) for slots in workers]
    queued: list[tuple[int, int]] = []
    sent_to: list[list[tuple[int, int]]] = [[] for _ in workers]
    free = [list(slots) for slots in workers]
    sent, last, count = [0.0], [0.0], [history.tasks_placed]

    def occupancy(w: int) -> float:  # Scheduler._calc_occupancy
        return sum(learned.get(p, history.unknown) * n for p, n in prefix_count[w].items())

    def arrive(indices: list[int]) -> None:
        submit(sorted(indices, key=lambda i: jobs[i].priority))

    def submit(indices: list[int]) -> None:
        for i in indices:
            if rootish[i]:
                heapq.heappush(queued, (jobs[i].priority, i))
            else:
                send(i, _pick(i))
        dequeue()

    def _pick(i: int) -> int:
        holders = sorted({where[d] for d in jobs[i].dependencies})
        if holders:
            return min(holders, key=lambda w: occupancy(w) / len(workers[w]))
        idle = [w for w in range(len(workers)) if processing[w] < len(workers[w])]
        pool = idle or list(range(len(workers)))
        best = min(pool, key=occupancy)
        if occupancy(best) == 0:  # distributed's round robin among empty workers
            first = count[0] % len(pool)
            best = next(w for w in pool[first:] + pool[:first] if occupancy(w) == 0)
        return best

    def dequeue() -> None:
        while queued:
            open_ = [w for w in range(len(workers)) if processing[w] < limit[w]]
            if not open_:
                return
            _, i = heapq.heappop(queued)
            send(i, min(open_, key=lambda w: processing[w] / len(workers[w])))

    def send(i: int, w: int) -> None:
        processing[w] += 1
        prefix_count[w][prefix[i]] += 1
        count[0] += 1
        sent[0] = max(machine.now, sent[0]) + task_cost
        machine.at(sent[0], land, (w, i))

    def land(arg: tuple[int, int]) -> None:
        w, i = arg
        heapq.heappush(sent_to[w], (jobs[i].priority, i))
        work(w)

    def work(w: int) -> None:
        while free[w] and sent_to[w]:
            _, i = heapq.heappop(sent_to[w])
            slot = min(free[w])
            free[w].remove(slot)
            started[i] = machine.now
            machine.start(slot, jobs[i].segments, partial(done, i=i))

    def done(slot: int, *, i: int) -> None:
        w = owner[slot]
        last[0] = machine.now
        where[i] = w
        processing[w] -= 1
        prefix_count[w][prefix[i]] -= 1
        took = machine.now - started.pop(i)  # TaskPrefix.add_duration
        old = learned.get(prefix[i])
        learned[prefix[i]] = took if old is None else 0.5 * took + 0.5 * old
        free[w].append(slot)
        newly = [d for d in jobs[i].dependents if release(waiting, d)]
        if newly:
            machine.at(machine.now + hop, arrive, newly)
        dequeue()
        work(w)

    machine.at(start, submit, submission_order(jobs))
    machine.run()
    return last[0]


def _rootish(jobs: list[Job], threads: int) -> list[bool]:
    """Return which tasks ``distributed.Scheduler.is_rootish`` calls root-ish."""
    size: dict[str, int] = {}
    for job in jobs:
        size[job.group] = size.get(job.group, 0) + 1
    needs: dict[str, set[str]] = {}
    for job in jobs:
        needs.setdefault(job.group, set()).update(jobs[d].group for d in job.dependencies)
    return [
        job.data_producer
        or (
            size[job.group] > 2 * threads
            and len(needs[job.group]) < 5  # distributed.scheduler.rootish-taskgroup
            and sum(size[g] for g in needs[job.group]) < 5  # ...-taskgroup-dependencies
        )
        for job in jobs
    ]


def submission_order(jobs: list[Job]) -> list[int]:
    """Return the tasks without dependencies in the order the scheduler reaches them.

    ``Scheduler.update_graph`` recommends the graph's outputs for "waiting".
    Each such transition recommends the task's released dependencies, in the
    iteration order of ``TaskState.dependencies`` -- a set, filled from the task
    spec's frozenset of keys -- and recommendations are taken last in, first
    out.  A task without dependencies goes on to "processing", to a worker, as
    soon as it is reached.  A set's order follows its keys' hashes, which
    Python seeds per process: this is the order of a scheduler in this process
    (a local cluster; on 30 graphs of the benchmark's "uneven" shape, recorded
    with a scheduler plugin in distributed 2026.8, the same order every time),
    and only a guess for one elsewhere.
    """
    outputs = sorted(
        (i for i, job in enumerate(jobs) if not job.dependents),
        key=lambda i: jobs[i].priority,
        reverse=True,
    )
    recommendations = dict.fromkeys(outputs, "waiting")
    state = ["released"] * len(jobs)
    reached: list[int] = []
    while recommendations:
        i, finish = recommendations.popitem()
        if finish == "waiting" and state[i] == "released":
            state[i] = "waiting"
            # jobs[i].dependencies is in the order of the task spec's frozenset
            new = {d: "waiting" for d in jobs[i].dependencies if state[d] == "released"}
            if not jobs[i].dependencies:
                new[i] = "processing"
            recommendations.update(new)
        elif finish == "processing" and state[i] == "waiting":
            state[i] = "processing"
            reached.append(i)
    return reached
