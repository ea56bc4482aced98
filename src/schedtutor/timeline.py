"""Draw what ran when: a Gantt chart of a trace or a prediction.

:func:`plot_timeline` draws one row per worker (a thread, a process, or a
distributed worker's thread) and one bar per task, labelled with the task's
name where the label fits.  The part of a task spent waiting for the lock of
:mod:`schedtutor.sleeplock` is drawn hatched and pale, the work solid, so a
reader sees at once whether two tasks *worked* side by side or merely stood
side by side, one waiting for the other.  The time axis is seconds from the
start of the compute, and a dashed line marks when the compute returned: the
gap before it is start-up (the processes scheduler's spawn pool) or shutdown.

Rows are named for a reader, not by raw ids: ``thread 1, 2`` when one process
ran everything (sync, threads), ``process 1, 2`` for worker processes with one
thread each, ``worker 1, 2`` for distributed workers, numbered in the order
they started their first task.

The functions draw on a :class:`matplotlib.figure.Figure` they create
themselves (never through ``pyplot``), so importing this module picks no
backend and drawing leaves no global state behind; save the figure with
``ax.figure.savefig(...)``, or end a notebook cell with ``ax.figure`` to show it.
Matplotlib itself is imported only when something is drawn: ``import schedtutor``
runs in every worker process the processes scheduler spawns (to unpickle the
library's ops), and matplotlib's import there would be start-up cost that is
the library's, not Dask's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedtutor._base import FIGURE_FORMATS, check_figure_file, save_figure
from schedtutor.trace import TaskSpan

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FORMATS",
    "WAIT_STYLE",
    "check_timeline_file",
    "default_title",
    "plot_timeline",
    "plot_timelines",
    "row_labels",
    "spans_of",
    "task_colors",
]

FORMATS = FIGURE_FORMATS
"""The image formats :func:`plot_timelines` writes."""

_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3")
WAIT_STYLE: dict[str, Any] = {
    "facecolor": "#f2f2f2",
    "edgecolor": "#9a9a9a",
    "hatch": "////",
    "linewidth": 0.6,
}
"""How a lock wait is drawn (matplotlib patch properties; :mod:`schedtutor.interactive` follows)."""


def spans_of(source: Any) -> list[TaskSpan]:
    """Return the spans of a Trace, a Prediction or a sequence of TaskSpan, by start.

    >>> late, early = TaskSpan("b-1", "b", "1", "1", 0.5, 1.0), TaskSpan("a-1", "a", "1", "1", 0, 1)
    >>> [span.key for span in spans_of([late, early])]
    ['a-1', 'b-1']
    """
    spans = getattr(source, "spans", source)
    if not isinstance(spans, Iterable) or isinstance(spans, str | bytes):
        raise TypeError(
            f"expected a Trace, a Prediction or a sequence of TaskSpan, got {type(source).__name__}"
        )
    spans = list(spans)
    for span in spans:
        if not isinstance(span, TaskSpan):
            raise TypeError(f"expected TaskSpan records, got {type(span).__name__}")
    return sorted(spans, key=lambda s: (s.start, s.end))


def row_labels(spans: Sequence[TaskSpan]) -> dict[str, str]:
    """Return a readable label for each worker of ``spans``, in the order they started.

    >>> a = TaskSpan("add-1", "add", "4242", "139", 0.0, 1.0)
    >>> b = TaskSpan("sub-1", "sub", "4243", "140", 0.1, 1.0)
    >>> row_labels([a, b])
    {'4242 / 139': 'process 1', '4243 / 140': 'process 2'}
    >>> row_labels([a])  # one worker process, not this one
    {'4242 / 139': 'process 1'}
    """
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    processes = list(dict.fromkeys(s.process for s in ordered))
    threads: dict[str, list[str]] = {p: [] for p in processes}
    for span in ordered:
        if span.thread not in threads[span.process]:
            threads[span.process].append(span.thread)

    def process_name(process: str, number: int) -> str:
        if "://" in process:
            return f"worker {number}"
        return f"process {number}" if process.isdigit() else process

    def thread_name(thread: str, number: int) -> str:
        return f"thread {number}" if thread.isdigit() else thread

    single_threaded = all(len(t) == 1 for t in threads.values())
    # One process (sync, threads, a prediction's): its threads.  But one worker process
    # of a run, with one thread (processes, all tasks on one worker), is that process.
    lone = processes[0] if len(processes) == 1 else ""
    worker = single_threaded and lone.isdigit() and lone != str(os.getpid())
    ours = bool(lone) and not worker
    labels: dict[str, str] = {}
    for p_number, process in enumerate(processes, 1):
        for t_number, thread in enumerate(threads[process], 1):
            p_name, t_name = process_name(process, p_number), thread_name(thread, t_number)
            if ours:
                text = t_name
            elif single_threaded:
                text = p_name
            else:
                text = f"{p_name} · {t_name}"
            labels[f"{process} / {thread}"] = text
    return labels


def task_colors(spans: Sequence[TaskSpan]) -> dict[str, str]:
    """Return the colour of each task name: a palette's, in the order the names first start.

    >>> task_colors([TaskSpan("add-1", "add", "1", "1", 0.0, 1.0)])
    {'add': '#4C72B0'}
    """
    names = dict.fromkeys(s.name for s in sorted(spans, key=lambda s: (s.start, s.end)))
    return {name: _COLORS[i % len(_COLORS)] for i, name in enumerate(names)}


def default_title(source: Any) -> str | None:
    """Return a timeline's title for a Trace or a Prediction (None for bare spans).

    >>> from schedtutor import slow_arithmetic, trace
    >>> default_title(trace(slow_arithmetic(delay=0.001), "sync"))  # doctest: +ELLIPSIS
    'sync: 0... s'
    """
    label = getattr(source, "label", None)
    seconds = getattr(source, "seconds", None)
    if label is None or seconds is None:
        return None
    kind = " (predicted)" if hasattr(source, "critical_path") else ""
    return f"{label}{kind}: {seconds:.2f} s"


def plot_timeline(trace: Any, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw ``trace`` (a Trace, a Prediction or TaskSpan records) as a Gantt chart; return the Axes.

    >>> from schedtutor import slow_arithmetic, trace
    >>> ax = plot_timeline(trace(slow_arithmetic(delay=0.001), "threads", num_workers=2))
    >>> ax.get_xlabel()
    'seconds from the start of the compute'
    """
    return _draw(trace, ax, title, None)


def _draw(trace: Any, ax: Axes | None, title: str | None, until: float | None) -> Axes:
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    spans = spans_of(trace)
    labels = row_labels(spans)
    if ax is None:
        figure = Figure(figsize=(8.0, 1.2 + 0.45 * max(len(labels), 1)), layout="constrained")
        ax = figure.add_subplot()
    rows = {worker: number for number, worker in enumerate(labels)}
    colors = task_colors(spans)
    names = list(colors)
    end = until or max([s.end for s in spans] + [float(getattr(trace, "seconds", 0.0)), 1e-9])
    many = len(spans) > 60
    height = 0.8 if len(labels) < 20 else 0.9
    edge: dict[str, Any] = {"linewidth": 0} if many else {"edgecolor": "white", "linewidth": 0.8}
    waited = False
    visible = 0.004 * end  # the lock's own acquire takes microseconds: no wait to draw
    for (row, name), group in _groups(spans, rows).items():
        work = [(s.work_start, s.end - s.work_start) for s in group]
        ax.broken_barh(work, (row - height / 2, height), facecolor=colors[name], **edge)
        waits = [(s.start, s.lock_wait) for s in group if s.lock_wait > visible]
        if waits:
            waited = True
            ax.broken_barh(waits, (row - height / 2, height), **WAIT_STYLE)
    ax.set_xlim(0, end * 1.02)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_yticks(range(len(labels)), list(labels.values()))
    ax.set_xlabel("seconds from the start of the compute")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    seconds = getattr(trace, "seconds", None)
    if isinstance(seconds, float):
        ax.axvline(seconds, color="#555555", linestyle="--", linewidth=1)
    dropped = _label_bars(ax, spans, rows, end * 1.02)
    handles = [Patch(label="waiting for the lock", **WAIT_STYLE)] if waited else []
    if dropped and len(names) <= 8:
        handles += [Patch(facecolor=colors[n], label=n) for n in names]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    heading = title if title is not None else default_title(trace)
    if heading:
        ax.set_title(heading, loc="left")
    return ax


def _groups(spans: list[TaskSpan], rows: dict[str, int]) -> dict[tuple[int, str], list[TaskSpan]]:
    groups: dict[tuple[int, str], list[TaskSpan]] = {}
    for span in spans:
        groups.setdefault((rows[span.worker], span.name), []).append(span)
    return groups


def _label_bars(ax: Axes, spans: list[TaskSpan], rows: dict[str, int], width: float) -> bool:
    """Write each task's name on its bar where it fits; return whether any was left out."""
    from matplotlib.figure import Figure

    figure = ax.get_figure(root=True)
    assert isinstance(figure, Figure)
    inches = figure.get_size_inches()[0] * ax.get_position().width
    points_per_second = inches * 72 / width
    size = 9 if len(spans) < 30 else 7
    dropped = False
    for span in spans:
        seconds = span.end - span.work_start
        if seconds * points_per_second < 0.62 * size * len(span.name) + 4:
            dropped = True
            continue
        ax.text(
            span.work_start + seconds / 2,
            rows[span.worker],
            span.name,
            ha="center",
            va="center",
            fontsize=size,
            color="white",
            clip_on=True,
        )
    return dropped


def check_timeline_file(filename: str | Path) -> Path:
    """Return ``filename`` as a Path if a timeline can be written there, else raise ValueError.

    >>> check_timeline_file("runs.gif")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cannot write a timeline to 'runs.gif': unknown extension '.gif'; expected ...
    """
    return check_figure_file(filename, "timeline")


def plot_timelines(
    traces: Sequence[Any], filename: str | Path | None = None, titles: Sequence[str] | None = None
) -> Figure:
    """Draw several traces or predictions one above the other on one time axis.

    With ``filename`` the figure is also written there (``.png``, ``.svg`` or
    ``.pdf``; checked before anything is drawn).

    >>> from schedtutor import slow_arithmetic, trace
    >>> graph = slow_arithmetic(delay=0.001)
    >>> figure = plot_timelines([trace(graph, "sync"), trace(graph, "threads")])
    >>> len(figure.axes)
    2
    """
    if not traces:
        raise ValueError("plot_timelines needs at least one trace")
    if filename is not None:
        check_timeline_file(filename)
    from matplotlib.figure import Figure

    rows = [max(len(row_labels(spans_of(t))), 1) for t in traces]
    figure = Figure(figsize=(8.0, 0.9 * len(traces) + 0.42 * sum(rows)), layout="constrained")
    axes = figure.subplots(len(traces), 1, sharex=True, height_ratios=[r + 1.2 for r in rows])
    axes = [axes] if len(traces) == 1 else list(axes)
    end = max(
        max([s.end for s in spans_of(t)] + [float(getattr(t, "seconds", 0.0))]) for t in traces
    )
    for i, (ax, source) in enumerate(zip(axes, traces, strict=True)):
        _draw(source, ax, titles[i] if titles else None, max(end, 1e-9))
        if ax is not axes[-1]:
            ax.set_xlabel("")
    if filename is not None:
        save_figure(figure, filename, "timeline")
    return figure
