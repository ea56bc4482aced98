"""The distributed scheduler, simulated on a :class:`schedtutor._simulate.Machine`.

:func:`run_distributed` places tasks as ``distributed.scheduler`` does
(``decide_worker_non_rootish``, ``decide_worker_rootish_queuing_enabled``,
``is_rootish`` with the default thresholds and ``worker-saturation`` 1.1), lets
each worker run what it holds in priority order, and adds the round trips
through the scheduler as fixed latencies.  Work stealing is left out: on the
small graphs of the lessons it moved a task, when it did, about when the
task would have started anyway.  Tasks that become ready together are placed
here in priority order; the real scheduler reaches them through a set of
dependencies, in an order that changes from run to run.
"""

from __future__ import annotations

import heapq
from functools import partial

from schedtutor._simulate import Job, Machine, release

__all__ = ["run_distributed"]


def run_distributed(
    jobs: list[Job],
    machine: Machine,
    workers: list[list[int]],
    start: float,
    hop: float,
    task_cost: float,
    saturation: float = 1.1,
) -> float:
    """Simulate the distributed scheduler's placement; return when the last task ends.

    ``workers`` lists each worker's slots (threads).  Following
    ``distributed.scheduler``: a *root-ish* task (one of a group of more than
    twice as many tasks as there are threads, with few dependency groups) is
    queued on the scheduler and sent to the least busy worker with a free
    slot (``ceil(saturation * nthreads)`` tasks per worker); another task goes
    to the least occupied worker among those holding its dependencies (or,
    with none, any worker, round robin), occupancy counting each task at its
    group's average duration, as the scheduler estimates it.  Each worker
    runs what it was sent in priority order.  A task reaches its worker
    ``hop`` seconds after its last dependency ended (``start`` for the
    first); the scheduler sends at most one task per ``task_cost`` seconds.
    """
    threads = sum(map(len, workers))
    owner = {slot: w for w, slots in enumerate(workers) for slot in slots}
    seconds = _estimates(jobs)
    rootish = _rootish(jobs, threads)
    waiting = [len(job.dependencies) for job in jobs]
    where = [0] * len(jobs)
    processing = [0] * len(workers)
    occupancy = [0.0] * len(workers)
    limit = [max(-(-saturation * len(slots) // 1), 1) for slots in workers]
    queued: list[tuple[int, int]] = []
    sent_to: list[list[tuple[int, int]]] = [[] for _ in workers]
    free = [list(slots) for slots in workers]
    sent, last, count = [0.0], [0.0], [0]

    def arrive(indices: list[int]) -> None:
        for i in sorted(indices, key=lambda i: jobs[i].priority):
            if rootish[i]:
                heapq.heappush(queued, (jobs[i].priority, i))
            else:
                send(i, _pick(i))
        dequeue()

    def _pick(i: int) -> int:
        holders = sorted({where[d] for d in jobs[i].dependencies})
        if holders:
            return min(holders, key=lambda w: occupancy[w] / len(workers[w]))
        idle = [w for w in range(len(workers)) if processing[w] < len(workers[w])]
        pool = idle or list(range(len(workers)))
        best = min(pool, key=lambda w: occupancy[w])
        if occupancy[best] == 0:  # distributed's round robin among empty workers
            first = count[0] % len(pool)
            best = next(w for w in pool[first:] + pool[:first] if occupancy[w] == 0)
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
        occupancy[w] += seconds[i]
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
            machine.start(slot, jobs[i].segments, partial(done, i=i))

    def done(slot: int, *, i: int) -> None:
        w = owner[slot]
        last[0] = machine.now
        where[i] = w
        processing[w] -= 1
        occupancy[w] -= seconds[i]
        free[w].append(slot)
        newly = [d for d in jobs[i].dependents if release(waiting, d)]
        if newly:
            machine.at(machine.now + hop, arrive, newly)
        dequeue()
        work(w)

    machine.at(start, arrive, [i for i, n in enumerate(waiting) if n == 0])
    machine.run()
    return last[0]


def _estimates(jobs: list[Job]) -> list[float]:
    """Return the scheduler's estimate of each task's duration: its group's average."""
    total: dict[str, list[float]] = {}
    for job in jobs:
        total.setdefault(job.group, []).append(sum(s[1] for s in job.segments))
    average = {group: sum(times) / len(times) for group, times in total.items()}
    return [average[job.group] for job in jobs]


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
