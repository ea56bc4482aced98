"""The GIL, measured: whether it is on, how threads take turns, and threads without it.

CPython's *global interpreter lock* lets one thread of a process run Python
bytecode at a time.  This module measures what that means, in three ways.

:func:`gil_enabled` says whether the running interpreter has the GIL on now.
A standard CPython always has.  A *free-threaded* build (CPython 3.13 and
3.14 built with ``--disable-gil``: ``python3.13t``, ``python3.14t``) starts
without it, and turns it on for good, with a ``RuntimeWarning``, when it
imports an extension module that has not declared that it can run without it
(``Python/import.c``: ``_PyImport_CheckGILForModule``).

:func:`turns` shows how two threads share the GIL.  A thread that wants the
GIL waits for the *switch interval* (``sys.getswitchinterval()``, 5 ms by
default), then asks the thread holding it to let go, which it does at its
next chance (``Python/ceval_gil.c``).  Two threads that both run Python
therefore take turns of about the switch interval; without the GIL they run
at once and no turn lasts long.

>>> import sys
>>> if gil_enabled():  # a standard CPython: threads take turns
...     from statistics import median
...     median(turns(0.05)) > sys.getswitchinterval() / 2
... else:
...     True
True

:func:`measure_in` runs the four-task experiment of the tutorial's lesson 3
in *another* interpreter -- a free-threaded one, say -- and returns what it
measured as a :class:`Measurement`: each kind of work under the threaded
scheduler (and pure Python under the single-threaded one, to compare with),
whether the GIL stayed off while it ran, and what importing an extension
module that declares nothing did to the GIL afterwards
(:func:`import_undeclared_extension`).  That interpreter runs this very
module (``python -m schedtutor.gil TASK FEWEST_RUNS``), so it needs
schedtutor, Dask and NumPy installed; :func:`measure` is what it runs.
:func:`free_threaded_python` finds such an interpreter.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import itertools
import json
import math
import shutil
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dask.delayed import Delayed, delayed

from schedtutor import ops, settings
from schedtutor.timing import fastest, run

__all__ = [
    "RUNS",
    "UNDECLARED_EXTENSION",
    "ImportProbe",
    "Measurement",
    "four_tasks",
    "free_threaded_python",
    "gil_enabled",
    "import_undeclared_extension",
    "measure",
    "measure_in",
    "turns",
]

RUNS: tuple[tuple[str, str], ...] = (
    ("sleeplock", "threads"),
    ("sleep", "threads"),
    ("python", "sync"),
    ("python", "threads"),
    ("numpy", "threads"),
)
"""What :func:`measure` runs, as ``(work, scheduler)``: every kind of work on two
threads, and pure Python on one thread as well (the sleeps' serial time is known:
four tasks' lengths)."""

UNDECLARED_EXTENSION = ("_testmultiphase", "_testmultiphase_null_slots")
"""An extension module that declares nothing about the GIL, and the file it is in.

CPython's own test extension ``_testmultiphase`` holds a module,
``_testmultiphase_null_slots``, with no slots at all, so no ``Py_mod_gil``
slot: a free-threaded build must enable the GIL to import it.  CPython
installs the file with its test modules; a build without them has none to try.
"""


def gil_enabled() -> bool:
    """Return whether the GIL is enabled in this interpreter now.

    ``sys._is_gil_enabled()`` (CPython 3.13+) says so; older versions always
    have the GIL.

    >>> gil_enabled() == bool(getattr(sys, "_is_gil_enabled", lambda: True)())
    True
    """
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_enabled is None else bool(is_enabled())


def turns(seconds: float = 0.2) -> list[float]:
    """Run two threads of pure Python for ``seconds``; return how long each turn lasted.

    Each thread spins, noting the time whenever it finds that the other one
    ran since it last looked: the start of one of its turns.  With the GIL
    the turns last about the switch interval; without it the two threads run
    at once, and a turn lasts a few microseconds.

    >>> len(turns(0.02)) > 0
    True
    """
    seconds = ops.check_delay(seconds, "seconds")
    switches: list[float] = []
    last: list[int] = [0]
    deadline = time.perf_counter() + seconds

    def spin(me: int) -> None:
        clock = time.perf_counter
        while (now := clock()) < deadline:
            if last[0] != me:
                last[0] = me
                switches.append(now)

    threads = [threading.Thread(target=spin, args=(me,)) for me in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [later - earlier for earlier, later in itertools.pairwise(switches)]


def four_tasks(work: str, seconds: float) -> Delayed:
    """Return lesson 3's graph: four independent tasks of ``seconds`` of ``work``, summed.

    >>> four_tasks("sleep", 0.001).compute(scheduler="threads")
    10
    """
    parts = [ops.add(i, 1, delay=seconds, work=work) for i in range(4)]
    total: Delayed = delayed(sum)(parts)
    return total


@dataclass(frozen=True)
class ImportProbe:
    """What importing an extension module that declares nothing did to the GIL.

    ``module`` is None when the interpreter has no such module to try (see
    :data:`UNDECLARED_EXTENSION`); ``warning`` is the ``RuntimeWarning`` the
    import raised, if any.
    """

    module: str | None
    gil_before: bool
    gil_after: bool
    warning: str = ""


@dataclass(frozen=True)
class Measurement:
    """What :func:`measure` measured, in the interpreter it ran in.

    ``seconds`` maps ``(work, scheduler)`` (:data:`RUNS`) to the wall time of
    four tasks of ``task`` seconds each on two workers; ``gil_enabled`` is
    whether the GIL was on after any run; ``median_turn`` the median of
    :func:`turns` (seconds), measured after the runs (None: not measured, or
    no turn seen); ``probe`` is what
    :func:`import_undeclared_extension` found afterwards, when it was asked for.
    """

    python: str
    free_threaded: bool
    gil_enabled: bool
    task: float
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)
    median_turn: float | None = None
    probe: ImportProbe | None = None

    def speedup(self, work: str) -> float:
        """Return how many times faster ``work`` ran on two threads than on one.

        The sleeps' serial time is four tasks' lengths; pure Python's was measured.

        >>> m = Measurement("3.13.5", True, False, 0.1, {("sleep", "threads"): 0.2})
        >>> m.speedup("sleep")
        2.0
        """
        serial = self.seconds.get((work, "sync"), 4 * self.task)
        return serial / self.seconds[work, "threads"]

    def to_json(self) -> str:
        """Return the measurement as one line of JSON (what ``python -m`` prints)."""
        data: dict[str, Any] = {
            "python": self.python,
            "free_threaded": self.free_threaded,
            "gil_enabled": self.gil_enabled,
            "task": self.task,
            "seconds": [[w, s, t] for (w, s), t in self.seconds.items()],
            "median_turn": self.median_turn,
            "probe": None if self.probe is None else vars(self.probe),
        }
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Measurement:
        """Read a measurement back from :meth:`to_json`.

        >>> m = Measurement("3.13.5", True, False, 0.1, {("sleep", "threads"): 0.2})
        >>> Measurement.from_json(m.to_json()) == m
        True
        """
        data = json.loads(text)
        probe = data["probe"]
        return cls(
            python=str(data["python"]),
            free_threaded=bool(data["free_threaded"]),
            gil_enabled=bool(data["gil_enabled"]),
            task=float(data["task"]),
            seconds={(str(w), str(s)): float(t) for w, s, t in data["seconds"]},
            median_turn=None if data["median_turn"] is None else float(data["median_turn"]),
            probe=None if probe is None else ImportProbe(**probe),
        )


def measure(task: float, fewest_runs: int = 1) -> Measurement:
    """Time four tasks of ``task`` seconds for each of :data:`RUNS`, here; return them.

    Then it times two threads' :func:`turns` for a fifth of a second and keeps
    their median.

    Every run has two workers (threads) or one (sync).  Pure Python and NumPy
    run at least ``fewest_runs`` times, at most four, and the fastest counts
    (:func:`schedtutor.timing.fastest`): other programs on the machine can only
    slow a CPU-bound run down.

    >>> m = measure(0.001)
    >>> sorted(m.seconds) == sorted(RUNS), m.gil_enabled == gil_enabled()
    (True, True)
    """
    task = ops.check_delay(task, "task")
    if isinstance(fewest_runs, bool) or not isinstance(fewest_runs, int) or fewest_runs < 1:
        raise ValueError(f"fewest_runs must be a whole number >= 1, got {fewest_runs!r}")
    seconds: dict[tuple[str, str], float] = {}
    gil = False
    for work, scheduler in RUNS:
        graph = four_tasks(work, task)
        options = {"num_workers": 2} if scheduler == "threads" else {}
        ideal = 2 if scheduler == "threads" and work != "sleeplock" else 4  # task lengths
        cpu_bound = work in ("python", "numpy")
        timed = fastest(
            functools.partial(run, graph, scheduler, **options),
            at_least=fewest_runs if cpu_bound else 1,
            at_most=max(fewest_runs, 4) if cpu_bound else 1,
            good_enough=1.25 * ideal * task,
        )
        seconds[work, scheduler] = timed.seconds
        gil = gil or gil_enabled()
    taken = turns(0.2)
    return Measurement(
        python=sys.version.split()[0],
        free_threaded=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        gil_enabled=gil,
        task=task,
        seconds=seconds,
        median_turn=statistics.median(taken) if taken else None,
    )


def import_undeclared_extension() -> ImportProbe:
    """Import :data:`UNDECLARED_EXTENSION` and return what it did to the GIL.

    On a free-threaded build this turns the GIL on for the rest of the
    process: call it last, in a process of its own (:func:`measure_in` does).

    >>> probe = import_undeclared_extension()
    >>> probe.gil_after  # on a standard CPython the GIL was on anyway
    True
    """
    before = gil_enabled()
    filename, name = UNDECLARED_EXTENSION
    found = importlib.util.find_spec(filename)
    origin = getattr(found, "origin", None)
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    if found is None or not isinstance(origin, str) or not origin.endswith(suffixes):
        return ImportProbe(None, before, gil_enabled())
    loader = importlib.machinery.ExtensionFileLoader(name, origin)
    spec = importlib.util.spec_from_file_location(name, origin, loader=loader)
    assert spec is not None  # a file location and a loader always make a spec
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    return ImportProbe(name, before, gil_enabled(), said[0] if said else "")


FREE_THREADED_COMMANDS = ("python3.14t", "python3.13t")
"""The commands :func:`free_threaded_python` looks for on the ``PATH``, newest first."""


def free_threaded_python() -> str:
    """Return a free-threaded Python to hand to :func:`measure_in`.

    The one ``SCHEDTUTOR_FREE_THREADED_PYTHON`` names
    (:func:`schedtutor.settings.free_threaded_python`), else the first of
    :data:`FREE_THREADED_COMMANDS` on the ``PATH``; without either, one line
    of ``RuntimeError`` saying how to get one.  It must have schedtutor
    installed, which this does not check (:func:`measure_in` does).
    """
    named = settings.free_threaded_python()
    if named:
        return named
    for command in FREE_THREADED_COMMANDS:
        found = shutil.which(command)
        if found:
            return found
    raise RuntimeError(
        f"no free-threaded Python: put {' or '.join(FREE_THREADED_COMMANDS)} on the PATH, "
        f"or name one in {settings.FREE_THREADED_PYTHON}"
    )


def measure_in(
    python: str,
    task: float,
    fewest_runs: int = 1,
    timeout: float | None = None,
) -> Measurement:
    """Run :func:`measure`, then :func:`import_undeclared_extension`, in the interpreter ``python``.

    ``python`` is a path or a command, such as ``"python3.13t"``, of an
    interpreter with schedtutor installed.  It gets ``timeout`` seconds (by
    default a minute more than the longest the runs can take): a hang, or a
    failure, is one line of ``RuntimeError``.

    >>> m = measure_in(sys.executable, 0.001)
    >>> m.python == sys.version.split()[0], m.probe is not None
    (True, True)
    >>> measure_in("no-such-python", 0.001)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: cannot run 'no-such-python': no such program; give the path of a Python ...
    """
    task = ops.check_delay(task, "task")
    if timeout is None:
        timeout = 60.0 + 4 * sum(4 if s == "sync" else 2 for _, s in RUNS) * task
    command = [python, "-m", "schedtutor.gil", repr(task), str(fewest_runs)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise RuntimeError(
            f"cannot run {python!r}: no such program; give the path of a Python with "
            "schedtutor installed, such as python3.13t"
        ) from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"{python!r} did not finish measuring in {timeout:g} s (it was stopped)"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{python!r} failed to measure: {last}")
    try:
        return Measurement.from_json(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError, KeyError, TypeError):
        raise RuntimeError(
            f"{python!r} printed no measurement: {done.stdout.strip()[-200:]!r}"
        ) from None


def _main(argv: Sequence[str] | None = None) -> None:
    """Measure here and print the :class:`Measurement` as JSON: ``python -m schedtutor.gil``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (1, 2):
        raise SystemExit("usage: python -m schedtutor.gil TASK_SECONDS [FEWEST_RUNS]")
    task = float(args[0])
    fewest = int(args[1]) if len(args) == 2 else 1
    if not math.isfinite(task):
        raise SystemExit(f"TASK_SECONDS must be a finite number, got {args[0]!r}")
    measured = measure(task, fewest)
    probe = import_undeclared_extension()  # last: it may turn the GIL on for good
    print(Measurement(**{**vars(measured), "probe": probe}).to_json())


if __name__ == "__main__":
    _main()
