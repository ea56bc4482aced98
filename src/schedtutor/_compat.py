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

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from dask._task_spec import Alias, DataNode, GraphNode, Task, _execute_subgraph

__all__ = [
    "Alias",
    "DataNode",
    "GraphNode",
    "SchedulerState",
    "Task",
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
