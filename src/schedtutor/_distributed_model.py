"""The distributed scheduler, simulated on a :class:`schedtutor._simulate.Machine`.

:func:`run_distributed` places tasks as ``distributed.scheduler`` does
(``decide_worker_non_rootish``, ``decide_worker_rootish_queuing_enabled``,
``is_rootish`` with the default thresholds and ``worker-saturation`` 1.1), lets
each worker run what it holds in priority order, and adds the round trips
through the scheduler as fixed latencies.  A task with dependencies goes to
the worker ``Scheduler.worker_objective`` prefers among those holding one of
them: the earliest start (its tasks' estimated durations, and the inputs it
must still fetch for them: a few bytes over the bandwidth, which decide between
workers given equal work), then the fewest results held (replicas count);
between equals, the first a set of them yields, which follows their hashes
(:attr:`History.worker_hashes`).  A task sent to a worker that lacks one of its
inputs waits there while the worker fetches it (a round trip), and meanwhile the
worker's free thread starts a task that is ready, though of lower priority.

Work stealing (``distributed.stealing.WorkStealing.balance``) runs on a clock
of its own: every ``work-stealing-interval`` (1 s by default) the scheduler
looks for an idle worker (fewer tasks than threads) and a busy one (more
tasks than threads, over 0.2 s of estimated work) and asks the busy one to
give up a task it holds, trying its tasks in the order of a set (the
fewest dependencies first) -- if the task has started already, the worker
refuses and nothing moves until the next run.  :class:`StealClock` says
when the balance runs and which task it tries first; a scheduler gives no
way to know either before a compute starts, so :func:`possible_runs`
replays a graph at evenly spread phases of the clock with shuffled task
orders and returns every outcome.

Where the scheduler's choice depends on its state, the model follows that
state too (:class:`History`): a running cluster places a graph's first tasks
round robin from the number of tasks it has placed so far, and estimates a
task's duration from what tasks of its prefix took before (half a second
for a prefix it has not seen).  The tasks without dependencies reach the
scheduler in the order of :func:`submission_order`.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from dask.utils import key_split

from schedtutor._simulate import Job, Machine, release

__all__ = ["History", "Run", "StealClock", "possible_runs", "run_distributed", "submission_order"]

RESULT_SECONDS = 28 / 100e6
"""Moving one small result to another worker, as the scheduler estimates it: a
Python int's 28 bytes at ``distributed.scheduler.bandwidth`` (100 MB/s)."""

DEFAULT_STEAL_EVERY = 1.0
"""``distributed.scheduler.work-stealing-interval``'s default (distributed 2026.8), seconds."""

HOP_WAKES = 3
"""How many times the event loop of a cluster in one process waits for a message in a
round trip from a task's end to its dependent's start (the worker's message to the
scheduler, the scheduler's answer, the worker's hand-off to its thread): measured,
a chain of 0.05 s tasks on such a cluster went from 3-6 ms per hop to 20-30 ms while
another worker thread ran Python work, about four switch intervals with the thread's
own wake-up."""

STEAL_LATENCY = 0.1
"""``distributed.stealing.LATENCY``: what stealing counts a task's move to cost, in seconds."""


@dataclass(frozen=True)
class History:
    """What a distributed scheduler knows before a graph arrives, and how it steals.

    A new cluster knows nothing; a running one has a count and a memory.
    """

    tasks_placed: int = 0
    """``Scheduler.n_tasks``: tasks sent to workers so far.  Among idle workers a
    task without dependencies goes round robin, starting at this count."""
    durations: Mapping[str, float] = field(default_factory=dict)
    """Each task prefix's ``duration_average`` (seconds), for the prefixes seen."""
    unknown: float = 0.5
    """``distributed.scheduler.unknown-task-duration``: the estimate for a prefix not seen."""
    worker_hashes: tuple[int, ...] = ()
    """``hash`` of each worker's ``WorkerState`` in the scheduler's process, workers in
    address order.  Where two workers are equally good the scheduler takes the
    first a set of them yields, which follows these hashes; unknown (a cluster yet
    to start), ties go to the first worker by address."""
    steal_every: float | None = DEFAULT_STEAL_EVERY
    """``distributed.scheduler.work-stealing-interval`` in seconds; ``None`` when the
    scheduler does not steal (``distributed.scheduler.work-stealing: False``)."""
    steal_next: float | None = None
    """When a running scheduler's stealing balance runs next, in seconds after
    :attr:`read_at`; None where nobody knows (a cluster yet to start)."""
    read_at: float = 0.0
    """When this was read (``time.perf_counter()``)."""
    same_hashes: bool = True
    """Whether the scheduler runs in this process (a local cluster), so that its sets of
    tasks iterate in the order the same sets built here do (a key's hash is seeded per
    process); elsewhere that order is unknown."""


@dataclass(frozen=True)
class StealClock:
    """When work stealing's balance runs during one compute, and in what order it tries tasks."""

    first: float
    """Seconds from the compute's start to the balance's first run."""
    every: float
    """Seconds between runs."""
    seed: int = 0
    """Shuffles the order in which a busy worker's tasks are tried (a set's order)."""


@dataclass
class Run:
    """One simulated compute: when its last task ended, and what stealing did."""

    end: float
    machine: Machine
    steals: int = 0
    """Tasks moved to another worker."""
    could_steal: bool = False
    """Whether at some moment a balance run would have asked a worker to give up a task."""


def run_distributed(
    jobs: list[Job],
    machine: Machine,
    workers: list[list[int]],
    start: float,
    hop: float,
    task_cost: float,
    saturation: float = 1.1,
    history: History | None = None,
    clock: StealClock | None = None,
    scheduler_process: int | None = None,
) -> Run:
    """Simulate the distributed scheduler's placement and, on ``clock``, its stealing.

    ``workers`` lists each worker's slots (threads).  Following
    ``distributed.scheduler``: a *root-ish* task (one of a group of more than
    twice as many tasks as there are threads, with few dependency groups) is
    queued on the scheduler and sent to the least busy worker with a free
    slot (``ceil(saturation * nthreads)`` tasks per worker); another task goes
    to the least occupied worker among those holding its dependencies (then
    the one holding fewer results; or, with none, any worker, round robin),
    occupancy counting each task at the
    scheduler's estimate: its prefix's average so far, updated as tasks end
    (``history`` says what the scheduler knew before).  Each worker
    runs, in priority order, the tasks it was sent whose inputs it holds (an
    input held elsewhere arrives a ``hop`` later).  A task reaches its worker
    ``hop`` seconds after its last dependency ended (``start`` for the
    first); the scheduler sends at most one task per ``task_cost`` seconds.
    When the scheduler shares a process with workers (``scheduler_process``,
    a local cluster with ``processes=False``) and a worker thread runs Python
    work there, its event loop takes the GIL back at each of the
    :data:`HOP_WAKES` times it waits for a message of a round trip, each a
    switch interval later.

    Without ``clock`` nothing is stolen, and the run notes whether a balance
    run could have stolen at any moment (if not, no clock changes the outcome).
    """
    # a plain run (no clock) looks for a chance to steal as it goes
    cluster = _Cluster(
        jobs, machine, workers, hop, task_cost, saturation, history or History(), clock is None
    )
    cluster.scheduler_process = scheduler_process
    if clock is not None:
        machine.at(clock.first, cluster.balance, (clock, random.Random(clock.seed)))
    machine.at(start, cluster.submit, submission_order(jobs))
    machine.run()
    return Run(cluster.last, machine, cluster.steals, cluster.could_steal)


def possible_runs(
    simulate: Callable[[StealClock | None], Run],
    steal_every: float | None,
    first: float | None = None,
    phases: int = 24,
    shuffled: bool = True,
) -> tuple[Run, list[Run]]:
    """Return the likeliest run and every run ``simulate`` gives as stealing may act.

    ``simulate(clock)`` runs the graph once.  Without stealing, or where no
    balance run could ever steal, that is one run; otherwise ``phases`` runs
    (fastest first), each as likely as the others: the first balance at
    ``(j + 1/2) / phases`` of the interval after the start, with the busy
    worker's tasks tried in a shuffled order.  The likeliest is their median
    -- or, when the first balance is known to come ``first`` seconds after
    the start (a running cluster read just before), the median of the runs
    with that first balance and ``phases // 3`` shuffled orders (one run, if
    the orders are known: not ``shuffled``).
    """
    plain = simulate(None)
    if steal_every is None or not plain.could_steal:
        return plain, [plain]
    runs = sorted(
        (
            simulate(StealClock((j + 0.5) / phases * steal_every, steal_every, seed=j))
            for j in range(phases)
        ),
        key=lambda r: r.end,
    )
    if first is None:
        return runs[(len(runs) - 1) // 2], runs  # the median (the lower one of two)
    orders = phases // 3 if shuffled else 1
    known = sorted(
        (simulate(StealClock(first, steal_every, seed=j)) for j in range(orders)),
        key=lambda r: r.end,
    )
    return known[(len(known) - 1) // 2], runs


class _Cluster:
    """The scheduler's and the workers' state during one simulated compute."""

    def __init__(
        self,
        jobs: list[Job],
        machine: Machine,
        workers: list[list[int]],
        hop: float,
        task_cost: float,
        saturation: float,
        history: History,
        looking: bool,
    ) -> None:
        self.jobs, self.machine, self.workers = jobs, machine, workers
        self.hop, self.task_cost, self.history = hop, task_cost, history
        self.owner = {slot: w for w, slots in enumerate(workers) for slot in slots}
        self.prefix = [key_split(job.key) for job in jobs]
        self.learned = dict(history.durations)
        self.rootish = _rootish(jobs, sum(map(len, workers)))
        self.waiting = [len(job.dependencies) for job in jobs]
        self.held: list[set[int]] = [set() for _ in workers]  # results in each worker's memory
        # WorkerState.needs_what: the results each worker must fetch for the tasks it has,
        # counted by task
        self.needs: list[Counter[int]] = [Counter() for _ in workers]
        self.unfinished_dependents = [len(job.dependents) for job in jobs]
        hashes = history.worker_hashes if len(history.worker_hashes) == len(workers) else ()
        self.set_order = [(h & 7, w) for w, h in enumerate(hashes or [0] * len(workers))]
        self.processing: list[set[int]] = [set() for _ in workers]  # sent, not yet finished
        self.prefix_count: list[Counter[str]] = [Counter() for _ in workers]
        self.started: dict[int, float] = {}
        self.limit = [max(math.ceil(saturation * len(slots)), 1) for slots in workers]
        self.queued: list[tuple[int, int]] = []
        self.sent_to: list[list[tuple[int, int]]] = [[] for _ in workers]  # landed, not started
        self.free = [list(slots) for slots in workers]
        self.sent = self.last = 0.0
        self.count = history.tasks_placed
        self.unfinished = len(jobs)
        self.steals = 0
        self.could_steal = False
        self.looking = looking
        self.scheduler_process: int | None = None
        # WorkStealing.stealable: per worker, per level, a set of tasks (of keys here:
        # a TaskState hashes as its key), filled and emptied in the scheduler's order
        self.stealable: list[list[set[Any]]] = [[set() for _ in range(15)] for _ in workers]
        self.key_stealable: dict[int, tuple[int, int]] = {}
        self.index = {job.key: i for i, job in enumerate(jobs)}

    # -- placement -----------------------------------------------------------

    def estimate(self, i: int) -> float:
        """The scheduler's estimate of task ``i``'s duration (``_get_prefix_duration``)."""
        return self.learned.get(self.prefix[i], self.history.unknown)

    def occupancy(self, w: int) -> float:  # Scheduler._calc_occupancy
        """The work ``w`` has been given, in seconds, as the scheduler estimates it: each
        task at its prefix's average, and the results it must fetch at the bandwidth.

        The fetches weigh next to nothing, but they decide between two workers whose
        tasks are otherwise equal: the one with less to fetch gets the next task.
        """
        learned, unknown = self.learned, self.history.unknown
        compute = sum(learned.get(p, unknown) * n for p, n in self.prefix_count[w].items())
        return compute + self.network(w)

    def network(self, w: int) -> float:
        """``WorkerState._network_occ`` over the bandwidth: what ``w`` has yet to fetch."""
        return RESULT_SECONDS * len(self.needs[w])

    def submit(self, indices: list[int]) -> None:
        for i in indices:
            if self.rootish[i]:
                heapq.heappush(self.queued, (self.jobs[i].priority, i))
            else:
                self.send(i, self.pick(i))
        self.dequeue()

    def arrive(self, indices: list[int]) -> None:
        """Tasks a finished one made ready reach the scheduler: it places them in priority
        order (``Scheduler._add_to_memory`` sorts them, and its recommendations are
        taken last in, first out)."""
        self.submit(sorted(indices, key=lambda i: self.jobs[i].priority))

    def pick(self, i: int) -> int:
        workers = self.workers
        needs = self.jobs[i].dependencies
        holders = [w for w in range(len(workers)) if any(d in self.held[w] for d in needs)]
        if holders:  # Scheduler.worker_objective: start time, then bytes held
            return min(holders, key=lambda w: (*self.objective(w, needs), self.set_order[w]))
        idle = [w for w in range(len(workers)) if len(self.processing[w]) < len(workers[w])]
        pool = idle or list(range(len(workers)))
        best = min(pool, key=self.occupancy)
        if self.occupancy(best) == 0:  # distributed's round robin among empty workers
            first = self.count % len(pool)
            best = next(w for w in pool[first:] + pool[:first] if self.occupancy(w) == 0)
        return best

    def objective(self, w: int, needs: list[int]) -> tuple[float, int]:
        """``Scheduler.worker_objective``: when a task could start on ``w``, and how many
        results ``w`` holds (every result taken to be a small one of the same size)."""
        fetch = RESULT_SECONDS * sum(d not in self.held[w] for d in needs)
        return self.occupancy(w) / len(self.workers[w]) + fetch, len(self.held[w])

    def dequeue(self) -> None:
        while self.queued:
            open_ = [w for w in range(len(self.workers)) if len(self.processing[w]) < self.limit[w]]
            if not open_:
                return
            _, i = heapq.heappop(self.queued)
            self.send(i, min(open_, key=self.queue_objective))

    def queue_objective(self, w: int) -> tuple[float, tuple[int, int]]:
        """How the scheduler's queue picks among open workers: fewest tasks per thread,
        then set order."""
        return len(self.processing[w]) / len(self.workers[w]), self.set_order[w]

    def assign(self, i: int, w: int) -> None:  # WorkerState.add_to_processing
        self.processing[w].add(i)
        self.prefix_count[w][self.prefix[i]] += 1
        for d in self.jobs[i].dependencies:
            if d not in self.held[w]:
                self.needs[w][d] += 1
        self.put_in_stealable(i, w)

    def unassign(self, i: int, w: int) -> None:  # WorkerState.remove_from_processing
        self.processing[w].discard(i)
        self.prefix_count[w][self.prefix[i]] -= 1
        needs = self.needs[w]
        for d in self.jobs[i].dependencies:
            if d in needs:
                needs[d] -= 1
                if not needs[d]:
                    del needs[d]
        self.remove_from_stealable(i)

    def put_in_stealable(self, i: int, w: int) -> None:
        """``WorkStealing.put_key_in_stealable``: file a task sent to ``w`` by its level."""
        level = self.level(i)
        if level is not None:
            self.stealable[w][level].add(self.jobs[i].key)
            self.key_stealable[i] = (w, level)

    def remove_from_stealable(self, i: int) -> None:
        """``WorkStealing.remove_key_from_stealable``."""
        found = self.key_stealable.pop(i, None)
        if found is not None:
            w, level = found
            self.stealable[w][level].discard(self.jobs[i].key)

    def send(self, i: int, w: int) -> None:
        self.assign(i, w)
        self.count += 1
        self.sent = max(self.machine.now, self.sent) + self.task_cost
        self.machine.at(self.sent, self.land, (w, i))

    def land(self, arg: tuple[int, int]) -> None:
        w, i = arg
        if i not in self.processing[w]:  # stolen on its way
            return
        if any(d not in self.held[w] for d in self.jobs[i].dependencies):
            # Worker.gather_dep: the task waits for what another worker holds, one round
            # trip, while the worker's free threads take tasks that are ready -- of lower
            # priority too
            self.machine.at(self.machine.now + self.round_trip(), self.fetched, (w, i))
        else:
            self.ready(w, i)
        self.note_steal_chance()

    def round_trip(self) -> float:
        """A message's way to another process of the cluster and back: a hop's time."""
        return self.hop + HOP_WAKES * self.machine.gil_wait(self.scheduler_process)

    def fetched(self, arg: tuple[int, int]) -> None:
        w, i = arg
        if i not in self.processing[w]:  # stolen while its dependencies came
            return
        for d in self.jobs[i].dependencies:  # WorkerState.add_replica: a replica here too
            self.needs[w].pop(d, None)
            self.held[w].add(d)
        self.ready(w, i)

    def ready(self, w: int, i: int) -> None:
        heapq.heappush(self.sent_to[w], (self.jobs[i].priority, i))
        self.work(w)

    def work(self, w: int) -> None:
        while self.free[w] and self.sent_to[w]:
            _, i = heapq.heappop(self.sent_to[w])
            if i not in self.processing[w]:  # stolen while it waited here
                continue
            slot = min(self.free[w])
            self.free[w].remove(slot)
            self.started[i] = self.machine.now
            self.machine.start(slot, self.jobs[i].segments, partial(self.done, i=i), wake=True)

    def done(self, slot: int, *, i: int) -> None:
        w = self.owner[slot]
        self.last = self.machine.now
        self.unfinished -= 1
        self.held[w].add(i)
        for d in self.jobs[i].dependencies:  # a result no task needs any more is released
            self.unfinished_dependents[d] -= 1
            if self.unfinished_dependents[d] == 0:
                for held in self.held:
                    held.discard(d)
        self.unassign(i, w)
        took = self.machine.now - self.started.pop(i)  # TaskPrefix.add_duration
        old = self.learned.get(self.prefix[i])
        self.learned[self.prefix[i]] = took if old is None else 0.5 * took + 0.5 * old
        self.free[w].append(slot)
        newly = [d for d in self.jobs[i].dependents if release(self.waiting, d)]
        if newly:
            self.machine.at(self.machine.now + self.round_trip(), self.arrive, newly)
        self.dequeue()
        self.work(w)
        self.note_steal_chance()

    # -- work stealing -------------------------------------------------------

    def unoccupied(self, w: int, occupancy: float, tasks: int, average: float) -> bool:
        """``Scheduler.is_unoccupied``: fewer tasks than threads, or under half the average."""
        threads = len(self.workers[w])
        return tasks < threads or occupancy < threads * average / 2

    def thieves_and_victims(self) -> tuple[list[int], list[int], list[float], float]:
        """The idle workers, the busy ones (busiest first), each worker's occupancy,
        and the occupancy per thread."""
        occupancy = [self.occupancy(w) for w in range(len(self.workers))]
        average = sum(occupancy) / sum(map(len, self.workers))
        thieves = [
            w
            for w, occ in enumerate(occupancy)
            if self.unoccupied(w, occ, len(self.processing[w]), average)
        ]
        if not thieves or len(thieves) == len(self.workers):
            return [], [], occupancy, average
        saturated = []
        for w, occ in enumerate(occupancy):
            tasks, threads = len(self.processing[w]), len(self.workers[w])
            if w not in thieves and tasks > threads:
                pending = occ * (tasks - threads) / (tasks * threads)
                if pending > 0.4 and pending > 1.9 * average:
                    saturated.append(w)
        victims = saturated or [
            w
            for w in sorted(range(len(self.workers)), key=occupancy.__getitem__, reverse=True)[:10]
            if occupancy[w] > 0.2
            and len(self.processing[w]) > len(self.workers[w])
            and w not in thieves
        ]
        victims.sort(key=occupancy.__getitem__, reverse=True)
        return thieves, victims, occupancy, average

    def level(self, i: int) -> int | None:
        """``WorkStealing.steal_time_ratio``'s level: 0 for no dependencies, None: never stolen."""
        if not self.jobs[i].dependencies:
            return 0
        compute = self.estimate(i)
        if compute <= 0:
            return None
        level = max(round(math.log2(STEAL_LATENCY / compute) + 6), 1)
        return level if level < 15 else None

    def note_steal_chance(self) -> None:
        """Remember whether a balance run now would ask for a task (a cheap check)."""
        if self.could_steal or not self.looking:
            return
        thieves, victims, occupancy, _ = self.thieves_and_victims()
        if not thieves:
            return
        idlest = min(occupancy[w] for w in thieves)
        self.could_steal = any(
            n
            and _worth_moving(idlest, occupancy[v], self.learned.get(prefix, self.history.unknown))
            for v in victims
            for prefix, n in self.prefix_count[v].items()
        )

    def balance(self, arg: tuple[StealClock, random.Random]) -> None:
        """``WorkStealing.balance``: ask busy workers to give tasks to idle ones.

        Level by level, victim by victim (busiest first), the victim's
        stealable tasks are tried in the order of its set: the scheduler's own
        order where its sets hash as ours do, else a shuffled one.  A task
        asked for leaves the set, whatever the answer.
        """
        clock, order = arg
        thieves, victims, occupancy, average = self.thieves_and_victims()
        if thieves and victims:
            tasks = [len(self.processing[w]) for w in range(len(self.workers))]
            for level in range(15):
                for v in victims:
                    if not thieves:
                        break
                    candidates = [self.index[key] for key in self.stealable[v][level]]
                    if not self.history.same_hashes:
                        order.shuffle(candidates)  # a set's order: unknown, so any
                    for i in candidates:
                        if not thieves:
                            break
                        thief = min(
                            thieves,
                            key=lambda w: (occupancy[w] / len(self.workers[w]), self.set_order[w]),
                        )
                        compute = self.estimate(i)
                        if _worth_moving(occupancy[thief], occupancy[v], compute):
                            self.remove_from_stealable(i)  # asked: out of the set
                            at = self.machine.now + self.hop / 2
                            self.machine.at(at, self.move, (i, v, thief))
                            occupancy[thief] += compute
                            occupancy[v] -= compute
                            tasks[thief] += 1
                            tasks[v] -= 1
                            if not self.unoccupied(thief, occupancy[thief], tasks[thief], average):
                                thieves.remove(thief)
        if self.unfinished:
            self.machine.at(self.machine.now + clock.every, self.balance, arg)

    def move(self, arg: tuple[int, int, int]) -> None:
        """The victim's answer: a task it has not started moves to the thief."""
        i, victim, thief = arg
        if i in self.started or i not in self.processing[victim]:
            return  # "already-computing" (or done): the steal is refused
        self.unassign(i, victim)
        self.assign(i, thief)
        self.steals += 1
        self.machine.at(self.machine.now + self.hop / 2, self.land, (thief, i))


def _worth_moving(thief: float, victim: float, compute: float) -> bool:
    """``WorkStealing.balance``'s test: the task would start sooner on the thief
    (occupancies in seconds; moving small results costs next to nothing)."""
    return thief + compute <= victim - compute / 2


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
