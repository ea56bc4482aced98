"""Seeded random task graphs of a reader's own functions: graphs nobody tuned the model for.

:func:`random_graph` builds, from a seed, the kind of graph a reader brings:
a layered DAG of their own functions, whose durations
:func:`schedtutor.predict.predict` cannot read from the tasks and so must be
given, as a reader would, by a serial trace::

    graph = random_graph(seed)
    predicted = predict(graph, "threads", durations=trace(graph, "sync"), work=WORK)

The same seed gives the same graph -- shape, durations, kinds of work and
keys -- in any process.  The shape:

* 2 to 6 layers, 1 to 6 tasks a layer (each uniform);
* a task after the first layer depends on 1 to 3 earlier tasks (uniform, at
  most as many as there are): one in the layer just before, the others
  anywhere before it;
* each task works for 0.05 to 0.4 s (uniform), of one of three kinds, each
  a function of this module, chosen at random with these weights:

  ===========  ======  ==========================================  ======
  function     weight  what it does                                 work
  ===========  ======  ==========================================  ======
  ``load``     2       waits, as reading a file or a socket does    sleep
  ``crunch``   1       a pure-Python loop: holds the GIL            python
  ``smooth``   1       NumPy ufuncs on a 2 MB array: releases the   numpy
                       GIL for a few milliseconds at a time
  ===========  ======  ==========================================  ======

* one more task, ``collect``, takes every result no other task uses, so the
  graph has one output; it does no work of its own.

The CPU-bound kinds count their work in the thread's CPU time, as the
library's own ops do, so a task does the same work however fast the CPU was
when the graph was built, and a run is slower only where the CPU is shared.
:data:`WORK` tells ``predict`` which function does which kind of work (the
reader knows which of their functions hold the GIL).

The functions live in this importable module, so the processes and
distributed schedulers pickle them by reference: a worker process imports
this module before its first task, and NumPy before its first ``smooth``
(:mod:`schedtutor._work` imports it only for NumPy work).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from schedtutor._work import do_work

__all__ = [
    "WORK",
    "Shape",
    "build",
    "collect",
    "crunch",
    "load",
    "random_graph",
    "shape",
    "smooth",
]

WORK = {"load": "sleep", "crunch": "python", "smooth": "numpy"}
"""The kind of work of each of this module's functions, as ``predict(work=...)`` takes it."""

_KINDS = (("load", 2), ("crunch", 1), ("smooth", 1))


def load(seconds: float, *inputs: int) -> int:
    """Wait ``seconds`` (as I/O does, without the GIL); return how many inputs came in."""
    time.sleep(seconds)
    return len(inputs)


def crunch(seconds: float, *inputs: int) -> int:
    """Run a pure-Python loop for ``seconds`` of this thread's CPU time (holding the GIL)."""
    do_work(seconds, "python")
    return len(inputs)


def smooth(seconds: float, *inputs: int) -> int:
    """Run NumPy ufuncs for ``seconds`` of this thread's CPU time (they release the GIL)."""
    do_work(seconds, "numpy")
    return len(inputs)


def collect(*inputs: int) -> int:
    """Return the sum of the inputs: the graph's one output, no work of its own."""
    return sum(inputs)


_FUNCTIONS = {"load": load, "crunch": crunch, "smooth": smooth}


@dataclass(frozen=True)
class Shape:
    """A random graph's plan, before it is built: its tasks layer by layer."""

    seed: int
    layers: tuple[tuple[tuple[str, float, tuple[int, ...]], ...], ...]
    """Per layer, per task: its function's name, its seconds, the indices of the
    tasks it depends on (tasks numbered in layer order from 0)."""

    @property
    def tasks(self) -> int:
        """How many tasks of work (``collect`` aside)."""
        return sum(map(len, self.layers))

    @property
    def work(self) -> float:
        """The seconds of work of all tasks together: a serial run's length."""
        return sum(seconds for layer in self.layers for _, seconds, _ in layer)


def shape(seed: int) -> Shape:
    """Return the plan of graph ``seed``.

    >>> plan = shape(7)
    >>> 2 <= len(plan.layers) <= 6 and all(1 <= len(layer) <= 6 for layer in plan.layers)
    True
    >>> plan == shape(7)
    True
    """
    rng = random.Random(seed)
    names = [name for name, weight in _KINDS for _ in range(weight)]
    layers = []
    before = 0  # tasks in the layers so far
    previous: range = range(0)
    for depth in range(rng.randint(2, 6)):
        layer = []
        for _ in range(rng.randint(1, 6)):
            needs: tuple[int, ...] = ()
            if depth > 0:
                count = min(rng.randint(1, 3), before)
                first = rng.choice(previous)
                others = rng.sample([t for t in range(before) if t != first], count - 1)
                needs = tuple(sorted([first, *others]))
            layer.append((rng.choice(names), round(rng.uniform(0.05, 0.4), 3), needs))
        previous = range(before, before + len(layer))
        before += len(layer)
        layers.append(tuple(layer))
    return Shape(seed, tuple(layers))


def random_graph(seed: int) -> Any:
    """Return graph ``seed`` as one ``Delayed`` (its ``collect`` task).

    >>> graph = random_graph(7)
    >>> graph.compute(scheduler="sync") >= 1
    True
    """
    return build(shape(seed))


def build(plan: Shape) -> Any:
    """Return the graph ``plan`` describes, its keys named after its seed and places."""
    from dask.delayed import delayed

    seed = plan.seed
    built: list[Any] = []
    used: set[int] = set()
    for depth, layer in enumerate(plan.layers):
        for position, (name, seconds, needs) in enumerate(layer):
            key = f"{name}-s{seed}l{depth}t{position}"
            inputs = [built[i] for i in needs]
            used.update(needs)
            built.append(delayed(_FUNCTIONS[name], pure=True)(seconds, *inputs, dask_key_name=key))
    last = [task for i, task in enumerate(built) if i not in used]
    return delayed(collect, pure=True)(*last, dask_key_name=f"collect-s{seed}")
