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
``SCHEDTUTOR_UNVERIFIED``            what the site build does with a claim the
                                     machine was too busy to verify, ``refuse``
                                     (default) or ``mark``:
                                     :func:`unverified_claims`
``SCHEDTUTOR_BROWSER``               the Chromium or Chrome the browser test
                                     drives (default: the first of
                                     :data:`BROWSER_NAMES` on ``PATH``):
                                     :func:`browser`
``SCHEDTUTOR_COSTS``                 where :func:`schedtutor.predict.predict`'s
                                     costs come from, ``cached`` (default),
                                     ``refresh`` or ``builtin``: :func:`costs_mode`
``SCHEDTUTOR_CACHE_DIR``             the folder of schedtutor's cache (the
                                     machine's measured costs): :func:`cache_folder`
===================================  ==========================================

:func:`cache_folder` also reads the platform's own variables for where caches
go (``XDG_CACHE_HOME`` on Linux, ``LOCALAPPDATA`` on Windows).

This module imports nothing but the standard library: the worker processes
the processes scheduler spawns read :func:`work_log` when they run a task.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path

__all__ = [
    "BENCHMARKS",
    "BROWSER",
    "BROWSER_NAMES",
    "CACHE_DIR",
    "COSTS",
    "DELAY",
    "EXECUTION",
    "FREE_THREADED_PYTHON",
    "SCHEDULER_ADDRESS",
    "UNVERIFIED",
    "WORK_LOG",
    "benchmarks_folder",
    "browser",
    "cache_folder",
    "costs_mode",
    "delay",
    "execution_mode",
    "free_threaded_python",
    "scheduler_address",
    "unverified_claims",
    "work_log",
]

DELAY = "SCHEDTUTOR_DELAY"
SCHEDULER_ADDRESS = "SCHEDTUTOR_SCHEDULER_ADDRESS"
FREE_THREADED_PYTHON = "SCHEDTUTOR_FREE_THREADED_PYTHON"
EXECUTION = "SCHEDTUTOR_EXECUTION"
BENCHMARKS = "SCHEDTUTOR_BENCHMARKS"
WORK_LOG = "SCHEDTUTOR_WORK_LOG"
COSTS = "SCHEDTUTOR_COSTS"
CACHE_DIR = "SCHEDTUTOR_CACHE_DIR"
UNVERIFIED = "SCHEDTUTOR_UNVERIFIED"
BROWSER = "SCHEDTUTOR_BROWSER"

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")
"""The programs :func:`browser` looks for on ``PATH``, in this order (Debian's name first)."""

EXECUTION_MODES = ("force", "cache")
"""The values :func:`execution_mode` accepts; the first is the default."""

COSTS_MODES = ("cached", "refresh", "builtin")
"""The values :func:`costs_mode` accepts; the first is the default."""

UNVERIFIED_CHOICES = ("refuse", "mark")
"""The values :func:`unverified_claims` accepts; the first is the default."""


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


def costs_mode() -> str:
    """Return ``SCHEDTUTOR_COSTS``, lower case: ``cached`` (the default), ``refresh``, ``builtin``.

    ``cached``: :func:`schedtutor.predict.predict` uses this machine's costs,
    measured the first time they are needed and kept in :func:`cache_folder`;
    ``refresh``: measured again once in each process, and kept; ``builtin``: the
    built-in costs of a quiet 2-CPU Linux machine, nothing measured
    (:mod:`schedtutor.calibration`).

    >>> os.environ.pop(COSTS, None) and None
    >>> costs_mode()
    'cached'
    >>> os.environ[COSTS] = "often"
    >>> costs_mode()
    Traceback (most recent call last):
    ...
    ValueError: SCHEDTUTOR_COSTS must be 'cached' (the default), 'refresh' or 'builtin', got 'often'
    >>> del os.environ[COSTS]
    """
    mode = _read(COSTS).lower() or COSTS_MODES[0]
    if mode not in COSTS_MODES:
        raise ValueError(
            f"{COSTS} must be 'cached' (the default), 'refresh' or 'builtin', got {mode!r}"
        )
    return mode


def cache_folder() -> Path:
    """Return the folder schedtutor keeps its cache in.

    ``SCHEDTUTOR_CACHE_DIR`` if set; else the platform's folder for caches, as
    its conventions have it: ``%LOCALAPPDATA%\\schedtutor\\Cache`` on Windows,
    ``~/Library/Caches/schedtutor`` on macOS, ``$XDG_CACHE_HOME/schedtutor``
    (by default ``~/.cache/schedtutor``) elsewhere.

    >>> os.environ[CACHE_DIR] = "~/schedtutor-cache"
    >>> cache_folder() == Path.home() / "schedtutor-cache"
    True
    >>> del os.environ[CACHE_DIR]
    """
    chosen = _read(CACHE_DIR)
    if chosen:
        return Path(chosen).expanduser()
    if sys.platform == "win32":
        local = _read("LOCALAPPDATA")
        return (Path(local) if local else Path.home() / "AppData" / "Local") / "schedtutor/Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "schedtutor"
    xdg = _read("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "schedtutor"


def unverified_claims() -> str:
    """Return what the site build does with an unverified claim: ``refuse`` or ``mark``.

    ``refuse`` (the default, and what a published build does): the build stops,
    as for a claim that did not hold.  ``mark``: the page marks the claim "not
    verified on this build", with the load that prevented it, and the build
    goes on -- for a rebuild on a busy laptop.

    >>> os.environ.pop(UNVERIFIED, None) and None
    >>> unverified_claims()
    'refuse'
    """
    choice = _read(UNVERIFIED).lower() or UNVERIFIED_CHOICES[0]
    if choice not in UNVERIFIED_CHOICES:
        raise ValueError(f"{UNVERIFIED} must be 'refuse' (the default) or 'mark', got {choice!r}")
    return choice


def browser() -> str | None:
    """Return the path of the Chromium the browser test drives, or None when there is none.

    ``SCHEDTUTOR_BROWSER`` names it (a path, or a program on ``PATH``); unset,
    the first of :data:`BROWSER_NAMES` on ``PATH`` is used.

    >>> os.environ[BROWSER] = "no-such-browser-here"
    >>> browser()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: SCHEDTUTOR_BROWSER='no-such-browser-here' is no program: name a Chromium or ...
    >>> del os.environ[BROWSER]
    """
    named = _read(BROWSER)
    if named:
        found = shutil.which(named)
        if found is None:
            raise ValueError(
                f"{BROWSER}={named!r} is no program: name a Chromium or Chrome (a path, or "
                f"{', '.join(BROWSER_NAMES[:-1])} or {BROWSER_NAMES[-1]} on PATH)"
            )
        return found
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None
