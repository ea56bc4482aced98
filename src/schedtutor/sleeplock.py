"""A ``sleep`` that holds a lock: the old lesson's reason why threads did not help.

The 2018 "Dask Schedulers" notebook imported ``sleep`` from a small module of its
own whose ``sleep`` acquired a module-level :class:`threading.Lock` before
sleeping.  Two threads that call it can never sleep at the same time, so the
threaded scheduler takes as long as the single-threaded one.  That is the
lock's doing, not the GIL's: :func:`time.sleep` releases the GIL.

The lock lives in an importable module on purpose.  The processes scheduler
pickles tasks with cloudpickle; a function from an importable module is pickled
*by reference*, so each worker process imports this module and gets a lock of
its own.  Processes therefore run these sleeps side by side, threads do not.
(A lock defined in ``__main__`` -- a script or a notebook -- is pickled *by
value* and fails with ``TypeError: cannot pickle '_thread.lock' object``.)

Use it exactly as the old notebook did::

    from schedtutor.sleeplock import sleep

:func:`lock_wait` reports how long the calling thread has spent waiting for
the lock so far; the tracer uses it to draw lock waits apart from work.
"""

from __future__ import annotations

import math
import threading
import time
from numbers import Real

__all__ = ["lock", "lock_wait", "sleep"]

lock = threading.Lock()
"""The one lock every :func:`sleep` in this process holds while it sleeps."""

_waited = threading.local()


def sleep(seconds: float) -> None:
    """Sleep for ``seconds`` while holding the module's :data:`lock`.

    The lock is released when the sleep ends or is interrupted.

    >>> sleep(0.001)
    >>> lock.locked()
    False
    """
    if isinstance(seconds, bool) or not isinstance(seconds, Real) or not 0 <= seconds < math.inf:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
    asked = time.perf_counter()
    with lock:
        _waited.total = getattr(_waited, "total", 0.0) + (time.perf_counter() - asked)
        time.sleep(seconds)


def lock_wait() -> float:
    """Return the seconds this thread has spent waiting for :data:`lock` so far.

    >>> before = lock_wait()
    >>> sleep(0.001)
    >>> lock_wait() >= before
    True
    """
    total: float = getattr(_waited, "total", 0.0)
    return total
