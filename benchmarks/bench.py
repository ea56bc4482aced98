"""schedtutor's benchmark suite: ``make bench`` (``python benchmarks/bench.py``).

Every figure is a *ratio measured side by side in one run* -- these machines are
noisy, so an absolute time means little but two things timed in alternation
compare well.  Sections:

``wrapper``    schedtutor's timed compute (:func:`schedtutor.run`) vs plain
               ``dask.compute`` on the same 10k-task graph (sync, threads).
``tracing``    :func:`schedtutor.trace` vs an untraced run, 10k tiny tasks, threads.
``overhead``   per-task overhead of each scheduler at 1k, 10k and 100k tasks, for raw
               dict graphs and ``delayed`` graphs with and without graph optimisation;
               and schedtutor's own cost per task, which must stay flat as graphs grow.
``predict``    the time :func:`schedtutor.predict` and :func:`schedtutor.trace` take
               per task, by graph size, and how that grows from 10k to 100k tasks
               (flat is 1; the target 1.3), beside ``dask.compute``'s own growth.
``imports``    what a spawned worker pays to import the library's task functions:
               ``import schedtutor._work`` over ``import dask``, each in fresh
               interpreters (medians of nine), and a traced op's whole set of
               imports over ``dask.local``'s.
``accuracy``   :func:`schedtutor.predict` against measured wall time, per scheduler
               configuration, over the library's graphs of ``prediction_accuracy.py``
               (the old notebook's graph at 0.2 s and 1 s with every kind of work, and
               other shapes), predicted as a reader does (no ``costs=``).
``random``     the same over 40 seeded random graphs of a reader's own functions
               (``random_graphs.py``), predicted from a serial trace: the share within
               5 % (target 95 %) and the worst error per scheduler (10 %; sync and
               threads 2 %).  Both tables go to ``benchmarks/prediction-accuracy.md``, at
               the end of the run, with the JSON results.
``cells``      (not in the default run) every lesson's cells timed apart, outside
               Sphinx: which experiments make a notebook's excess over its floor.
``site``       the site build: fresh build at the default delay over its *sleep floor*
               (the wall-clock seconds the lessons deliberately work, from the work log
               the ops write), serially and with notebooks run in parallel; and a no-change
               rebuild in cache mode.

It prints a table (figure, value, target, met?) and writes the results, with the
environment stamp, to ``benchmarks/last-run.json`` -- the file the site's
"How fast is this?" page shows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from dask.base import compute
from dask.delayed import Delayed, delayed

import schedtutor
from schedtutor import _work, settings
from schedtutor.environment import environment

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "last-run.json"
ACCURACY_TABLE = ROOT / "benchmarks" / "prediction-accuracy.md"
SIZES = (1_000, 10_000, 100_000)
Row = dict[str, Any]


def inc(x: int) -> int:
    """A task too small to measure: what overhead benchmarks are made of."""
    return x + 1


def delayed_graph(n: int) -> Delayed:
    """``sum`` of ``n`` tiny ``inc`` tasks, built with ``delayed`` (n + 1 tasks)."""
    total: Delayed = delayed(sum)([delayed(inc)(i) for i in range(n)])
    return total


def raw_graph(n: int) -> tuple[dict[Any, Any], list[Any]]:
    """``n`` independent tiny tasks as a plain dict graph, and the keys to compute."""
    keys = [("inc", i) for i in range(n)]
    return {key: (inc, i) for key, i in zip(keys, range(n), strict=True)}, keys


def alternate(first: Callable[[], object], second: Callable[[], object], repeat: int) -> float:
    """Time two callables in alternation ``repeat`` times; return min(second)/min(first).

    The fastest run of each is the one least disturbed by everything else on the
    machine (the performance page divides the fastest times too).  A ratio of
    medians read 0.99-1.05 for the same two computes from one run of five
    alternations to the next; of the fastest, 0.99-1.01 over seven.
    """
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, into in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            fn()
            into.append(time.perf_counter() - started)
    return min(times[1]) / min(times[0])


def row(
    section: str, figure: str, value: float | None, unit: str = "", target: str = "", note: str = ""
) -> Row:
    """One line of results; ``target`` like ``<= 1.02`` is checked against ``value``.

    ``value`` is None for a figure that was not measured; ``note`` says why.
    """
    met = None
    if target and value is not None:
        op, limit = target.split()
        met = value <= float(limit) if op == "<=" else value >= float(limit)
    return {"section": section, "figure": figure, "value": value, "unit": unit,
            "target": target, "met": met, "note": note}  # fmt: skip


def headline_size(sizes: tuple[int, ...]) -> int:
    """The graph size of the wrapper and tracing ratios: 10k, or the largest size asked for."""
    return 10_000 if 10_000 in sizes else max(sizes)


def tasks(n: int) -> str:
    """``10k tasks``, ``1k tasks``, ``1500 tasks``: a graph size for a figure's name."""
    return f"{n // 1000}k tasks" if n % 1000 == 0 else f"{n} tasks"


def bench_wrapper(repeat: int, n: int = 10_000) -> Iterator[Row]:
    """schedtutor.run vs dask.compute on the same ``n``-task graph (10k by default)."""
    graph = delayed_graph(n)
    for scheduler in ("sync", "threads"):
        ratio = alternate(
            partial(compute, graph, scheduler=scheduler),
            partial(schedtutor.run, graph, scheduler),
            repeat,
        )
        figure = f"run / dask.compute, {tasks(n)}, {scheduler}"
        yield row("wrapper", figure, ratio, "x", "<= 1.02")


def bench_tracing(repeat: int, n: int = 10_000) -> Iterator[Row]:
    """Traced vs untraced ``n`` tiny tasks (10k by default) under threads."""
    graph = delayed_graph(n)
    ratio = alternate(
        partial(schedtutor.run, graph, "threads"),
        partial(schedtutor.trace, graph, "threads"),
        repeat,
    )
    yield row("tracing", f"trace / run, {tasks(n)}, threads", ratio, "x", "<= 1.05")


def _seconds(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class Budget:
    """Skip a measurement whose time, grown from the last size measured, would exceed a limit.

    Two figures grow with the square of the size: building ``delayed(sum)`` of a
    list of ``delayed`` calls, and computing it optimised (one graph layer per
    call, culled again and again; lesson 6 measures the compute).  The others,
    the distributed scheduler's millisecond or two per task included, grow with
    the size.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._last: dict[str, tuple[int, float]] = {}  # figure kind -> (size, seconds per run)

    def check(self, kind: str, n: int, times: int = 1, growth: float = 1.0) -> str:
        """Return "" if ``times`` runs of ``kind`` at size ``n`` fit the budget, else why not."""
        if kind not in self._last:
            return ""
        size, seconds = self._last[kind]
        estimate = times * seconds * (n / size) ** growth
        if estimate <= self.limit:
            return ""
        return (
            f"skipped: about {estimate:.0f} s, estimated from {tasks(size)} "
            f"(--budget {self.limit:g})"
        )

    def record(self, kind: str, n: int, seconds: float) -> None:
        """Remember that one run of ``kind`` at size ``n`` took ``seconds``."""
        self._last[kind] = (n, seconds)

    def per_task(
        self, kind: str, fn: Callable[[], object], n: int, times: int, growth: float = 1.0
    ) -> tuple[float | None, str]:
        """Return (µs per task of the best of ``times`` runs, "") or (None, why it was skipped)."""
        note = self.check(kind, n, times, growth)
        if note:
            return None, note
        best = min(_seconds(fn) for _ in range(times))
        self.record(kind, n, best)
        return best / n * 1e6, ""


def bench_overhead(sizes: tuple[int, ...], repeat: int, limit: float) -> Iterator[Row]:
    """Per-task overhead of each scheduler by graph size, and schedtutor's own share.

    A figure whose run would take more than ``limit`` seconds, estimated from
    the size before it, is reported as skipped (see :class:`Budget`).
    """
    from dask.base import named_schedulers

    budget = Budget(limit)
    with schedtutor.local_cluster(n_workers=2, threads_per_worker=1) as client:
        gets = {name: named_schedulers[name] for name in ("sync", "threads", "processes")}
        gets["distributed 2x1"] = client.get
        for n in sizes:
            times = 1 if n >= 100_000 else repeat
            dsk, keys = raw_graph(n)
            for name, get in gets.items():
                us, note = budget.per_task(name, partial(get, dsk, keys), n, times)
                yield row("overhead", f"raw graph, {name}, {n} tasks", us, "µs/task", note=note)
            yield from _delayed_overhead(budget, n, times)
            yield _own_cost(n, times)


def _delayed_overhead(budget: Budget, n: int, times: int) -> Iterator[Row]:
    """Building a ``delayed`` graph of ``n`` calls, and computing it with and without optimising.

    Building it grows with the square of ``n`` too: ``delayed(sum)`` of a list of
    ``delayed`` objects culls each one's graph as it collects them.
    """
    build = f"building delayed(sum) of {n} delayed calls"
    note = budget.check("build", n, growth=2.0)
    if note:
        yield row("overhead", build, None, "µs/task", note=note)
        for label in ("optimised", "optimize_graph=False"):
            figure = f"delayed graph, threads, {label}, {n} tasks"
            yield row("overhead", figure, None, "µs/task", note="skipped: the graph was not built")
        return
    started = time.perf_counter()
    graph = delayed_graph(n)
    seconds = time.perf_counter() - started
    budget.record("build", n, seconds)
    yield row("overhead", build, seconds / n * 1e6, "µs/task")
    for optimize in (True, False):
        label = "optimised" if optimize else "optimize_graph=False"
        run = partial(compute, graph, scheduler="threads", optimize_graph=optimize)
        us, note = budget.per_task(label, run, n + 1, times, 2.0 if optimize else 1.0)
        yield row(
            "overhead", f"delayed graph, threads, {label}, {n} tasks", us, "µs/task", note=note
        )


def layer_graph(n: int) -> Delayed:
    """``n`` tiny tasks and their sum in one graph layer: quick to build and to optimise."""
    dsk, keys = raw_graph(n)
    return Delayed("total", {**dsk, "total": (sum, keys)})


def _own_cost(n: int, times: int) -> Row:
    """schedtutor.run's cost over dask.compute, per task, on a one-layer graph of ``n`` tasks."""
    graph = layer_graph(n)
    plain = partial(compute, graph, scheduler="sync")
    ours = partial(schedtutor.run, graph, "sync")
    runs = [(_seconds(plain), _seconds(ours)) for _ in range(times)]  # in turn, side by side
    plains, ourses = sorted(p for p, _ in runs), sorted(o for _, o in runs)
    extra, noise = ourses[0] - plains[0], plains[len(plains) // 2] - plains[0]
    per_task = 1e6 / (n + 1)
    note = ""
    if times > 1 and extra <= noise:  # smaller than dask.compute's own spread: not a cost
        note = (f"within the noise: dask.compute's own runs differ by "
                f"{noise * per_task:.2g} µs/task")  # fmt: skip
    elif extra <= 0:
        note = "too small to measure: the run through schedtutor was the faster one"
    return row("overhead", f"schedtutor's own cost, sync, {n} tasks",
               max(extra, 0.0) * per_task, "µs/task", note=note)  # fmt: skip


def op_tree(n: int) -> Delayed:
    """A binary tree of ``n - 1`` library ``add`` tasks of a millisecond's sleep.

    Built as one dict graph, so building it takes a fraction of a second at
    100k tasks (a tree of ``delayed`` calls takes 16 s there), and ``predict``
    reads every task's duration from its arguments.
    """
    dsk: dict[Any, Any] = {}
    level: list[Any] = []
    for i in range(max(n // 2, 1)):
        dsk["add", 0, i] = (_work.add, i, 1, 0.001, "sleep")
        level.append(("add", 0, i))
    depth = 0
    while len(level) > 1:
        depth += 1
        above = []
        for j in range(0, len(level) - 1, 2):
            dsk["add", depth, j // 2] = (_work.add, level[j], level[j + 1], 0.001, "sleep")
            above.append(("add", depth, j // 2))
        level = above + level[len(level) // 2 * 2 :]
    return Delayed(level[0], dsk)


def bench_predict(sizes: tuple[int, ...]) -> Iterator[Row]:
    """What predict and trace cost per task, by graph size, and how that grows.

    ``predict`` for the threads scheduler on :func:`op_tree` (best of three:
    other programs only slow a run down; one run on 10k
    tasks once read 0.63 s between runs of 0.25-0.34 s); ``trace`` under
    threads on :func:`layer_graph` and, in alternation with it, the same
    compute untraced.  Where 10k and a larger size were measured, the cost per
    task at the largest over the cost at 10k: flat is 1.  A trace runs Dask's
    own compute, whose cost per task grows too (the comparison row), so the
    growth of what tracing adds to it (trace less the untraced compute) is
    reported apart: that part is schedtutor's.
    """
    per_task: dict[tuple[str, int], float] = {}
    for n in sizes:
        repeat = 3
        graph = op_tree(n)
        count = len(graph.dask)
        seconds = min(
            _seconds(partial(schedtutor.predict, graph, "threads")) for _ in range(repeat)
        )
        target = "<= 1.0" if 5_000 <= count <= 20_000 else ""
        yield row("predict", f"predict, threads, {tasks(count + 1)}", seconds, "s", target)
        per_task["predict", n] = seconds / count
        layer = layer_graph(n)
        traced, plain = [], []
        for _ in range(repeat):  # in alternation
            traced.append(_seconds(partial(schedtutor.trace, layer, "threads")))
            plain.append(_seconds(partial(compute, layer, scheduler="threads")))
        per_task["trace", n] = min(traced) / (n + 1)
        per_task["compute", n] = min(plain) / (n + 1)
        yield row("predict", f"trace, threads, {tasks(n)}", min(traced), "s")
    largest = max(sizes)
    if 10_000 in sizes and largest > 10_000:
        growth = f"{tasks(largest)} / at 10k"
        for what, target in (("predict", "<= 1.3"), ("trace", "<= 1.3"), ("compute", "")):
            name = "dask.compute (untraced, for comparison)" if what == "compute" else what
            ratio = per_task[what, largest] / per_task[what, 10_000]
            yield row("predict", f"{name}: cost per task at {growth}", ratio, "x", target)
        added = {n: per_task["trace", n] - per_task["compute", n] for n in (10_000, largest)}
        name = f"what tracing adds to dask.compute: cost per task at {growth}"
        if added[10_000] > 0:
            yield row("predict", name, added[largest] / added[10_000], "x", "<= 1.3")
        else:
            note = "too small to measure at 10k: the traced run was the faster"
            yield row("predict", name, None, "x", "<= 1.3", note=note)


def import_seconds(modules: str) -> float:
    """Seconds a fresh interpreter takes to run ``import <modules>``, timed inside it."""
    code = f"import time; t = time.perf_counter(); import {modules}; print(time.perf_counter() - t)"
    return float(fresh_python(code))


def fresh_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter, in the repository; return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return done.stdout


def import_ratio(
    modules: str,
    baseline: str,
    repeat: int = 9,
    pick: Callable[[list[float]], float] = statistics.median,
) -> float:
    """The median (or ``pick``) of ``import <modules>`` over that of ``import <baseline>``.

    Each import in a fresh interpreter of its own, the two in alternation,
    ``repeat`` times each.  On a machine other programs keep busy, ``pick=min``
    is the truer figure: they can only slow an import down.
    """
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        times[0].append(import_seconds(baseline))
        times[1].append(import_seconds(modules))
    return pick(times[1]) / pick(times[0])


def worker_import_ratio(first: str, then: str, repeat: int = 9) -> float:
    """The median over fresh interpreters of (``import first``, then ``then``) / ``import first``.

    Both imports in the same interpreter, one after the other, as a worker does
    them: it imports ``first`` to run at all, then what unpickling its first
    task needs, which finds ``first``'s own imports done.  Timed in pairs, the
    ratio does not carry the difference between two interpreters' runs: as two
    separate medians of nine, one interpreter per import, it read 1.05, 1.05 and
    1.20 in three bench runs of the same modules.
    """
    code = (
        f"import time; t0 = time.perf_counter(); import {first}; t1 = time.perf_counter(); "
        f"import {then}; print((time.perf_counter() - t0) / (t1 - t0))"
    )
    return statistics.median(float(fresh_python(code)) for _ in range(repeat))


WORKER_IMPORTS = "schedtutor._work, schedtutor._tracing, schedtutor._worker_setup"
"""What a spawned worker imports, after ``dask.local`` (what any task of the local
schedulers needs), to run a traced op of the library's."""


def bench_imports(repeat: int = 9) -> Iterator[Row]:
    """What a worker process pays to import the library's task functions, against Dask's own.

    A spawned worker unpickles its first task and so imports the module the
    task's function lives in; any worker of the processes scheduler imports
    ``dask.local`` to run it at all.
    """
    yield row(
        "imports",
        "import schedtutor._work / import dask (fresh interpreters, medians)",
        import_ratio("schedtutor._work", "dask", repeat),
        "x",
        "<= 1.15",
    )
    yield row(
        "imports",
        "a traced op's worker imports (dask.local, then schedtutor's) / dask.local's",
        worker_import_ratio("dask.local", WORKER_IMPORTS, repeat),
        "x",
        "<= 1.15",
    )


TABLE_PARTS = {
    "accuracy": "### The library's graphs",
    "random": "### Random graphs of a reader's own functions",
}
"""The heading of each section's part of ``benchmarks/prediction-accuracy.md``."""

TABLES_TO_WRITE: dict[str, str] = {}
"""The table parts of this run, written with the JSON results at its end: until then the
site the ``site`` section builds reads the committed results, both files of one run (a
new table beside the old JSON stops the "How fast is this?" page on a claim)."""


def table_part(section: str, text: str) -> None:
    """Keep ``text`` as ``section``'s part of the accuracy table file, to write at the end."""
    TABLES_TO_WRITE[section] = text


def write_table_part(section: str, text: str) -> None:
    """Put ``text`` in ``section``'s part of the accuracy table file, keeping the other part."""
    parts: dict[str, list[str]] = {}
    if ACCURACY_TABLE.exists():
        # lines before any heading (an older run's file has none): the library graphs' part
        current = "accuracy"
        parts[current] = []
        for line in ACCURACY_TABLE.read_text(encoding="utf-8").splitlines():
            found = [name for name, heading in TABLE_PARTS.items() if line == heading]
            if found:
                current = found[0]
                parts[current] = []
            else:
                parts[current].append(line)
    chunks = {name: "\n".join(lines).strip() for name, lines in parts.items() if any(lines)}
    chunks[section] = text.strip()
    ACCURACY_TABLE.write_text(
        "\n\n".join(
            f"{TABLE_PARTS[name]}\n\n{chunks[name]}" for name in TABLE_PARTS if name in chunks
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {ACCURACY_TABLE}", file=sys.stderr)


def bench_accuracy(delays: tuple[float, ...] = (0.2, 1.0)) -> Iterator[Row]:
    """Worst prediction error per configuration on the library's graphs."""
    import prediction_accuracy as accuracy  # beside this file

    rows = accuracy.accuracy_rows(delays, progress=lambda c: print(f"   {c}", file=sys.stderr))
    within = sum(r.error <= 0.05 for r in rows)
    yield row("accuracy", f"cases predicted within 5 % (of {len(rows)})", float(within))
    for config in dict.fromkeys(r.config for r in rows):
        mine = [r for r in rows if r.config == config]
        worst = max(mine, key=lambda r: r.error)
        case = f"{worst.graph} graph, {worst.work}, {worst.delay:g} s"
        figure = f"predict error, {config}, worst of {len(mine)} ({case})"
        yield row("accuracy", figure, 100 * worst.error, "%", "<= 5")
        extent = max(r.error_extent for r in mine)
        yield row("accuracy", f"predict error, {config}, first to last task", 100 * extent, "%")
    table_part(
        "accuracy",
        f"{accuracy.table(rows)}\n\n{within} of {len(rows)} within 5 %; median error "
        f"{statistics.median(r.error for r in rows):.1%}.",
    )


def bench_random(count: int = 40) -> Iterator[Row]:
    """The share of random graphs predicted within 5 %, and the worst error, per scheduler.

    Targets: at least 95 % of all cases within 5 %, none beyond 10 %, sync and
    threads within 2 %.
    """
    import prediction_accuracy as accuracy  # beside this file

    seeds = tuple(range(1, count + 1))
    rows = accuracy.random_rows(seeds, progress=lambda c: print(f"   {c}", file=sys.stderr))
    within = sum(r.error <= 0.05 for r in rows)
    share = 100 * within / len(rows)
    yield row("random", f"random graphs: cases within 5 % (of {len(rows)})", share, "%", ">= 95")
    for config in dict.fromkeys(r.config for r in rows):
        mine = [r for r in rows if r.config == config]
        mine_within = 100 * sum(r.error <= 0.05 for r in mine) / len(mine)
        yield row(
            "random", f"random graphs, {config}: within 5 % (of {len(mine)})", mine_within, "%"
        )
        worst = max(mine, key=lambda r: r.error)
        limit = "<= 2" if config.split(" ")[0] in ("sync", "threads") else "<= 10"
        note = (
            f"quiet runs: others kept up to {worst.background:.2f} CPUs busy"
            if worst.background
            else ""
        )
        figure = f"random graphs, {config}: worst error ({worst.graph})"
        yield row("random", figure, 100 * worst.error, "%", limit, note)
    table_part(
        "random",
        f"{accuracy.table(rows)}\n\n{within} of {len(rows)} within 5 %; median error "
        f"{statistics.median(r.error for r in rows):.1%}.",
    )


def sleep_floor(log: str, window: tuple[float, float] | None = None) -> float:
    """Return the wall-clock seconds covered by the logged work intervals (overlaps once).

    Each line of ``log`` is ``start end kind``.  With ``window`` (start, end), only
    the intervals that end inside it count.
    """
    intervals = sorted((float(a), float(b)) for a, b, _ in map(str.split, log.splitlines()))
    covered, reached = 0.0, -math.inf
    for start, end in intervals:
        if window is not None and not window[0] <= end <= window[1]:
            continue
        if end > reached:
            covered += end - max(start, reached)
            reached = end
    return covered


@contextmanager
def site_extensions() -> Iterator[None]:
    """Let imports find the site's own Sphinx extensions (``docs/_ext``), as conf.py does."""
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        yield
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))


def notebook_runs(doctrees: Path, log: str) -> dict[str, tuple[float, float]]:
    """Each notebook's run time in a build and its own sleep floor, by page.

    myst-nb keeps, per page, when its notebook finished and how long it ran; the
    work that ended inside that window is the notebook's deliberate work.
    """
    import pickle

    # the environment our own build just wrote; it holds objects of the site's own
    # extensions (docs/_ext)
    with site_extensions(), (doctrees / "environment.pickle").open("rb") as file:
        env = pickle.load(file)
    runs = {}
    for docname, data in sorted(getattr(env, "nb_metadata", {}).items()):
        executed = data.get("exec_data")
        if executed:
            end, seconds = executed["mtime"], executed["runtime"]
            runs[docname] = (seconds, sleep_floor(log, (end - seconds, end)))
    return runs


def notebook_rows(runs: dict[str, tuple[float, float]], build: float) -> Iterator[Row]:
    """Where a build's seconds go: each notebook's excess over its own floor, then the rest.

    A notebook's *excess* is its run time less its sleep floor: its kernel's
    start, its imports, its clusters and pools, its CPU-bound measurements
    beyond their floor, its drawing.  What no notebook ran is Sphinx's own
    reading and writing of every page.
    """
    for docname, (seconds, floor) in sorted(runs.items(), key=lambda kv: kv[1][1] - kv[1][0]):
        note = f"ran {seconds:.1f} s, its sleep floor {floor:.1f} s"
        yield row("site", f"notebook {docname}: excess over its floor", seconds - floor, "s",
                  note=note)  # fmt: skip
    outside = build - sum(seconds for seconds, _ in runs.values())
    yield row("site", "the build outside its notebooks (Sphinx, every page)", outside, "s")


NOTEBOOKS = (
    "tutorials/01-choosing-a-scheduler",
    "tutorials/02-slow-arithmetic",
    "tutorials/03-threads-locks-gil",
    "tutorials/04-processes",
    "tutorials/05-distributed",
    "tutorials/06-overhead",
    "how-to/choose-a-scheduler",
    "reference/performance",
)
"""The pages that are notebooks, whose cells the ``cells`` section times."""


def bench_cells(limit: int = 12) -> Iterator[Row]:
    """Which cells of the lessons make their excess over the sleep floor (not in the default run).

    Runs every notebook once, outside Sphinx, in a kernel of this environment
    set up as the build sets its kernels up (``schedtutor_docs.prepare_kernels``:
    the profile whose start-up file lets a kernel exit at once, Unix sockets), at
    ``SCHEDTUTOR_DELAY`` or the default delay, timing each cell (nbclient's
    ``record_timing``) and logging the deliberate work (``SCHEDTUTOR_WORK_LOG``).
    A cell's excess is its wall time less the work that ended inside it.
    Reports each notebook's kernel start-up and shut-down and the ``limit``
    cells with the most excess, with their first line.
    """
    from datetime import datetime

    import nbclient
    from myst_nb.core.read import read_myst_markdown_notebook

    with site_extensions():
        import schedtutor_docs  # the site's extension: how the build runs its kernels

    cells: list[tuple[float, str, int, str, float, float]] = []
    ipythondir = os.environ.get("IPYTHONDIR")
    with tempfile.TemporaryDirectory(prefix="schedtutor-cells-") as folder:
        log = Path(folder) / "work.log"
        os.environ[settings.WORK_LOG] = str(log)
        schedtutor_docs.prepare_kernels()  # sets IPYTHONDIR, put back below
        # what conf.py gives the build's kernels: the committed results' folder
        os.environ.setdefault(settings.BENCHMARKS, str(ROOT / "benchmarks"))
        try:
            for docname in NOTEBOOKS:
                source = ROOT / "docs" / f"{docname}.md"
                notebook = read_myst_markdown_notebook(source.read_text(encoding="utf-8"))
                client = nbclient.NotebookClient(
                    notebook, timeout=900, record_timing=True, kernel_name="python3",
                    resources={"metadata": {"path": folder}},
                )  # fmt: skip
                started = time.time()
                client.execute()
                wall = time.time() - started
                work = log.read_text() if log.exists() else ""
                ran = 0.0
                for number, cell in enumerate(notebook.cells):
                    timing = cell.get("metadata", {}).get("execution", {})
                    if cell.cell_type != "code" or "shell.execute_reply" not in timing:
                        continue
                    begin = datetime.fromisoformat(timing["iopub.execute_input"]).timestamp()
                    end = datetime.fromisoformat(timing["shell.execute_reply"]).timestamp()
                    floor = sleep_floor(work, (begin, end))
                    ran += end - begin
                    first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                    cells.append(
                        (end - begin - floor, docname, number, first[:60], end - begin, floor)
                    )
                yield row("cells", f"{docname}: outside its cells (kernel start, shutdown)",
                          wall - ran, "s")  # fmt: skip
        finally:
            del os.environ[settings.WORK_LOG]
            if ipythondir is None:
                os.environ.pop("IPYTHONDIR", None)
            else:
                os.environ["IPYTHONDIR"] = ipythondir
    for excess, docname, number, first, wall, floor in sorted(cells, reverse=True)[:limit]:
        note = f"ran {wall:.1f} s, its sleep floor {floor:.1f} s"
        yield row("cells", f"{docname} cell {number}: {first}", excess, "s", note=note)


@dataclass(frozen=True)
class Build:
    """A finished site build: wall seconds, and CPU seconds of all its processes."""

    seconds: float
    cpu: float


class BuildFailed(Exception):
    """A site build stopped: one of its notebooks failed, or a claim check did not hold."""


def build_site(out: Path, *extra: str, env: dict[str, str] | None = None) -> Build:
    """Build the site into ``out`` with Sphinx; return its wall and CPU seconds.

    The CPU seconds are those of Sphinx and of every process it started and
    waited for -- notebook kernels, worker pools, clusters -- all of it counted
    by the kernel as this process's children's time.  Raise :class:`BuildFailed`
    with the build's last error line if it fails.
    """
    command = [sys.executable, "-m", "sphinx", "-q", "-nW", "--keep-going", "-b", "html",
               "-d", str(out / "doctrees"), "-c", str(ROOT), *extra, str(ROOT / "docs"),
               str(out / "html")]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        # The lines that name an error -- the docs extension's one-line
        # "error: the notebook ... failed: ..." or Sphinx's "...Error: <page>" --
        # without this checkout's path: the site publishes the note.
        lines = [line.strip().replace(f"{ROOT}/", "") for line in done.stderr.splitlines()
                 if line.startswith("error:") or "Error:" in line]  # fmt: skip
        # every "error:" line: the claims extension names each failed claim on one of
        # its own before its summary line, which alone does not say which claim it was
        ours = [line for line in lines if line.startswith("error:")]
        raise BuildFailed(
            "; ".join(ours) or (lines[-1] if lines else f"sphinx exited with {done.returncode}")
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Build(seconds, cpu)


def failed(figure: str, error: BuildFailed, target: str) -> Row:
    """A row for a build that stopped: no figure, the target missed, the error as its note."""
    return {**row("site", figure, None, "s", target, note=f"failed: {error}"), "met": False}


def bench_site(jobs: int) -> Iterator[Row]:
    """The site build against its sleep floor: serial, parallel, and a cached rebuild."""
    base = {settings.DELAY: str(settings.delay())}
    with tempfile.TemporaryDirectory(prefix="schedtutor-site-") as folder:
        log = Path(folder) / "work.log"
        try:
            serial = build_site(
                Path(folder) / "serial", env={**base, "SCHEDTUTOR_WORK_LOG": str(log)}
            )
        except BuildFailed as error:
            yield failed("fresh build, serial / sleep floor", error, "<= 1.5")
            return
        work = log.read_text()
        floor = sleep_floor(work)
        yield row("site", "sleep floor (deliberate work, wall clock)", floor, "s")
        runs = notebook_runs(Path(folder) / "serial" / "doctrees", work)
        yield from notebook_rows(runs, serial.seconds)
        yield row("site", "fresh build, serial", serial.seconds, "s")
        ratio = serial.seconds / floor
        yield row("site", "fresh build, serial / sleep floor", ratio, "x", "<= 1.5")
        # However the notebooks are spread over processes, the build's CPU work
        # needs this long on this machine's CPUs: no -j can finish sooner.
        cpus = os.cpu_count() or 1
        yield row("site", "fresh build, CPU time of all its processes", serial.cpu, "s")
        yield row(
            "site",
            f"least any parallel build can reach: its CPU time / {cpus} CPUs / sleep floor",
            serial.cpu / cpus / floor,
            "x",
        )
        figure = f"fresh build, -j {jobs} / sleep floor"
        try:
            parallel = build_site(Path(folder) / "parallel", "-j", str(jobs), env=base)
        except BuildFailed as error:
            yield failed(figure, error, "<= 0.65")
        else:
            yield row("site", f"fresh build, -j {jobs}", parallel.seconds, "s")
            yield row("site", figure, parallel.seconds / floor, "x", "<= 0.65")
        cached = {**base, "SCHEDTUTOR_EXECUTION": "cache"}
        try:
            build_site(Path(folder) / "cache", env=cached)
            # other programs only ever slow a rebuild down: the best of three
            seconds = min(build_site(Path(folder) / "cache", env=cached).seconds for _ in range(3))
        except BuildFailed as error:
            yield failed("rebuild, nothing changed, cache mode", error, "<= 2.0")
        else:
            yield row(
                "site", "rebuild, nothing changed, cache mode (best of 3)", seconds, "s", "<= 2.0"
            )


def machine() -> str:
    """Describe the machine without naming it: CPU model, CPU count, OS (no host name)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}"


def print_table(rows: list[Row]) -> None:
    """Print the rows as an aligned table with targets and whether each is met."""

    def cell(r: Row) -> tuple[str, str, str, str]:
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        value = r["note"] if r["value"] is None else f"{r['value']:.3g} {r['unit']}".strip()
        if r["value"] is not None and r["note"]:
            value += f" ({r['note']})"
        return (r["figure"], value, r["target"], met)

    table = [("figure", "value", "target", "met"), *(cell(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    for line in table:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip(), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections, print the table, write ``benchmarks/last-run.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sections",
        default="wrapper,tracing,overhead,predict,imports,accuracy,random,site",
        help="comma-separated sections to run (default: all but cells, which runs each "
        "notebook again on its own to time its cells: --sections cells)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="alternations per ratio (5)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 2,
        help="parallel jobs for the parallel site build",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="comma-separated graph sizes for overhead and predict; wrapper and tracing "
        "use 10000 if listed, else the largest",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="seconds an overhead figure may take, estimated from the size before it; "
        "a figure over it is reported as skipped (300)",
    )
    parser.add_argument(
        "--random", type=int, default=40, help="random graphs the random section measures (40)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    sizes = tuple(int(n) for n in args.sizes.split(","))
    makers: dict[str, Callable[[], Iterator[Row]]] = {
        "wrapper": lambda: bench_wrapper(args.repeat, headline_size(sizes)),
        "tracing": lambda: bench_tracing(args.repeat, headline_size(sizes)),
        "overhead": lambda: bench_overhead(sizes, 3, args.budget),
        "predict": lambda: bench_predict(sizes),
        "imports": bench_imports,
        "accuracy": bench_accuracy,
        "random": lambda: bench_random(args.random),
        "site": lambda: bench_site(args.jobs),
        "cells": bench_cells,
    }
    rows: list[Row] = []
    for section in sections:
        if section not in makers:
            parser.error(f"unknown section {section!r}; expected some of {', '.join(makers)}")
        print(f"== {section}", file=sys.stderr, flush=True)
        rows += list(makers[section]())
    print_table(rows)
    stamp = environment().as_dict()
    payload = {
        "date": stamp["utc"],
        "machine": machine(),
        "delay": settings.delay(),
        "environment": stamp,
        "sections": sections,
        "rows": rows,
    }
    for section, text in TABLES_TO_WRITE.items():
        write_table_part(section, text)
    args.output.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0 if all(r["met"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
