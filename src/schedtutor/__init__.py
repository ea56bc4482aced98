"""schedtutor: time, trace and predict how Dask's schedulers run a graph.

The library behind the schedtutor tutorial.  It rebuilds the old "Dask
Schedulers" experiment -- four slow delayed ops combined as
``(1 + 3) * (2 - 4) / 3.5`` -- and gives you the tools to run it, or your own
graph, under every scheduler and see why each took what it took.

>>> from schedtutor import slow_arithmetic, run
>>> run(slow_arithmetic(delay=0.001), "sync").result
-2.2857142857142856
"""

from __future__ import annotations

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
