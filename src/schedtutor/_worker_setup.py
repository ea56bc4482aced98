"""Set up the worker processes schedtutor starts: they leave Ctrl-C to their parent.

:func:`schedtutor.local_cluster` hands this module to its worker processes as
a Dask *preload*: each one imports it when it starts and calls
:func:`dask_setup`.  The processes scheduler's pool runs
:func:`pool_initializer` in each of its worker processes.

Both make the worker process ignore Ctrl-C.  In a terminal, Ctrl-C
sends SIGINT to every process of the foreground group: without this, each
worker process dies on its own with a ``KeyboardInterrupt`` traceback while its
parent is still closing the cluster (or pool) in order -- an idle pool worker
prints its traceback even when the parent exits cleanly.  With it, only the
parent sees the interrupt and shuts everything down.  (A Ctrl-C in the moment between a
worker's spawn and this set-up still reaches that worker.)

Only a process's main thread may change a signal handler.  The worker of a
spawned process runs its event loop in its main thread, so this applies
there; a worker with ``processes=False`` lives in the parent's event-loop
thread, and is left alone.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

__all__ = ["dask_setup", "pool_initializer"]


def _ignore_sigint() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def dask_setup(worker: object) -> None:
    """Ignore SIGINT in this worker process (Dask calls this when the worker starts)."""
    _ignore_sigint()


def pool_initializer(user_initializer: Callable[[], object] | None = None) -> None:
    """Ignore SIGINT in this pool worker process, then run ``user_initializer`` if given."""
    _ignore_sigint()
    if user_initializer is not None:
        user_initializer()
