"""What the model needs to know of a distributed cluster before a graph runs on it.

:func:`schedtutor.predict.predict` simulates the distributed scheduler on a
cluster's workers (:mod:`schedtutor._distributed_model`).  Which workers, and
what their scheduler already knows, come from here:

* **a cluster yet to start** (``n_workers``, ``threads_per_worker``,
  ``processes``): its layout from those options, and a scheduler that knows
  nothing yet -- its unknown-task estimate and how often it steals read from
  Dask's config (``distributed.scheduler.unknown-task-duration``,
  ``work-stealing``, ``work-stealing-interval``), with distributed's defaults
  when distributed is not imported yet.
* **a running cluster** (``client`` or ``address``): each worker's threads and
  process, asked of the scheduler, and what the scheduler has learned
  (:func:`schedtutor._compat.scheduler_state`: how many tasks it has placed,
  each task prefix's average duration, its workers' hashes, its stealing
  interval).  A scheduler that does not run our code is taken to know nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from schedtutor import _compat
from schedtutor._distributed_model import DEFAULT_STEAL_EVERY, History
from schedtutor.schedulers import open_scheduler

__all__ = ["Layout", "layout", "scheduler_history"]


class Layout(NamedTuple):
    """A cluster as the model runs it."""

    workers: list[list[int]]
    """Each worker's slots (threads), numbered across the cluster."""
    processes: list[int]
    """Each slot's process number: slots of one process share its GIL and its lock."""
    names: list[tuple[str, str]]
    """Each slot's ``(worker N, thread M)`` names, as a prediction's spans show them."""
    history: History
    """What the scheduler knows before the graph arrives."""
    scheduler_process: int | None = None
    """The process number of the workers the scheduler shares a process with, if any
    (a local cluster with ``processes=False``): their Python work holds its GIL."""


def layout(options: Mapping[str, Any]) -> Layout:
    """Return the cluster that ``options`` (those of the distributed scheduler) describe.

    >>> cluster = layout({"n_workers": 2, "threads_per_worker": 1, "processes": False})
    >>> cluster.workers, cluster.processes, cluster.scheduler_process
    ([[0], [1]], [0, 0], 0)
    """
    history = History(
        unknown=_config_seconds("unknown-task-duration", History.unknown),
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
            home = opened.client.run_on_scheduler(os.getpid)
            history = scheduler_history(opened.client, history)
            host = get_address_host(opened.client.scheduler.address)
        # a scheduler in this process hashes keys as this process does
        here = host in ("127.0.0.1", "localhost") and int(home) == os.getpid()
        history = replace(history, same_hashes=here)
        addresses = sorted(threads)
        counts = [int(threads[a]) for a in addresses]
        where = [(get_address_host(a), int(pids[a])) for a in addresses]
        scheduler = (host, int(home))
    else:
        n = int(options.get("n_workers", 2))
        counts = [int(options.get("threads_per_worker", 1))] * n
        where = [("", i if options.get("processes", True) else 0) for i in range(n)]
        scheduler = ("", -1 if options.get("processes", True) else 0)
    number = {place: i for i, place in enumerate(dict.fromkeys(where))}
    workers: list[list[int]] = []
    processes: list[int] = []
    names: list[tuple[str, str]] = []
    for worker, (count, place) in enumerate(zip(counts, where, strict=True)):
        workers.append(list(range(len(processes), len(processes) + count)))
        for thread in range(count):
            processes.append(number[place])
            names.append((f"worker {worker + 1}", f"thread {thread + 1}"))
    return Layout(workers, processes, names, history, number.get(scheduler))


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
    return _config_seconds("work-stealing-interval", DEFAULT_STEAL_EVERY)


def scheduler_history(client: Any, fresh: History) -> History:
    """Read what ``client``'s running scheduler knows; ``fresh`` where it cannot be read."""
    try:
        asked = time.perf_counter()
        state = _compat.scheduler_state(client)
    except Exception:  # a scheduler that does not run our code: as if new
        return fresh
    return History(*state, read_at=(asked + time.perf_counter()) / 2)  # read mid-way
