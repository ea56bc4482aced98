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
``predict``    the time :func:`schedtutor.predict` takes, by graph size (best of
               three at the 10k size, whose target is under a second).
``accuracy``   :func:`schedtutor.predict` against measured wall time, per scheduler
               configuration, over the cases of ``prediction_accuracy.py`` (the old
               notebook's graph at 0.2 s and 1 s with every kind of work, and other
               shapes); its full table goes to ``benchmarks/prediction-accuracy.md``.
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
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from dask.base import compute
from dask.delayed import Delayed, delayed

import schedtutor
from schedtutor import settings
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
    """Time two callables in alternation ``repeat`` times; return median(second)/median(first)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, into in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            fn()
            into.append(time.perf_counter() - started)
    return statistics.median(times[1]) / statistics.median(times[0])


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
    yield row("tracing", f"trace / run, {tasks(n)}, threads", ratio, "x", "<= 1.15")


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
    """A binary tree of about ``n`` library ``add`` ops (so predict knows every duration)."""
    level = [schedtutor.add(i, 1, delay=0.001) for i in range(max(n // 2, 1))]
    while len(level) > 1:
        pairs = zip(level[::2], level[1::2], strict=False)
        level = [schedtutor.add(a, b, delay=0.001) for a, b in pairs] + level[len(level) // 2 * 2 :]
    return level[0]


def bench_predict(sizes: tuple[int, ...]) -> Iterator[Row]:
    """How long predict takes for the threads scheduler, by graph size."""
    for n in sizes:
        graph = op_tree(n)
        count = len(dict(graph.__dask_graph__()))
        target = "<= 1.0" if 5_000 <= count <= 20_000 else ""
        # best of three where there is a target: other programs only slow a run down
        # (one run on 10k tasks read 0.63 s between runs of 0.25-0.34 s)
        repeat = 3 if target else 1
        answer = partial(schedtutor.predict, graph, "threads")
        seconds = min(_seconds(answer) for _ in range(repeat))
        yield row("predict", f"predict, threads, {count} tasks", seconds, "s", target)


def bench_accuracy(delays: tuple[float, ...] = (0.2, 1.0)) -> Iterator[Row]:
    """Worst prediction error per configuration: wall time, and first task to last task."""
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
    ACCURACY_TABLE.write_text(
        f"{accuracy.table(rows)}\n\n{within} of {len(rows)} within 5 %; median error "
        f"{statistics.median(r.error for r in rows):.1%}.\n",
        encoding="utf-8",
    )
    print(f"wrote {ACCURACY_TABLE}", file=sys.stderr)


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


def notebook_rows(doctrees: Path, log: str) -> Iterator[Row]:
    """Each notebook's run time in a build, next to its own sleep floor.

    myst-nb keeps, per page, when its notebook finished and how long it ran; the
    work that ended inside that window is the notebook's deliberate work.
    """
    import pickle

    with (doctrees / "environment.pickle").open("rb") as file:
        env = pickle.load(file)  # the environment our own build just wrote
    for docname, data in sorted(getattr(env, "nb_metadata", {}).items()):
        executed = data.get("exec_data")
        if not executed:
            continue
        end, seconds = executed["mtime"], executed["runtime"]
        floor = sleep_floor(log, (end - seconds, end))
        yield row("site", f"notebook {docname} (its sleep floor {floor:.1f} s)", seconds, "s")


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
        # The last line that names an error -- the docs extension's one-line
        # "error: the notebook ... failed: ..." or Sphinx's "...Error: <page>" --
        # without this checkout's path: the site publishes the note.
        lines = [line.strip().replace(f"{ROOT}/", "") for line in done.stderr.splitlines()
                 if line.startswith("error:") or "Error:" in line]  # fmt: skip
        raise BuildFailed(lines[-1] if lines else f"sphinx exited with {done.returncode}")
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
            yield failed("fresh build, serial / sleep floor", error, "<= 1.15")
            return
        work = log.read_text()
        floor = sleep_floor(work)
        yield row("site", "sleep floor (deliberate work, wall clock)", floor, "s")
        yield from notebook_rows(Path(folder) / "serial" / "doctrees", work)
        yield row("site", "fresh build, serial", serial.seconds, "s")
        ratio = serial.seconds / floor
        yield row("site", "fresh build, serial / sleep floor", ratio, "x", "<= 1.15")
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
        default="wrapper,tracing,overhead,predict,accuracy,site",
        help="comma-separated sections to run (default: all)",
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
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    sizes = tuple(int(n) for n in args.sizes.split(","))
    makers: dict[str, Callable[[], Iterator[Row]]] = {
        "wrapper": lambda: bench_wrapper(args.repeat, headline_size(sizes)),
        "tracing": lambda: bench_tracing(args.repeat, headline_size(sizes)),
        "overhead": lambda: bench_overhead(sizes, 3, args.budget),
        "predict": lambda: bench_predict(sizes),
        "accuracy": bench_accuracy,
        "site": lambda: bench_site(args.jobs),
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
    args.output.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0 if all(r["met"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
