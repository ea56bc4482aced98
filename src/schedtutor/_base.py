"""What several modules of the library need: is it a collection, what is it called, its graph.

Timing, tracing, drawing and predicting all start the same way: they refuse
anything that is not a Dask collection, name a scheduler configuration for a
reader (``processes (chunksize=1)``), and -- tracing and predicting -- ask
for the task graph ``dask.compute`` would run.  Those three things live
here, once; the public modules re-export the names a reader may want
(:func:`schedtutor.timing.label`, :func:`schedtutor.trace.materialize`).
Tracing and predicting also build a record or more per task, by the hundred
thousand on a large graph, with Python's cyclic garbage collector paused
(:func:`gc_paused`).
The modules that draw (timelines, speed-up charts) check where a figure is
to be written, before drawing, and write it, here too.  And what a worker
process must import to unpickle a graph's tasks (:func:`task_modules`), which
the processes model prices and a cluster's workers are asked about.
"""

from __future__ import annotations

import gc
import reprlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dask.base import is_dask_collection

from schedtutor import _compat

__all__ = [
    "FIGURE_FORMATS",
    "check_collection",
    "check_figure_file",
    "gc_paused",
    "label",
    "materialize",
    "save_figure",
    "task_modules",
]

FIGURE_FORMATS = ("png", "svg", "pdf")
"""The image formats the library writes figures in."""


def check_collection(obj: object) -> None:
    """Raise ``TypeError`` unless ``obj`` is a Dask collection.

    >>> check_collection(5)
    Traceback (most recent call last):
    ...
    TypeError: expected a Dask collection (a Delayed, dask array, dataframe or bag), got int: 5
    """
    if not is_dask_collection(obj):
        raise TypeError(
            f"expected a Dask collection (a Delayed, dask array, dataframe or bag), "
            f"got {type(obj).__name__}: {reprlib.repr(obj)}"
        )


def label(scheduler: str, options: Mapping[str, Any]) -> str:
    """Return a short readable label for a configuration.

    >>> label("processes", {"chunksize": 1})
    'processes (chunksize=1)'
    """
    shown = {k: v for k, v in options.items() if k != "client"}
    if not shown:
        return scheduler
    return f"{scheduler} ({', '.join(f'{k}={v}' for k, v in shown.items())})"


def materialize(obj: Any, optimize_graph: bool = True) -> tuple[dict[Any, Any], list[Any]]:
    """Return the task graph ``dask.compute`` would run for ``obj``, and its output keys.

    >>> from schedtutor import slow_arithmetic
    >>> graph, keys = materialize(slow_arithmetic(delay=0))
    >>> len(graph), [key.split("-")[0] for key in keys]
    (4, ['div'])
    """
    check_collection(obj)
    with gc_paused():
        return _compat.computed_graph(obj, optimize_graph)


def task_modules(dsk: Mapping[Any, Any]) -> set[str]:
    """Return the modules the tasks of ``dsk`` name: their functions' and their arguments'.

    A worker that unpickles a task imports each module its pickle names: the
    function's (and a wrapped function's: ``functools.partial``, a trace's),
    and the types' of its arguments, inside a task the processes scheduler
    fused too.  A lambda or a function defined inside another is pickled by
    value and is counted as ``__main__``'s.

    >>> from schedtutor import slow_arithmetic
    >>> sorted(task_modules(materialize(slow_arithmetic(delay=0))[0]))
    ['schedtutor._work']
    """
    found: set[str] = set()
    stack: list[Any] = list(dsk.values())
    while stack:
        node = stack.pop()
        inner = _compat.fused_subgraph(node)
        if inner is not None:
            stack.extend(inner.values())
        elif isinstance(node, _compat.Task):
            found.update(_function_modules(node.func))
            stack.extend(node.args)
            stack.extend(node.kwargs.values())
        elif isinstance(node, _compat.DataNode):
            stack.append(node.value)
        elif isinstance(node, _compat.GraphNode):
            continue  # an alias or a reference to another task's result
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        else:
            found.add(type(node).__module__)
    found.discard("builtins")
    found.discard("dask._task_spec")  # a reference to another task's result (a TaskRef)
    return found


def _function_modules(func: Any) -> Iterable[str]:
    """The module of ``func``, and of the function it wraps, and so on."""
    while callable(func):
        if "<" in getattr(func, "__qualname__", ""):  # a lambda or a nested function
            yield "__main__"
        else:
            module = getattr(func, "__module__", None)
            yield module if isinstance(module, str) else type(func).__module__
        func = getattr(func, "func", None)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block (if it was running).

    Building hundreds of thousands of small objects that all stay alive -- a
    graph's jobs, a simulation's events, a trace's spans -- makes the
    collector scan every live object again and again: it took 40 % of a
    prediction's time on 100 000 tasks, and made its cost per task grow with
    the graph (5 µs per task at 10 000 tasks, 26 µs at 100 000).  Nothing
    built in such a block is garbage in a cycle that must go at once: the
    collector catches up when it runs again.  Reference counting frees the
    rest meanwhile, as always.

    >>> with gc_paused():
    ...     gc.isenabled()
    False
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def check_figure_file(filename: str | Path, what: str = "figure") -> Path:
    """Return ``filename`` as a Path if a ``what`` can be written there, else raise ValueError.

    >>> check_figure_file("runs.gif", "chart")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cannot write a chart to 'runs.gif': unknown extension '.gif'; expected ...
    """
    path = Path(filename)
    if path.suffix.lower().lstrip(".") not in FIGURE_FORMATS:
        raise ValueError(
            f"cannot write a {what} to {str(filename)!r}: unknown extension "
            f"{path.suffix or '(none)'!r}; expected .png, .svg or .pdf"
        )
    if not path.parent.is_dir():
        raise ValueError(
            f"cannot write a {what} to {str(filename)!r}: folder {str(path.parent)!r} "
            "does not exist"
        )
    return path


def save_figure(figure: Any, filename: str | Path, what: str = "figure") -> None:
    """Write a matplotlib ``figure`` to ``filename``; a failure is one line of ValueError."""
    try:
        figure.savefig(filename, dpi=110)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ValueError(
            f"cannot write a {what} to {str(filename)!r}: {reason}; give a path you can write"
        ) from None
