"""Refuse, in one line, a graph whose tasks a cluster's workers cannot unpickle.

A task reaches a distributed worker pickled, and its function -- like any
object of an importable module -- travels *by reference*: the module's name
and its own, which the worker imports again.  A worker that cannot import
the module (not installed there; a folder on this process's ``sys.path``
but not on the worker's) logs ``distributed.protocol.core - CRITICAL -
Failed to deserialize``, its stream from the scheduler breaks, and it closes
itself (``Worker.handle_scheduler``).  Each worker sent the task does the
same; the scheduler puts the task back in its queue and waits for a worker
that will never come, so the compute never returns (distributed 2026.8).

:func:`check_worker_imports` asks every worker to import, once per client,
the modules a graph's tasks name -- their functions' and their arguments'
-- before the graph is sent, and raises ``ModuleNotFoundError`` (an
``ImportError``) naming the module and the worker otherwise.  Functions that
travel by value (a script's ``__main__``, a notebook, a file the command
line loaded, a lambda or a function defined inside another) name no module
a worker must import and are not asked about.
The question goes to the workers as Python's own ``exec`` of an ``import``
statement, so a cluster without schedtutor installed can answer it.

Whether distributed still hangs: start a cluster, put a module on this
process's ``sys.path`` only, and wait on ``client.compute`` of a task of it
with ``.result(timeout=30)`` (2026.8 times out).  Should a later release fail
such a compute with an error instead, the check can stay for its one-line
message, or go if that release's error names the module as plainly.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from schedtutor._base import task_modules

# Modules every worker has: it runs them.
_ALWAYS_THERE = ("builtins", "dask", "distributed", "tornado", "toolz", "tlz", "cloudpickle")
_checked: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def named_modules(graph: Mapping[Any, Any]) -> set[str]:
    """The modules a worker imports to unpickle ``graph``'s tasks, and may lack.

    >>> from schedtutor import slow_arithmetic
    >>> sorted(named_modules(dict(slow_arithmetic(delay=0).__dask_graph__())))
    ['schedtutor._work']
    """
    return {name for name in task_modules(graph) if _needs_import(name)}


def _needs_import(name: str) -> bool:
    top = name.partition(".")[0]
    if top in _ALWAYS_THERE or top in sys.stdlib_module_names:
        return False
    # cloudpickle sends ``__main__``'s objects, and those of a module no import finds, by value
    return name != "__main__" and name in sys.modules


def check_worker_imports(client: Any, modules: Iterable[str]) -> None:
    """Raise ``ModuleNotFoundError`` in one line unless every worker imports ``modules``."""
    checked = _checked.setdefault(client, set())
    new = sorted(set(modules) - checked)
    if not new:
        return
    answers = client.run(exec, f"import {', '.join(new)}", {}, on_error="return")
    for address, answer in sorted(answers.items()):
        if isinstance(answer, BaseException):
            missing = getattr(answer, "name", None) or ", ".join(new)
            reason = (str(answer).strip().splitlines() or [""])[0]
            raise ModuleNotFoundError(
                f"the Dask worker at {address} cannot import {missing!r}, which the "
                f"graph's tasks need ({type(answer).__name__}: {reason}); install it where "
                "the workers run, put its folder on their PYTHONPATH or send it with "
                "client.upload_file(), or define the functions in the script or notebook "
                "itself (they then travel by value)",
                name=missing,
            )
    if answers:  # a cluster with no worker yet is asked again next time
        checked.update(new)
