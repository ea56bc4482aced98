"""Slow delayed arithmetic: the four ops of the old lesson, made configurable.

Each op -- :func:`add`, :func:`sub`, :func:`mul`, :func:`div` -- builds one Dask
task that spends ``delay`` seconds working, then does its arithmetic.  What the
work is decides which schedulers can run two of them at once:

============  =========================================  ============================
``work``      what each task does                        runs side by side under
============  =========================================  ============================
sleeplock     ``time.sleep`` holding a per-process lock   processes, distributed
sleep         plain ``time.sleep`` (releases the GIL)      threads, processes, distributed
python        a pure-Python loop (holds the GIL)           processes, distributed
numpy         NumPy ufuncs (release the GIL)               threads, processes, distributed
============  =========================================  ============================

:func:`slow_arithmetic` combines them as the old notebook did,
``(1 + 3) * (2 - 4) / 3.5``.

The delay and the kind of work are validated here, in the parent process, and
then travel inside each task as arguments, so a spawned worker process or a
remote distributed worker does exactly what was asked.  The default delay is
1 s; the environment variable ``SCHEDTUTOR_DELAY`` changes it (the tests and the
fast documentation build use it).
"""

from __future__ import annotations

import math
from numbers import Real

from dask.delayed import Delayed, delayed

from schedtutor import _work, settings
from schedtutor._work import WORK_KINDS

__all__ = [
    "DEFAULT_DELAY",
    "WORK_KINDS",
    "add",
    "check_delay",
    "check_work",
    "default_delay",
    "div",
    "fast_mode",
    "mul",
    "slow_arithmetic",
    "sub",
]

DEFAULT_DELAY = 1.0
"""Seconds each op works when neither ``delay`` nor ``SCHEDTUTOR_DELAY`` is given."""

FAST_MODE_BELOW = 0.5
"""A delay under this many seconds asks for the site's fast build (see :func:`fast_mode`)."""

EXPECTED_RESULT = (1 + 3) * (2 - 4) / 3.5


def check_delay(delay: object, what: str = "delay") -> float:
    """Return ``delay`` as a float of seconds, or raise ``ValueError`` saying why not.

    >>> check_delay(0.5)
    0.5
    >>> check_delay(-1)
    Traceback (most recent call last):
    ...
    ValueError: delay must be a finite number of seconds >= 0, got -1
    """
    if isinstance(delay, bool) or not isinstance(delay, Real):
        raise ValueError(f"{what} must be a finite number of seconds >= 0, got {delay!r}")
    seconds = float(delay)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{what} must be a finite number of seconds >= 0, got {delay!r}")
    return seconds


def check_work(work: object) -> str:
    """Return ``work`` if it is a known kind of work, else raise ``ValueError``.

    >>> check_work("sleep")
    'sleep'
    >>> check_work("gpu")
    Traceback (most recent call last):
    ...
    ValueError: unknown work kind 'gpu'; expected one of sleeplock, sleep, python, numpy
    """
    if not isinstance(work, str) or work not in WORK_KINDS:
        raise ValueError(f"unknown work kind {work!r}; expected one of {', '.join(WORK_KINDS)}")
    return work


def default_delay() -> float:
    """Return the default delay: ``SCHEDTUTOR_DELAY`` if set, else 1.0 s.

    >>> import os
    >>> os.environ.pop("SCHEDTUTOR_DELAY", None) and None
    >>> default_delay()
    1.0
    """
    return settings.delay(DEFAULT_DELAY)


def fast_mode(delay: float | None = None) -> bool:
    """Whether ``delay`` (by default :func:`default_delay`) asks for the fast build.

    A delay under 0.5 s is the site's fast mode, meant for a quick check of every
    page.  The lessons then repeat their experiments fewer times: at the default
    delay they keep the fastest or the median of several runs, which makes the
    published numbers steadier; in fast mode most run once, and the claims
    checked about them are the same.

    >>> fast_mode(0.2), fast_mode(1.0)
    (True, False)
    """
    seconds = default_delay() if delay is None else check_delay(delay)
    return seconds < FAST_MODE_BELOW


def _settings(delay: object, work: object) -> tuple[float, str]:
    seconds = default_delay() if delay is None else check_delay(delay)
    return seconds, check_work(work)


def add(x: object, y: object, *, delay: float | None = None, work: str = "sleeplock") -> Delayed:
    """Return a task that works for ``delay`` seconds, then adds ``x`` and ``y``.

    >>> add(1, 3, delay=0.001).compute(scheduler="sync")
    4
    """
    task: Delayed = delayed(_work.add)(x, y, *_settings(delay, work))
    return task


def sub(x: object, y: object, *, delay: float | None = None, work: str = "sleeplock") -> Delayed:
    """Return a task that works for ``delay`` seconds, then subtracts ``y`` from ``x``.

    >>> sub(2, 4, delay=0.001).compute(scheduler="sync")
    -2
    """
    task: Delayed = delayed(_work.sub)(x, y, *_settings(delay, work))
    return task


def mul(x: object, y: object, *, delay: float | None = None, work: str = "sleeplock") -> Delayed:
    """Return a task that works for ``delay`` seconds, then multiplies ``x`` by ``y``.

    >>> mul(4, -2, delay=0.001).compute(scheduler="sync")
    -8
    """
    task: Delayed = delayed(_work.mul)(x, y, *_settings(delay, work))
    return task


def div(x: object, y: object, *, delay: float | None = None, work: str = "sleeplock") -> Delayed:
    """Return a task that works for ``delay`` seconds, then divides ``x`` by ``y``.

    >>> div(-8, 3.5, delay=0.001).compute(scheduler="sync")
    -2.2857142857142856
    """
    task: Delayed = delayed(_work.div)(x, y, *_settings(delay, work))
    return task


def slow_arithmetic(delay: float | None = None, work: str = "sleeplock") -> Delayed:
    """Return the old lesson's graph, ``(1 + 3) * (2 - 4) / 3.5``, as one Delayed.

    Four tasks of ``delay`` seconds each: ``add`` and ``sub`` are independent,
    ``mul`` needs both, ``div`` needs ``mul``.

    >>> slow_arithmetic(delay=0.001).compute(scheduler="threads")
    -2.2857142857142856
    """
    seconds, kind = _settings(delay, work)
    x = add(1, 3, delay=seconds, work=kind)
    y = sub(2, 4, delay=seconds, work=kind)
    z = mul(x, y, delay=seconds, work=kind)
    return div(z, 3.5, delay=seconds, work=kind)
