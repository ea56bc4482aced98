"""Set up each worker process of :func:`schedtutor.local_cluster` (a Dask preload).

``local_cluster`` hands this module to its worker processes as a *preload*:
each one imports it when it starts and calls :func:`dask_setup`.

The set-up makes the worker process ignore Ctrl-C.  In a terminal, Ctrl-C
sends SIGINT to every process of the foreground group: without this, each
worker process dies on its own with a ``KeyboardInterrupt`` traceback while its
parent is still closing the cluster in order.  With it, only the parent sees
the interrupt and shuts the cluster down.  (A Ctrl-C in the moment between a
worker's spawn and this set-up still reaches that worker.)

Only a process's main thread may change a signal handler.  The worker of a
spawned process runs its event loop in its main thread, so this applies
there; a worker with ``processes=False`` lives in the parent's event-loop
thread, and is left alone.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["dask_setup"]


def dask_setup(worker: object) -> None:
    """Ignore SIGINT in this worker process (Dask calls this when the worker starts)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
