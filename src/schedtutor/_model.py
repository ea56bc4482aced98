"""Turn a Dask collection into the jobs :mod:`schedtutor._simulate` schedules.

The graph is the one the scheduler would run: the collection's optimised
graph (for a ``Delayed``, whose only optimisation is culling, a cheap cull of
our own instead of Dask's per-layer one, which grows with the square of the
number of layers); for the processes scheduler, ``cull`` and ``fuse`` on top,
as ``dask.multiprocessing.get`` does.  Each task becomes a :class:`Job` with
its ``dask.order`` priority and its *segments*: one ``(key, seconds, kind)``
per original task inside it (several when Dask fused tasks together).

Where the seconds come from: a library op (``schedtutor._work.OPS``, or
``do_work``) carries its ``delay`` and kind of work in its arguments; any
other task's seconds come from the ``durations`` table, its kind from the
caller's :class:`Kinds` (one for all, or one per task name).  An alias runs
no work: a zero-second segment without a key (the scheduler hands it out
like a task, but a trace has no span for it).  Keys are
looked up by :func:`stable_key`: the finalising task Dask adds to a collection
such as an array (``finalize-hlgfinalizecompute-<uuid>``) gets a new random
name at every compute, so a trace and a prediction name it differently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dask
from dask.delayed import Delayed
from dask.order import order
from dask.utils import key_split

from schedtutor import _work
from schedtutor._base import materialize
from schedtutor._compat import Alias, DataNode, Task, fused_subgraph
from schedtutor._simulate import Job, Segment

KINDS = {"sleeplock": "lock", "sleep": "sleep", "python": "python", "numpy": "numpy"}
"""The simulation's kind of segment for each kind of work of :data:`schedtutor.ops.WORK_KINDS`."""

_OP_FUNCS = frozenset(_work.OPS.values())


@dataclass(frozen=True)
class Kinds:
    """The simulation's kind of segment for the tasks that are not library ops.

    >>> Kinds("sleep", {"crunch": "python"}).of("crunch-1f2e")
    'python'
    """

    default: str = "sleep"
    by_name: Mapping[str, str] = field(default_factory=dict)
    """A kind per task name (a key's prefix, :func:`dask.utils.key_split`)."""

    def of(self, key: Any) -> str:
        """Return the kind of the task ``key``."""
        if not self.by_name:
            return self.default
        return self.by_name.get(key_split(key), self.default)


_FINALIZE = re.compile(r"finalize-hlgfinalizecompute-[0-9a-f]{32}")


def stable_key(key: Any) -> Any:
    """Return ``key`` with the random part of Dask's per-compute finalize name removed.

    >>> stable_key("sum-aggregate-finalize-hlgfinalizecompute-a9c478eb69724963a593f0c883ea7cff")
    'sum-aggregate-finalize-hlgfinalizecompute'
    """
    if isinstance(key, str):
        return _FINALIZE.sub("finalize-hlgfinalizecompute", key)
    if isinstance(key, tuple) and key and isinstance(key[0], str):
        return (stable_key(key[0]), *key[1:])
    return key


def stable_table(table: Mapping[Any, float] | None) -> dict[Any, float] | None:
    """Return a durations table keyed by :func:`stable_key`."""
    return None if table is None else {stable_key(k): v for k, v in table.items()}


def graph(obj: Any, scheduler: str, optimize_graph: bool = True) -> dict[Any, Any]:
    """Return the graph ``scheduler`` would run for ``obj``, culled to what its output needs."""
    cheap = isinstance(obj, Delayed) and not dask.config.get("optimization.fuse.delayed")
    dsk, keys = materialize(obj, optimize_graph and not cheap)
    if scheduler == "processes":
        from dask.optimization import cull, fuse

        dsk, dependencies = cull(dsk, keys)
        dsk, _ = fuse(dsk, keys, dependencies)
        return dict(dsk)
    needed, stack = set(), list(keys)
    while stack:
        key = stack.pop()
        if key not in needed and key in dsk:
            needed.add(key)
            stack.extend(dsk[key].dependencies)
    return {key: node for key, node in dsk.items() if key in needed}


def jobs(dsk: Mapping[Any, Any], table: Mapping[Any, float] | None, kinds: Kinds) -> list[Job]:
    """Return one job per task of ``dsk`` (data nodes are not tasks), linked both ways."""
    table = stable_table(table)
    priority = order(dsk)
    keys = [k for k in dsk if not isinstance(dsk[k], DataNode)]
    index = {k: i for i, k in enumerate(keys)}
    result = [
        Job(
            k,
            priority[k],
            segments(dsk[k], table, kinds),
            group=k[0] if isinstance(k, tuple) else key_split(k),  # distributed's task group
            data_producer=dsk[k].data_producer,
        )
        for k in keys
    ]
    for job in result:
        node = dsk[job.key]
        deps = node.dependencies if isinstance(node, Task | Alias) else ()
        job.dependencies = [index[d] for d in scheduler_order(deps) if d in index]
        for d in job.dependencies:
            result[d].dependents.append(index[job.key])
    return result


def scheduler_order(keys: Any) -> list[Any]:
    """Return ``keys`` (a task's dependencies) in the order the distributed scheduler holds them.

    The task spec reaches the scheduler pickled: its frozenset of keys is
    rebuilt there from the keys in their order here, one at a time.  The
    scheduler then fills ``TaskState.dependencies``, a set, by adding one
    ``TaskState`` at a time in the order of that rebuilt frozenset; a
    ``TaskState`` hashes as its key.  A set built one element at a time
    iterates in another order than its source where two keys collide or its
    table grew differently, so the keys are put through both steps here (on
    293 tasks of 39 random graphs, recorded with a scheduler plugin in
    distributed 2026.8, the same order every time; one step alone missed 31
    and 34 of them).
    """
    unpickled = _grown(keys)
    return _grown(unpickled)


def _grown(keys: Any) -> list[Any]:
    """Return ``keys`` in the order of a set filled with them one at a time."""
    grown = set()
    for key in keys:
        grown.add(key)
    return list(grown)


def segments(node: Any, table: Mapping[Any, float] | None, kinds: Kinds) -> list[Segment]:
    """Return the work of one scheduled task, one segment per original task in it."""
    found = None if table is None else table.get(stable_key(node.key))
    if found is not None and isinstance(node, Task):
        known = op(node)
        return [(node.key, float(found), known[1] if known else kinds.of(node.key))]
    inner = fused_subgraph(node)
    if inner is not None:
        priority = order(inner)
        return [
            s
            for k in sorted(inner, key=priority.__getitem__)
            for s in segments(inner[k], table, kinds)
        ]
    if not isinstance(node, Task):  # an Alias hands a value on: no work, and no span
        return [(None, 0.0, "sleep")]
    known = op(node)
    if known is not None:
        return [(node.key, *known)]
    if table is None:
        raise ValueError(
            f"cannot tell how long task {node.key!r} takes (it is not one of schedtutor's ops); "
            "pass durations=trace(obj, 'sync') or a {key: seconds} mapping"
        )
    raise ValueError(
        f"durations has no time for task {node.key!r}; trace this same object "
        "(rebuilding a graph gives its tasks new keys)"
    )


def op(node: Task) -> tuple[float, str] | None:
    """Return the seconds and segment kind of a library op's task, or None for another task."""
    if node.func in _OP_FUNCS and len(node.args) == 4:
        delay, work = node.args[2], node.args[3]
    elif node.func is _work.do_work and len(node.args) == 2:
        delay, work = node.args
    else:
        return None
    if isinstance(delay, int | float) and not isinstance(delay, bool) and work in KINDS:
        return float(delay), KINDS[work]
    return None


def critical_path(jobs: list[Job]) -> float:
    """Return the seconds of work on the longest chain of dependent jobs."""
    longest: dict[int, float] = {}
    for i in sorted(range(len(jobs)), key=lambda i: jobs[i].priority):
        before = max((longest[d] for d in jobs[i].dependencies), default=0.0)
        longest[i] = before + sum(seconds for _, seconds, _ in jobs[i].segments)
    return max(longest.values(), default=0.0)
