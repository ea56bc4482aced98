"""Every private Dask and distributed internal the library relies on, in one place.

Dask has no public way to do four things the library needs: get the exact
graph ``dask.compute`` runs (tracing wraps its tasks; the model replays
them), copy a task with another function, see inside a task the processes
scheduler fused, and read what a distributed scheduler has learned (how many
tasks it placed, how long each task prefix took, how its workers hash, how
often it steals).  Each of those reads a private name, and each is here, so
that an upgrade which changes one breaks this module's test
(``tests/test_compat.py`` checks every assumption below against the installed
versions) rather than something deep in a trace or a prediction.

It also refuses, in one line, a dask older than the library's floor
(:data:`DASK_FLOOR`, the one in ``pyproject.toml``): older ones lack these
internals or behave otherwise where the library relies on them (before
2026.8.0 a worker that dies while its nanny starts it -- a script without the
``if __name__ == '__main__':`` guard -- hangs ``LocalCluster`` for ever instead
of failing).  ``make floors`` runs the library's tests at that floor.

The assumptions, as read in dask and distributed 2026.8:

* ``dask.base.collections_to_expr`` turns collections into one expression;
  ``dask._expr.FinalizeCompute`` wraps it as ``dask.compute`` does before
  optimising it.
* A graph's nodes are ``dask._task_spec`` nodes: ``Task`` (``func``,
  ``args``, ``kwargs``, ``dependencies``, ``data_producer``), ``Alias``,
  ``DataNode``; ``convert_legacy_graph`` turns an old-style tuple graph into
  them.  A ``Task``'s state is its ``__slots__``; ``_token``, ``_repr`` and
  ``_is_coro`` are caches derived from ``func`` and are reset when ``func``
  changes.
* ``dask.optimization.fuse`` wraps the tasks it fuses in one ``Task`` whose
  function is ``dask._task_spec._execute_subgraph`` and whose first argument
  is the inner graph.
* A ``distributed.Scheduler`` has ``n_tasks``, ``task_prefixes`` (each with
  ``duration_average``, negative when unknown), ``workers`` (address to
  ``WorkerState``), ``UNKNOWN_TASK_DURATION``, and in ``extensions["stealing"]``
  a ``WorkStealing`` whose ``_callback_time`` is its interval in seconds; its
  balance runs from ``periodic_callbacks["stealing"]``, a tornado
  ``PeriodicCallback`` whose ``_next_timeout`` is when it runs next, on its
  ``io_loop``'s clock.
* ``distributed.comm``: ``parse_address``, ``get_backend(scheme).get_connector()``
  and a comm's ``handshake_info()`` are what ``distributed.comm.connect`` uses
  for its handshake.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import dask

#: The oldest dask the library works with, and so distributed's too (each release of
#: distributed requires the dask of the same version): pyproject.toml's floor.
DASK_FLOOR = (2026, 8, 0)


def check_dask(found: str) -> None:
    """Raise ``ImportError`` in one line when the dask version ``found`` is below the floor.

    >>> check_dask("2026.8.0")
    >>> check_dask("unknown")
    >>> check_dask("2025.1.0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ImportError: schedtutor needs dask and distributed 2026.8.0 or newer, and this is ...
    """
    parts = tuple(int(part) for part in re.findall(r"\d+", found)[:3])
    if not parts or parts >= DASK_FLOOR:  # no number: a checkout of dask, say "unknown"
        return
    floor = ".".join(map(str, DASK_FLOOR))
    raise ImportError(
        f"schedtutor needs dask and distributed {floor} or newer, and this is dask {found}: "
        f"run pip install --upgrade 'dask>={floor}' 'distributed>={floor}'"
    )


check_dask(dask.__version__)  # type: ignore[attr-defined]  # dask sets it, untyped

from dask._task_spec import Alias, DataNode, GraphNode, Task, _execute_subgraph  # noqa: E402

__all__ = [
    "DASK_FLOOR",
    "Alias",
    "DataNode",
    "GraphNode",
    "SchedulerState",
    "Task",
    "check_dask",
    "computed_graph",
    "connector_for",
    "fused_subgraph",
    "scheduler_state",
    "with_function",
]


def computed_graph(obj: Any, optimize_graph: bool = True) -> tuple[dict[Any, Any], list[Any]]:
    """Return the task graph ``dask.compute`` runs for the collection ``obj``, and its output keys.

    The graph is built and optimised as ``dask.base.compute`` does it: the
    collection's expression, wrapped in ``FinalizeCompute``, optimised; its
    nodes are ``dask._task_spec`` nodes.
    """
    from dask._expr import FinalizeCompute
    from dask._task_spec import convert_legacy_graph
    from dask.base import collections_to_expr
    from dask.core import flatten
    from dask.utils import ensure_dict

    expr = FinalizeCompute(collections_to_expr([obj], optimize_graph)).optimize()
    keys = list(flatten(expr.__dask_keys__()))
    dsk = ensure_dict(expr.__dask_graph__())
    if not all(isinstance(node, GraphNode) for node in dsk.values()):
        dsk = convert_legacy_graph(dsk)
    return dsk, keys


_TASK_SLOTS = Task.get_all_slots()
_DERIVED = ("_token", "_repr", "_is_coro")  # caches of func: reset when func changes


def with_function(node: Task, func: Callable[..., Any]) -> Task:
    """Return a copy of ``node`` that calls ``func`` instead of its function.

    Copying the slots is three times cheaper than ``Task(...)``, which derives
    the edges again from the arguments; a subclass of ``Task`` (a container) is
    rebuilt through the constructor.
    """
    if type(node) is not Task:
        return Task(node.key, func, *node.args, _data_producer=node.data_producer, **node.kwargs)
    copy: Task = object.__new__(Task)
    for slot in _TASK_SLOTS:
        setattr(copy, slot, getattr(node, slot))
    copy.func = func
    for slot in _DERIVED:
        setattr(copy, slot, None)
    return copy


def fused_subgraph(node: object) -> Mapping[Any, Any] | None:
    """Return the inner graph of a task the processes scheduler fused, else None."""
    if isinstance(node, Task) and node.func is _execute_subgraph:
        inner: Mapping[Any, Any] = node.args[0]
        return inner
    return None


class SchedulerState(NamedTuple):
    """What a running distributed scheduler has learned, as the model needs it."""

    tasks_placed: int
    prefix_durations: dict[str, float]
    unknown_duration: float
    worker_hashes: tuple[int, ...]
    steal_every: float | None
    steal_next: float | None = None
    """Seconds from the reading to the stealing balance's next run (None: not running)."""


def scheduler_state(client: Any) -> SchedulerState:
    """Read what ``client``'s scheduler has learned.

    The reading runs on the scheduler (``Client.run_on_scheduler``) as a function
    pickled by value, so it works on a cluster where schedtutor is not installed.
    """

    def read(
        dask_scheduler: Any,
    ) -> tuple[int, dict[str, float], float, tuple[int, ...], float | None, float | None]:
        known = {
            name: prefix.duration_average
            for name, prefix in dask_scheduler.task_prefixes.items()
            if prefix.duration_average >= 0
        }
        stealing = dask_scheduler.extensions.get("stealing")
        every = getattr(stealing, "_callback_time", None) if stealing is not None else None
        hashes = tuple(hash(ws) for _, ws in sorted(dask_scheduler.workers.items()))
        unknown = dask_scheduler.UNKNOWN_TASK_DURATION
        balance = dask_scheduler.periodic_callbacks.get("stealing")
        upcoming = getattr(balance, "_next_timeout", None)
        running = balance is not None and balance.is_running() and upcoming is not None
        following = upcoming - balance.io_loop.time() if running else None
        return dask_scheduler.n_tasks, known, unknown, hashes, every, following

    placed, known, unknown, hashes, every, following = client.run_on_scheduler(read)
    return SchedulerState(
        int(placed),
        dict(known),
        float(unknown),
        tuple(int(h) for h in hashes),
        None if every is None else float(every),
        None if following is None else float(following),
    )


def connector_for(address: str) -> tuple[Any, str]:
    """Return distributed's connector for ``address``'s scheme, and the address without it."""
    from distributed.comm.addressing import parse_address
    from distributed.comm.registry import get_backend

    scheme, location = parse_address(address)
    return get_backend(scheme).get_connector(), location
