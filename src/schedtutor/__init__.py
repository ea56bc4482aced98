"""schedtutor: time, trace and predict how Dask's schedulers run a graph.

The library behind the schedtutor tutorial.  It rebuilds the old "Dask
Schedulers" experiment -- four slow delayed ops combined as
``(1 + 3) * (2 - 4) / 3.5`` -- and gives you the tools to run it, or your own
graph, under every scheduler and see why each took what it took.

>>> from schedtutor import slow_arithmetic, run
>>> run(slow_arithmetic(delay=0.001), "sync").result
-2.2857142857142856

Importing the package imports none of its modules: each public name is
imported the first time it is used (PEP 562's module ``__getattr__``).  A
worker process that the processes scheduler spawns, or a distributed
worker, unpickles a task of the library's and so imports the module its
function lives in (:mod:`schedtutor._work`) and this package -- and nothing
else of it: not the model, not matplotlib, not NumPy unless it runs NumPy
work.

Two public names are also the names of modules, ``predict`` and ``trace``:
``schedtutor.predict`` is the function, as ``from schedtutor import predict``
gives it, even after ``import schedtutor.predict`` has loaded the module of
the same name (the module is ``sys.modules["schedtutor.predict"]``).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schedtutor.environment import Environment, environment
    from schedtutor.ops import WORK_KINDS, add, div, mul, slow_arithmetic, sub
    from schedtutor.predict import Prediction, predict
    from schedtutor.schedulers import aliases, local_cluster, open_scheduler, resolve, use
    from schedtutor.timeline import plot_timeline
    from schedtutor.timing import Comparison, Run, Timing, compare, run
    from schedtutor.trace import TaskSpan, Trace, trace

__all__ = [
    "WORK_KINDS",
    "Comparison",
    "Environment",
    "Prediction",
    "Run",
    "TaskSpan",
    "Timing",
    "Trace",
    "add",
    "aliases",
    "compare",
    "div",
    "environment",
    "local_cluster",
    "mul",
    "open_scheduler",
    "plot_timeline",
    "predict",
    "resolve",
    "run",
    "slow_arithmetic",
    "sub",
    "trace",
    "use",
]

_HOME = {
    "Environment": "environment",
    "environment": "environment",
    "WORK_KINDS": "ops",
    "add": "ops",
    "div": "ops",
    "mul": "ops",
    "slow_arithmetic": "ops",
    "sub": "ops",
    "Prediction": "predict",
    "predict": "predict",
    "aliases": "schedulers",
    "local_cluster": "schedulers",
    "open_scheduler": "schedulers",
    "resolve": "schedulers",
    "use": "schedulers",
    "plot_timeline": "timeline",
    "Comparison": "timing",
    "Run": "timing",
    "Timing": "timing",
    "compare": "timing",
    "run": "timing",
    "TaskSpan": "trace",
    "Trace": "trace",
    "trace": "trace",
}
"""The module each public name lives in."""


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package's module type: a submodule named like a public function leaves it be.

    Python binds each submodule it imports to an attribute of its package, so
    ``import schedtutor.predict`` would make ``schedtutor.predict`` the module
    and a later ``from schedtutor import predict`` would hand out the module
    instead of the function.  For those names the function is bound instead.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _HOME.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
