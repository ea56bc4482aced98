"""The environment variables schedtutor reads, all of them, in one place.

Each ``SCHEDTUTOR_*`` variable is read by one function here and nowhere
else, so what a variable means, its default and the error for a bad value
are written once:

===================================  ==========================================
``SCHEDTUTOR_DELAY``                 seconds each slow op works (default 1.0):
                                     :func:`delay`
``SCHEDTUTOR_SCHEDULER_ADDRESS``     a running Dask scheduler the distributed
                                     lesson uses instead of local clusters:
                                     :func:`scheduler_address`
``SCHEDTUTOR_FREE_THREADED_PYTHON``  a free-threaded Python with schedtutor
                                     installed: :func:`free_threaded_python`
``SCHEDTUTOR_EXECUTION``             how the site build runs its notebooks,
                                     ``force`` (default) or ``cache``:
                                     :func:`execution_mode`
``SCHEDTUTOR_BENCHMARKS``            the folder of the committed benchmark
                                     results: :func:`benchmarks_folder`
``SCHEDTUTOR_WORK_LOG``              a file each task appends its deliberate
                                     work to (the benchmarks): :func:`work_log`
===================================  ==========================================

This module imports nothing but the standard library: the worker processes
the processes scheduler spawns read :func:`work_log` when they run a task.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = [
    "BENCHMARKS",
    "DELAY",
    "EXECUTION",
    "FREE_THREADED_PYTHON",
    "SCHEDULER_ADDRESS",
    "WORK_LOG",
    "benchmarks_folder",
    "delay",
    "execution_mode",
    "free_threaded_python",
    "scheduler_address",
    "work_log",
]

DELAY = "SCHEDTUTOR_DELAY"
SCHEDULER_ADDRESS = "SCHEDTUTOR_SCHEDULER_ADDRESS"
FREE_THREADED_PYTHON = "SCHEDTUTOR_FREE_THREADED_PYTHON"
EXECUTION = "SCHEDTUTOR_EXECUTION"
BENCHMARKS = "SCHEDTUTOR_BENCHMARKS"
WORK_LOG = "SCHEDTUTOR_WORK_LOG"

EXECUTION_MODES = ("force", "cache")
"""The values :func:`execution_mode` accepts; the first is the default."""


def _read(name: str) -> str:
    return os.environ.get(name, "").strip()


def delay(default: float = 1.0) -> float:
    """Return ``SCHEDTUTOR_DELAY`` in seconds, or ``default`` when it is unset or empty.

    >>> os.environ[DELAY] = "0.2"
    >>> delay()
    0.2
    >>> os.environ[DELAY] = "soon"
    >>> delay()
    Traceback (most recent call last):
    ...
    ValueError: SCHEDTUTOR_DELAY must be a finite number of seconds >= 0, got 'soon'
    >>> del os.environ[DELAY]
    """
    raw = _read(DELAY)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{DELAY} must be a finite number of seconds >= 0, got {raw!r}")
    return value


def scheduler_address() -> str | None:
    """Return ``SCHEDTUTOR_SCHEDULER_ADDRESS``, or None when it is unset or empty.

    >>> os.environ.pop(SCHEDULER_ADDRESS, None) and None
    >>> scheduler_address() is None
    True
    """
    return _read(SCHEDULER_ADDRESS) or None


def free_threaded_python() -> str | None:
    """Return ``SCHEDTUTOR_FREE_THREADED_PYTHON`` (a path or a command), or None."""
    return _read(FREE_THREADED_PYTHON) or None


def execution_mode() -> str:
    """Return ``SCHEDTUTOR_EXECUTION`` in lower case: ``force`` (the default) or ``cache``.

    >>> os.environ.pop(EXECUTION, None) and None
    >>> execution_mode()
    'force'
    """
    mode = _read(EXECUTION).lower() or EXECUTION_MODES[0]
    if mode not in EXECUTION_MODES:
        raise ValueError(f"{EXECUTION} must be 'force' (the default) or 'cache', got {mode!r}")
    return mode


def benchmarks_folder(default: str | Path = "benchmarks") -> Path:
    """Return ``SCHEDTUTOR_BENCHMARKS`` as a path, or ``default``."""
    return Path(_read(BENCHMARKS) or default)


def work_log() -> str | None:
    """Return ``SCHEDTUTOR_WORK_LOG``, the file tasks log their work to, or None."""
    return _read(WORK_LOG) or None
