"""The task functions behind :mod:`schedtutor.ops`, kept importable on purpose.

These are the functions that actually run inside Dask's workers.  They live in
an importable module, so the processes and distributed schedulers pickle them
by reference, and everything they need -- the delay and the kind of work -- is
an argument of the task, not a global of the parent process (a spawned worker
process never sees the parent's globals or environment changes).

Their names (``add``, ``sub``, ``mul``, ``div``) become the prefixes of the
task keys, so a task graph reads ``add-3f2a...`` rather than ``_add-...``.

A worker process imports this module to unpickle its first task, and pays
for every import here before it starts work: so this module imports only the
standard library and two small modules of the package (:mod:`schedtutor.settings`,
:mod:`schedtutor.sleeplock`), and NumPy only when NumPy work runs.  With the
package's lazy ``__init__``, ``import schedtutor._work`` costs a fraction of
``import dask`` (``make bench`` reports the ratio).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from schedtutor import settings, sleeplock

#: Kinds of work a slow op can do, with what each does to the GIL.
WORK_KINDS: dict[str, str] = {
    "sleeplock": "time.sleep while holding one lock per process (the old notebook)",
    "sleep": "plain time.sleep, which releases the GIL",
    "python": "a pure-Python loop that holds the GIL",
    "numpy": "NumPy ufuncs on a large array, which release the GIL",
}

_NUMPY_SIZE = 1 << 18


def do_work(seconds: float, work: str) -> None:
    """Spend ``seconds`` doing work of kind ``work`` (one of :data:`WORK_KINDS`).

    CPU work is measured in this thread's CPU time, not wall time: two threads
    that share the GIL each still do ``seconds`` of work, so together they take
    twice as long -- which is exactly what the lesson wants to show.
    """
    if seconds <= 0:
        return
    _do_work(seconds, work)
    log = settings.work_log()
    if log:
        _log_work(log, seconds, work)


def _do_work(seconds: float, work: str) -> None:
    if work == "sleeplock":
        sleeplock.sleep(seconds)
    elif work == "sleep":
        time.sleep(seconds)
    elif work == "python":
        _python_work(seconds)
    elif work == "numpy":
        _numpy_work(seconds)
    else:  # validated before the task was built; a guard for direct callers
        raise ValueError(f"unknown work kind {work!r}; expected one of {', '.join(WORK_KINDS)}")


def _log_work(path: str, seconds: float, work: str) -> None:
    """Append ``end-seconds end work`` (wall-clock epoch times) to the work log at ``path``.

    The benchmarks add these intervals up to find the build's *sleep floor*: the
    seconds the lessons deliberately spend working, which no speed-up can remove.
    """
    end = time.time()
    with open(path, "a", encoding="utf-8") as log:
        log.write(f"{end - seconds:.6f} {end:.6f} {work}\n")


def logging_work(function: Callable[..., Any], seconds: float, work: str) -> Callable[..., Any]:
    """Return ``function``, logging ``seconds`` of ``work`` to the work log after each call.

    For a page whose example functions wait or compute on their own (a reader's
    ``time.sleep``, not an op's): their deliberate work then counts towards the
    build's sleep floor as the ops' does.  Without ``SCHEDTUTOR_WORK_LOG`` the
    wrapper only calls ``function``; it keeps its name, module and docstring, so
    task keys and pickling by value are as they were.
    """

    @functools.wraps(function)
    def logged(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        log = settings.work_log()
        if log:
            _log_work(log, seconds, work)
        return result

    return logged


def _python_work(seconds: float) -> None:
    end = time.thread_time() + seconds
    total = 0
    while time.thread_time() < end:
        for i in range(2000):
            total += i * i % 7


def _numpy_work(seconds: float) -> None:
    import numpy as np  # only here: a worker that never runs NumPy work never imports it

    values = np.linspace(0.0, 1.0, _NUMPY_SIZE)
    out = np.empty_like(values)
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        np.sqrt(values, out=out)
        np.sin(out, out=out)


def add(x: float, y: float, delay: float, work: str) -> float:
    """Work for ``delay`` seconds, then return ``x + y``."""
    do_work(delay, work)
    return x + y


def sub(x: float, y: float, delay: float, work: str) -> float:
    """Work for ``delay`` seconds, then return ``x - y``."""
    do_work(delay, work)
    return x - y


def mul(x: float, y: float, delay: float, work: str) -> float:
    """Work for ``delay`` seconds, then return ``x * y``."""
    do_work(delay, work)
    return x * y


def div(x: float, y: float, delay: float, work: str) -> float:
    """Work for ``delay`` seconds, then return ``x / y``."""
    do_work(delay, work)
    return x / y


#: The task functions above, by name; the tracer and the model recognise them.
OPS = {"add": add, "sub": sub, "mul": mul, "div": div}
