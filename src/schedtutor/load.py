"""How busy other programs kept the machine while something ran.

A timing of CPU-bound work means little without the machine's load: two
threads of NumPy work reach a speed-up of 2 only with two CPUs free.
:class:`LoadMeter` measures, over a stretch of time, how many CPUs the
*other* programs on the machine kept busy: the machine's busy CPU time,
less what this process and everything it started used (worker processes,
a local cluster, their own children, the ones that ended included), divided
by the wall time.

>>> with LoadMeter() as meter:
...     pass
>>> meter.load.cpus >= 1 and meter.load.others >= 0
True

Under a tenth of a CPU is the operating system's own chatter and counts as
nothing.  A process of ours that another process of ours started and that
has ended without being waited for is not counted as ours -- its CPU time
shows as others' load; Python's process pools and Dask's clusters wait for
theirs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import psutil
from dask.system import CPU_COUNT

__all__ = ["Load", "LoadMeter", "busy_cpu_seconds", "own_cpu_seconds"]

NOISE = 0.1
"""CPUs of busy time that count as an idle machine: the system's own chatter."""


@dataclass(frozen=True)
class Load:
    """How many of the machine's CPUs other programs kept busy, on average, for how long."""

    others: float
    cpus: int
    seconds: float

    @property
    def free(self) -> float:
        """CPUs the other programs left free, on average."""
        return max(0.0, self.cpus - self.others)

    @property
    def idle(self) -> bool:
        """Whether no other program used the CPUs (beyond the system's chatter)."""
        return self.others == 0.0

    def in_words(self) -> str:
        """Say in a sentence how busy other programs kept the machine, for a page's reader.

        >>> print(Load(0.0, 2, 5.0).in_words())
        No other program used the machine's 2 CPUs while this ran.
        >>> print(Load(1.04, 2, 5.0).in_words())  # doctest: +NORMALIZE_WHITESPACE
        While this ran, other programs kept about 1.0 of the machine's 2 CPUs busy,
        leaving 1.0 for it.
        """
        if self.idle:
            return f"No other program used the machine's {self.cpus} CPUs while this ran."
        return (
            f"While this ran, other programs kept about {self.others:.1f} of the machine's "
            f"{self.cpus} CPUs busy, leaving {self.free:.1f} for it."
        )

    def __str__(self) -> str:
        """``another program kept 1.9 of 2 CPUs busy``, or ``no other load on 2 CPUs``."""
        if self.idle:
            return f"no other load on {self.cpus} CPUs"
        return f"other programs kept {self.others:.1f} of {self.cpus} CPUs busy"


def busy_cpu_seconds() -> float:
    """Return the CPU seconds the whole machine has spent busy since it started."""
    times = psutil.cpu_times()
    idle = sum(getattr(times, name, 0.0) for name in ("idle", "iowait", "guest", "guest_nice"))
    return float(sum(times)) - idle


def own_cpu_seconds(process: psutil.Process | None = None) -> float:
    """Return the CPU seconds ``process`` (this one) and everything it started have used.

    Living children count with what they used; children that have ended and
    were waited for count through their parent's ``children_user`` and
    ``children_system``.
    """
    process = process or psutil.Process()
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            used = each.cpu_times()
        except psutil.Error:  # a child that ended in between
            continue
        total += used.user + used.system
        total += getattr(used, "children_user", 0.0) + getattr(used, "children_system", 0.0)
    return total


class LoadMeter:
    """Measure the others' load from ``start`` (or entering the block) until ``stop``.

    >>> meter = LoadMeter().start()
    >>> load = meter.stop()
    >>> load.cpus == meter.cpus
    True
    """

    def __init__(self) -> None:
        self.cpus = int(CPU_COUNT)
        self._started: tuple[float, float, float] | None = None
        self._load: Load | None = None

    def start(self) -> LoadMeter:
        """Start measuring now; return the meter."""
        self._started = (time.perf_counter(), busy_cpu_seconds(), own_cpu_seconds())
        self._load = None
        return self

    def stop(self) -> Load:
        """Stop measuring and return the others' average load since :meth:`start`."""
        if self._started is None:
            raise RuntimeError("the load meter was never started: call start() first")
        wall0, machine0, ours0 = self._started
        wall = max(time.perf_counter() - wall0, 1e-9)
        others = (busy_cpu_seconds() - machine0 - (own_cpu_seconds() - ours0)) / wall
        others = min(max(others, 0.0), float(self.cpus))
        self._load = Load(others if others >= NOISE else 0.0, self.cpus, wall)
        self._started = None
        return self._load

    @property
    def load(self) -> Load:
        """The load measured by the last :meth:`stop`."""
        if self._load is None:
            raise RuntimeError("no load measured yet: use the meter as a block, or stop() it")
        return self._load

    def __enter__(self) -> LoadMeter:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> Any:
        self.stop()
        return None
