"""Time a computation under one scheduler, or compare several side by side.

:func:`run` computes a Dask collection once and reports how long the compute
took.  For the distributed scheduler, starting (or connecting to) the cluster
is reported apart, as ``startup``: it is paid once, not per compute.  For the
processes scheduler the start-up of its spawn pool *is* part of every compute,
because Dask starts a fresh pool each time -- so it stays in ``seconds``.

:func:`compare` runs several configurations ``repeat`` times each and keeps
every run; its :class:`Comparison` reports the median with the min and max,
renders as a table in a notebook (HTML) and in Markdown, and turns into plain
records for JSON.  A configuration is a scheduler name or a ``(name, options)``
pair:

>>> from schedtutor import slow_arithmetic
>>> graph = slow_arithmetic(delay=0.01)
>>> table = compare(graph, ["sync", ("threads", {"num_workers": 2})], repeat=1)
>>> [record["label"] for record in table.to_records()]
['sync', 'threads (num_workers=2)']

:func:`fastest` is for CPU-bound timings on a busy machine: it keeps the fastest
of a few runs, and runs again only while even the fastest is well above what
was expected.  :func:`typical` picks, of several runs, the one with the median
time, to show a run that really happened rather than an average of several.
"""

from __future__ import annotations

import functools
import html
import math
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dask.delayed import delayed

from schedtutor._base import check_collection, label
from schedtutor.schedulers import Scheduler, check_options, open_scheduler

__all__ = [
    "Comparison",
    "Config",
    "Run",
    "Spent",
    "Timing",
    "compare",
    "fastest",
    "label",
    "parse_configs",
    "run",
    "time_spent",
    "typical",
]

T = TypeVar("T")

Config = tuple[str, dict[str, Any]]
"""A scheduler configuration: canonical name and options."""


@dataclass(frozen=True)
class Run:
    """One timed compute: its result, its seconds, and under what it ran."""

    result: Any
    seconds: float
    scheduler: str
    options: dict[str, Any] = field(default_factory=dict)
    startup: float = 0.0

    @property
    def label(self) -> str:
        """The configuration's readable label."""
        return label(self.scheduler, self.options)


@functools.cache
def warm_up() -> None:
    """Pay Dask's one-off first-compute cost (lazy imports, about 0.1-0.2 s) once, untimed.

    The first compute in a process is slower than every later one for reasons that
    have nothing to do with the scheduler being timed; without this, whichever
    configuration runs first would look slower than it is.
    """
    delayed(len)([]).compute(scheduler="sync")


def _timed(opened: Scheduler, obj: Any) -> Run:
    warm_up()
    started = time.perf_counter()
    result = opened.compute(obj)
    seconds = time.perf_counter() - started
    return Run(result, seconds, opened.name, dict(opened.options), opened.startup)


def run(obj: Any, scheduler: str = "threads", **options: Any) -> Run:
    """Compute ``obj`` once under ``scheduler`` and return the timed :class:`Run`.

    >>> from schedtutor import slow_arithmetic
    >>> timed = run(slow_arithmetic(delay=0.01), "multiprocessing", chunksize=1)
    >>> timed.scheduler, timed.result, timed.seconds > 0
    ('processes', -2.2857142857142856, True)
    """
    check_collection(obj)
    with open_scheduler(scheduler, **options) as opened:
        return _timed(opened, obj)


def _seconds(measured: Any) -> float:
    return float(measured.seconds)


def fastest(
    measure: Callable[[], T],
    *,
    at_least: int = 1,
    at_most: int = 4,
    good_enough: float = math.inf,
    seconds: Callable[[T], float] = _seconds,
) -> T:
    """Call ``measure`` a few times and return its fastest result.

    Other programs on the machine can only slow a run down, so of several runs
    of the same CPU-bound work the fastest is the truest.  ``measure`` runs
    ``at_least`` times, then again -- ``at_most`` times in all -- while even the
    fastest run took more than ``good_enough`` seconds (a prediction with a
    margin, say).  ``seconds`` reads a result's time: its ``seconds`` attribute,
    as a :class:`Run` or a :class:`~schedtutor.trace.Trace` has.

    >>> times = iter([0.9, 0.7, 0.5, 0.4])
    >>> fastest(lambda: next(times), at_least=2, good_enough=0.6, seconds=float)
    0.5
    >>> fastest(lambda: 1.0, at_least=0)
    Traceback (most recent call last):
    ...
    ValueError: fastest needs 1 <= at_least <= at_most, got at_least=0, at_most=4
    """
    if not 1 <= at_least <= at_most:
        raise ValueError(
            f"fastest needs 1 <= at_least <= at_most, got at_least={at_least}, at_most={at_most}"
        )
    best = measure()
    for done in range(1, at_most):
        if done >= at_least and seconds(best) <= good_enough:
            break
        best = min(best, measure(), key=seconds)
    return best


@dataclass(frozen=True)
class Timing:
    """Every run of one configuration in a :func:`compare`."""

    scheduler: str
    options: dict[str, Any]
    runs: tuple[Run, ...]

    @property
    def label(self) -> str:
        """The configuration's readable label."""
        return label(self.scheduler, self.options)

    @property
    def seconds(self) -> float:
        """The median compute time over the runs."""
        return statistics.median(r.seconds for r in self.runs)

    @property
    def startup(self) -> float:
        """Seconds to start or reach the cluster (0 for local schedulers)."""
        return self.runs[0].startup

    def to_record(self) -> dict[str, Any]:
        """Return this configuration as a plain dict (JSON-ready apart from ``result``)."""
        times = [r.seconds for r in self.runs]
        return {
            "scheduler": self.scheduler,
            "options": {k: v for k, v in self.options.items() if k != "client"},
            "label": self.label,
            "seconds": self.seconds,
            "min": min(times),
            "max": max(times),
            "startup": self.startup,
            "repeat": len(times),
            "runs": times,
            "result": self.runs[0].result,
        }


_COLUMNS = ("configuration", "median s", "min s", "max s", "cluster start s", "result")


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`: one :class:`Timing` per configuration."""

    timings: tuple[Timing, ...]

    def __getitem__(self, key: str) -> Timing:
        """Return the timing whose label (or canonical scheduler name) is ``key``."""
        for timing in self.timings:
            if key in (timing.label, timing.scheduler) and (
                key == timing.label or sum(t.scheduler == key for t in self.timings) == 1
            ):
                return timing
        raise KeyError(f"no configuration {key!r}; have: {', '.join(self.labels)}")

    @property
    def labels(self) -> list[str]:
        """The labels of the configurations, in the order they ran."""
        return [t.label for t in self.timings]

    def to_records(self) -> list[dict[str, Any]]:
        """Return one dict per configuration (see :meth:`Timing.to_record`)."""
        return [t.to_record() for t in self.timings]

    def _rows(self) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for r in self.to_records():
            startup = f"{r['startup']:.2f}" if r["scheduler"] == "distributed" else ""
            rows.append(
                (
                    r["label"],
                    f"{r['seconds']:.2f}",
                    f"{r['min']:.2f}",
                    f"{r['max']:.2f}",
                    startup,
                    f"{r['result']!r}",
                )
            )
        return rows

    def to_markdown(self) -> str:
        """Return the comparison as a Markdown table."""
        lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
        lines += ["| " + " | ".join(row) + " |" for row in self._rows()]
        return "\n".join(lines)

    def __str__(self) -> str:
        rows = [_COLUMNS, *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in _COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in self._rows()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def parse_configs(schedulers: Iterable[str | tuple[str, Mapping[str, Any]]]) -> list[Config]:
    """Check each configuration (a name or a ``(name, options)`` pair) before any runs.

    >>> parse_configs(["threading", ("processes", {"chunksize": 1})])
    [('threads', {}), ('processes', {'chunksize': 1})]
    """
    if isinstance(schedulers, str):
        schedulers = [schedulers]
    if not isinstance(schedulers, Iterable):
        raise TypeError(
            "schedulers must be a list of names or (name, options) pairs, such as "
            f"['sync', ('processes', {{'chunksize': 1}})], got {type(schedulers).__name__}: "
            f"{schedulers!r}"
        )
    configs: list[Config] = []
    for item in schedulers:
        if isinstance(item, str):
            name, options = item, {}
        elif isinstance(item, Sequence) and len(item) == 2 and isinstance(item[1], Mapping):
            name, options = item[0], dict(item[1])
        else:
            raise TypeError(
                f"each scheduler must be a name or a (name, options) pair, got {item!r}"
            )
        configs.append((check_options(name, options), options))
    if not configs:
        raise ValueError(
            "compare needs at least one scheduler, got none; give names or (name, options) "
            "pairs such as ['sync', 'threads']"
        )
    return configs


def compare(
    obj: Any,
    schedulers: Iterable[str | tuple[str, Mapping[str, Any]]] = ("sync", "threads", "processes"),
    repeat: int = 3,
) -> Comparison:
    """Time ``obj`` under each configuration, ``repeat`` times, and return the table.

    A distributed configuration starts its cluster once and runs every repeat
    on it.  All configurations are checked before the first one runs.
    """
    check_collection(obj)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a whole number >= 1, got {repeat!r}")
    timings = []
    for name, options in parse_configs(schedulers):
        with open_scheduler(name, **options) as opened:
            runs = tuple(_timed(opened, obj) for _ in range(repeat))
        timings.append(Timing(name, options, runs))
    return Comparison(tuple(timings))


def typical(runs: Iterable[T], seconds: Callable[[T], float] = _seconds) -> T:
    """Return the run with the median time: the one to show as typical of several.

    Unlike :func:`statistics.median` of the times, this returns a run itself
    (a :class:`Run`, a :class:`~schedtutor.trace.Trace`, anything ``seconds``
    can read), so a timeline or a table of it shows a run that really
    happened.  Of an even number of runs it returns the faster of the two in
    the middle.  ``seconds`` reads a run's time: its ``seconds`` attribute by
    default.

    >>> typical([0.9, 0.4, 0.5], seconds=float)
    0.5
    >>> typical([0.9, 0.4, 0.5, 0.6], seconds=float)
    0.5
    >>> typical([])
    Traceback (most recent call last):
    ...
    ValueError: typical needs at least one run, got none
    """
    ordered = sorted(runs, key=seconds)
    if not ordered:
        raise ValueError("typical needs at least one run, got none")
    return ordered[(len(ordered) - 1) // 2]


@dataclass
class Spent:
    """The calls :func:`time_spent` timed: each one's seconds, in the order they ended."""

    calls: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """The seconds of all calls together."""
        return math.fsum(self.calls)


@contextmanager
def time_spent(owner: Any, name: str) -> Iterator[Spent]:
    """Time every call of ``owner.name`` made inside the block, whoever makes it.

    ``owner`` is a class or a module; its attribute ``name`` is replaced by a
    wrapper that reads the clock around each call, and put back when the
    block ends, however it ends.  This is how to find out how long one step
    *inside* a library call takes -- say, how much of a ``compute`` went into
    ``HighLevelGraph.cull`` -- without copying the library's code.  Calls from
    other threads count too; the wrapper adds about a microsecond to each.

    >>> import operator
    >>> with time_spent(operator, "add") as spent:
    ...     total = operator.add(1, 2) + operator.add(3, 4)
    >>> total, len(spent.calls), spent.seconds >= 0
    (10, 2, True)
    >>> with time_spent(operator, "nothing"):
    ...     pass
    Traceback (most recent call last):
    ...
    ValueError: cannot time operator.nothing: there is no such attribute
    """
    original = getattr(owner, name, None)
    where = getattr(owner, "__name__", type(owner).__name__)
    if not callable(original):
        reason = "there is no such attribute" if original is None else "it is not callable"
        raise ValueError(f"cannot time {where}.{name}: {reason}")
    # On a class, what to put back is the class's own entry (None when inherited).
    own = owner.__dict__.get(name) if isinstance(owner, type) else original
    if isinstance(own, staticmethod | classmethod):
        raise ValueError(f"cannot time {where}.{name}: it is a {type(own).__name__}")
    spent = Spent()

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.calls.append(time.perf_counter() - started)

    setattr(owner, name, timed)
    try:
        yield spent
    finally:
        if own is None:
            delattr(owner, name)
        else:
            setattr(owner, name, own)
