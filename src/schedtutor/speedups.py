"""Speed-ups over a serial run: a table and a bar chart, measured beside predicted.

An experiment that runs several kinds of work (rows) under several schedulers
(columns) has one wall time per pair.  Its natural summary is the *speed-up*:
how many times faster each pair ran than the same row under the baseline
scheduler (``"sync"``, one task at a time).  The functions here take the
measurements as a mapping ``{(row, column): seconds}`` -- the seconds may be
floats or anything with a ``seconds`` attribute (a
:class:`~schedtutor.trace.Trace`, a :class:`~schedtutor.timing.Run`, a
:class:`~schedtutor.predict.Prediction`) -- and, optionally, the predictions
in the same shape:

>>> measured = {("sleep", "sync"): 4.0, ("sleep", "threads"): 2.0}
>>> speedups(measured)
{('sleep', 'sync'): 1.0, ('sleep', 'threads'): 2.0}
>>> print(speedup_table(measured, {("sleep", "sync"): 4.0, ("sleep", "threads"): 2.1}))
Measured seconds (speed-up over sync), *predicted seconds*
work   sync                   threads
sleep  4.00 s (1.0×), *4.00*  2.00 s (2.0×), *2.10*

:func:`plot_speedups` draws the same numbers: one group of bars per row, one
bar per column but the baseline, the predicted speed-up as a black tick.
Like :mod:`schedtutor.timeline` it draws on a figure of its own (never
through ``pyplot``) and imports matplotlib only when it draws.
"""  # noqa: RUF002 -- the speed-up's sign is the multiplication sign, on purpose

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedtutor._base import check_figure_file, save_figure
from schedtutor.tables import Table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["TIMES", "plot_speedups", "speedup_table", "speedups"]

TIMES = "\u00d7"
"""The sign after a speed-up: 2.0 followed by it reads "twice as fast"."""


def _seconds(value: object, key: object) -> float:
    seconds = getattr(value, "seconds", value)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ValueError(
            f"each measurement needs a number of seconds > 0 (or a run, trace or "
            f"prediction with one); {key!r} has {value!r}"
        )
    return float(seconds)


def _grid(
    measured: Mapping[tuple[str, str], Any], baseline: str
) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    """Return the rows, the columns and the seconds of ``measured``, checked."""
    if not isinstance(measured, Mapping) or not measured:
        raise ValueError(
            "give the measurements as a non-empty mapping {(row, column): seconds}, "
            f"got {measured!r}"
        )
    seconds: dict[tuple[str, str], float] = {}
    for key, value in measured.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(
                f"each key is a (row, column) pair, such as ('sleep', 'threads'); got {key!r}"
            )
        seconds[key] = _seconds(value, key)
    rows = list(dict.fromkeys(row for row, _ in seconds))
    columns = list(dict.fromkeys(column for _, column in seconds))
    for row in rows:
        if (row, baseline) not in seconds:
            raise ValueError(
                f"row {row!r} has no {baseline!r} run to compare with; each row needs "
                f"one: ({row!r}, {baseline!r})"
            )
    return rows, columns, seconds


def speedups(
    measured: Mapping[tuple[str, str], Any], baseline: str = "sync"
) -> dict[tuple[str, str], float]:
    """Return each pair's speed-up: its row's ``baseline`` seconds over its own.

    >>> speedups({("python", "sync"): 4.0, ("python", "threads"): 5.0})[("python", "threads")]
    0.8
    >>> speedups({("python", "threads"): 4.1})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: row 'python' has no 'sync' run to compare with; each row needs one: ...
    """
    _, _, seconds = _grid(measured, baseline)
    return {(row, col): seconds[row, baseline] / s for (row, col), s in seconds.items()}


def speedup_table(
    measured: Mapping[tuple[str, str], Any],
    predicted: Mapping[tuple[str, str], Any] | None = None,
    baseline: str = "sync",
    row_name: str = "work",
) -> Table:
    """Return a :class:`~schedtutor.tables.Table`: seconds and speed-up of each pair.

    A cell reads ``2.00 s (2.0×)``, followed by the predicted seconds in
    italics when ``predicted`` gives them.  Rows and columns keep the order
    in which ``measured`` first names them.

    >>> print(speedup_table({("numpy", "sync"): 4.0, ("numpy", "threads"): 2.5}))
    Measured seconds (speed-up over sync)
    work   sync           threads
    numpy  4.00 s (1.0×)  2.50 s (1.6×)
    """  # noqa: RUF002
    rows, columns, seconds = _grid(measured, baseline)
    ratio = speedups(seconds, baseline)
    guessed = {} if predicted is None else {k: _seconds(v, k) for k, v in predicted.items()}

    def cell(row: str, column: str) -> str:
        if (row, column) not in seconds:
            return ""
        text = f"{seconds[row, column]:.2f} s ({ratio[row, column]:.1f}{TIMES})"
        if (row, column) in guessed:
            text += f", *{guessed[row, column]:.2f}*"
        return text

    caption = f"Measured seconds (speed-up over {baseline})"
    if guessed:
        caption += ", *predicted seconds*"
    return Table(
        (row_name, *columns),
        [(f"{row}", *(cell(row, column) for column in columns)) for row in rows],
        caption=caption,
    )


def plot_speedups(
    measured: Mapping[tuple[str, str], Any],
    predicted: Mapping[tuple[str, str], Any] | None = None,
    baseline: str = "sync",
    ideal: float | None = None,
    title: str | None = None,
    filename: str | Path | None = None,
) -> Figure:
    """Draw each pair's speed-up as a bar, grouped by row; return the figure.

    The baseline column is left out (its speed-up is 1: a dashed line marks
    it).  ``predicted`` adds the predicted speed-up of each bar as a black
    tick; ``ideal`` a dotted line (2 for two workers, say).  With
    ``filename`` the figure is also written there (``.png``, ``.svg`` or
    ``.pdf``; checked before anything is drawn).

    >>> figure = plot_speedups(
    ...     {("sleep", "sync"): 4.0, ("sleep", "threads"): 2.0},
    ...     {("sleep", "sync"): 4.0, ("sleep", "threads"): 2.0},
    ...     ideal=2,
    ... )
    >>> figure.axes[0].get_ylabel()
    'speed-up over sync'
    """
    rows, columns, seconds = _grid(measured, baseline)
    if filename is not None:
        check_figure_file(filename, "chart")
    ratio = speedups(seconds, baseline)
    expected = None if predicted is None else speedups(predicted, baseline)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 3.6), layout="constrained")
    ax = figure.add_subplot()
    shown = [column for column in columns if column != baseline]
    width = 0.8 / max(len(shown), 1)
    for i, column in enumerate(shown):
        offset = (i - (len(shown) - 1) / 2) * width
        present = [k for k, row in enumerate(rows) if (row, column) in ratio]
        xs = [k + offset for k in present]
        bars = ax.bar(xs, [ratio[rows[k], column] for k in present], width, label=column)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
        if expected is not None:
            ticks = [(x, expected[rows[k], column]) for x, k in zip(xs, present, strict=True)
                     if (rows[k], column) in expected]  # fmt: skip
            ax.scatter([x for x, _ in ticks], [y for _, y in ticks], marker="_", s=220,
                       color="black", zorder=3)  # fmt: skip
    if expected is not None:
        ax.scatter([], [], marker="_", s=220, color="black", label="predicted")
    right = len(rows) - 0.45
    ax.axhline(1, color="grey", lw=1, ls="--")
    ax.text(right, 1.02, baseline, fontsize=8, ha="right", va="bottom")
    top = max([*ratio.values(), *(expected or {}).values(), ideal or 0.0, 1.0])
    if ideal is not None:
        ax.axhline(ideal, color="grey", lw=1, ls=":")
        ax.text(right, ideal + 0.02, "ideal", fontsize=8, ha="right", va="bottom")
    ax.set_xticks(range(len(rows)), list(rows))
    ax.set_ylabel(f"speed-up over {baseline}")
    ax.set_ylim(0, top * 1.3)
    ax.legend(loc="upper left", ncols=len(shown) + 1, fontsize=8, frameon=False)
    if title:
        ax.set_title(title, loc="left")
    if filename is not None:
        save_figure(figure, filename, "chart")
    return figure
