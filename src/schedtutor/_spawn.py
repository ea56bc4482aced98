"""What a spawned worker process pays for this program and this graph, before and after its tasks.

The processes scheduler starts a fresh pool of *spawned* worker processes at
every compute.  Before its first task, each worker does what every spawned
process does -- start Python, import what unpickling the pool's machinery and
a task needs -- and two things that depend on the program that spawned it:

* it runs the **main module** again, under the name ``__mp_main__``
  (``multiprocessing.spawn.prepare``): a script's imports at its top level,
  or nothing much for a notebook's kernel (``ipykernel_launcher``);
* it imports the **modules the graph's tasks need**: those their functions
  live in, and those of their arguments' types (a NumPy array's ``numpy``).

:func:`schedtutor.calibration.calibrate` measures a worker's start-up and
shutdown with a trivial main module and the library's own task functions
(:mod:`schedtutor._work`).  :func:`extra` measures the difference for this
program and a given graph: in a fresh Python process it imports what the
calibration's workers import, then -- timed -- prepares itself from this
process's spawn preparation data (so it runs the main module as a worker
would) and imports the graph's modules; and how much longer such a process
takes to exit (its interpreter tears those modules down too).  A second,
untimed-for-imports run without the main module and the modules gives the
shutdown to subtract.  Both figures are measured once per main module and
set of modules in a process, and are never negative.  The same probe tells
whether a worker has NumPy imported before its first task (:func:`has_numpy`):
if not, its first NumPy work imports it, which costs what
:attr:`schedtutor.calibration.Costs.process_numpy` says (at full pace; the
model slows it down beside other work, see :data:`schedtutor._simulate.IMPORT_CPUS`).

A probe runs the main module's top level, as each spawned worker will: a
script whose top level (not under ``if __name__ == "__main__":``) predicts
the processes scheduler would probe again from inside the probe; a flag set
in the probe stops that, and multiprocessing's own guard refuses to start
processes there, as in a real worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from schedtutor._base import task_modules

__all__ = ["extra", "has_numpy", "modules"]

BASELINE = ("dask.local", "schedtutor._tracing", "schedtutor._work", "schedtutor._worker_setup")
"""What the calibration's workers import to run their tasks (a traced op of the library's)."""

TIMEOUT = 60.0
"""Seconds a probe may take; past it, nothing extra is assumed."""

_IN_PROBE = False
"""True inside a probe's own process: no probe is started from there."""

_PROBE = """
import importlib, json, sys, time
import {baseline}
from schedtutor import _spawn
_spawn._IN_PROBE = True
data, names = json.loads(sys.argv[1]), json.loads(sys.argv[2])
started = time.perf_counter()
if data:
    from multiprocessing import process, spawn
    process.current_process()._inheriting = True  # as in a spawned worker: no processes
    try:
        spawn.prepare(data)
    finally:
        del process.current_process()._inheriting
for name in names:
    try:
        importlib.import_module(name)
    except Exception:
        pass
print(json.dumps([started, time.perf_counter(), "numpy" in sys.modules]), flush=True)
"""

_found: dict[tuple[Any, ...], tuple[tuple[float, float], bool]] = {}
"""Each probe's extra start-up and shutdown, and whether NumPy was imported once it had
run the main module and imported the names."""
_lock = threading.Lock()


def modules(dsk: Mapping[Any, Any]) -> frozenset[str]:
    """Return the modules unpickling ``dsk``'s tasks imports: their functions' and arguments'.

    >>> from schedtutor import slow_arithmetic
    >>> from schedtutor._base import materialize
    >>> sorted(modules(materialize(slow_arithmetic(delay=0))[0]))
    ['schedtutor._work']
    """
    return frozenset(task_modules(dsk) - {"__main__"})


def extra(names: frozenset[str]) -> tuple[float, float]:
    """Return the seconds a spawned worker of this program needing ``names`` adds to the
    calibration's start-up and to its shutdown (0, 0 inside a probe, or if it fails)."""
    if _IN_PROBE:
        return 0.0, 0.0
    return _probed(names)[0]


def has_numpy(names: frozenset[str]) -> bool:
    """Return whether a spawned worker of this program needing ``names`` has imported NumPy
    before its first task (its main module or one of ``names`` did); False if unknown."""
    if _IN_PROBE:
        return False
    return _probed(names)[1]


def _probed(names: frozenset[str]) -> tuple[tuple[float, float], bool]:
    """The probe's figures for ``names``, measured once per main module and set of names."""
    data = _preparation()
    key = (json.dumps(data, sort_keys=True), _stamp(data), names)
    with _lock:
        if key not in _found:
            start, stop, numpy = _measure(data, sorted(names))
            _found[key] = ((start, stop), numpy)
        return _found[key]


def _preparation() -> dict[str, Any]:
    """The parts of ``multiprocessing.spawn.get_preparation_data`` a worker's imports follow."""
    from multiprocessing import spawn

    full = spawn.get_preparation_data("schedtutor-probe")
    wanted = ("sys_path", "sys_argv", "dir", "orig_dir", "init_main_from_name")
    data = {k: full[k] for k in wanted if k in full}
    path = full.get("init_main_from_path")
    if path is not None and os.path.isfile(path):
        data["init_main_from_path"] = path
    return data


def _stamp(data: Mapping[str, Any]) -> float:
    """When the main module's file last changed (0 for none): a changed script is probed again."""
    path = data.get("init_main_from_path")
    try:
        return os.stat(path).st_mtime if path else 0.0
    except OSError:
        return 0.0


def _measure(data: dict[str, Any], names: list[str]) -> tuple[float, float, bool]:
    """Probe twice -- with the main module and ``names``, and without -- and compare."""
    try:
        imports, teardown, numpy = _probe(data, names)
        _, bare_teardown, _ = _probe({}, [])
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0.0, 0.0, False
    return max(imports, 0.0), max(teardown - bare_teardown, 0.0), numpy


def _probe(data: dict[str, Any], names: list[str]) -> tuple[float, float, bool]:
    """Return the probe's timed imports, the seconds from their end to its exit, and
    whether NumPy was imported by then."""
    code = _PROBE.format(baseline=", ".join(BASELINE))
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(data), json.dumps(names)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=True,
    )
    exited = time.perf_counter()
    started, ready, numpy = json.loads(done.stdout.strip().splitlines()[-1])
    return ready - started, exited - ready, bool(numpy)
