"""Timelines you can explore: zoom, pan, and point at a bar to learn which task it was.

:func:`plot_timeline <schedtutor.timeline.plot_timeline>` draws a picture; a
trace of a real graph has hundreds of tasks, too many to read off a picture.
This module draws the same timeline with `Bokeh <https://bokeh.org>`_ -- the
library behind Dask's own dashboard and profiler -- in a page a browser runs:
the same rows, named the same way (:func:`schedtutor.timeline.row_labels`),
the same colours (:func:`schedtutor.timeline.task_colors`) and hatched lock
waits, the same dashed line where the compute returned.  Drag to pan along
the time axis, zoom with the box or wheel tool, double-click or reset to go
back; hover a bar and a tooltip names the task, its key, its worker, when it
started and ended and how long it waited for the lock.

>>> from schedtutor import slow_arithmetic, trace
>>> graph = slow_arithmetic(delay=0.001)
>>> shown = timelines([trace(graph, "sync"), trace(graph, "threads")])
>>> len(shown.figures)
2

Two ways out
============

:func:`save_html` (and :meth:`Trace.to_html <schedtutor.trace.Trace.to_html>`)
writes one self-contained HTML file: BokehJS, the data and the page in one
file that opens with no network at all.  In a notebook, the
:class:`Timelines` that :func:`timelines` returns shows itself as Bokeh's
embeddable ``<div>`` and ``<script>``, which draw once BokehJS is on the page:
on this site the build serves BokehJS from its own ``_static`` folder; in
Jupyter run ``bokeh.io.output_notebook()`` first, or use
``bokeh.io.show(shown.layout)``.

Bokeh is imported only when something is drawn: ``import schedtutor`` runs in
every worker process the processes scheduler spawns, and Bokeh's import there
would be start-up cost that is the library's, not Dask's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedtutor.timeline import WAIT_STYLE, default_title, row_labels, spans_of, task_colors
from schedtutor.trace import TaskSpan

if TYPE_CHECKING:
    from bokeh.models import LayoutDOM, Plot

__all__ = ["TOOLTIPS", "Timelines", "save_html", "timelines"]

TOOLTIPS = [
    ("task", "@name"),
    ("key", "@key"),
    ("worker", "@worker"),
    ("start", "@start{0.000} s"),
    ("end", "@end{0.000} s"),
    ("lock wait", "@lock_wait{0.000} s"),
]
"""What the tooltip of a bar says, as Bokeh tooltips (times in seconds from the start)."""

_WIDTH = 800  # pixels the plots are drawn for (they stretch to the page's width)
_ROW = 34  # pixels per row
_CHROME = 90  # pixels of title, toolbar and axis per plot
_LEGEND = 30  # pixels of the legend below it


@dataclass(frozen=True)
class Timelines:
    """Interactive timelines, one Bokeh figure per trace, all on one time axis."""

    layout: LayoutDOM
    """The Bokeh layout: a column of the figures."""
    figures: tuple[Plot, ...]
    """One figure per trace, in the order given."""

    def save(self, path: str | os.PathLike[str], title: str = "schedtutor timeline") -> Path:
        """Write a self-contained HTML file (BokehJS inlined: no network); return its path."""
        from bokeh.embed import file_html
        from bokeh.resources import INLINE

        target = Path(path)
        try:
            target.write_text(file_html(self.layout, INLINE, title), encoding="utf-8")
        except OSError as error:
            reason = (error.strerror or type(error).__name__).lower()
            raise ValueError(
                f"cannot write a timeline to {str(target)!r}: {reason}; give a path you can write"
            ) from None
        return target

    def _repr_html_(self) -> str:
        """Bokeh's ``<script>`` and ``<div>``: they draw where BokehJS is loaded on the page."""
        from bokeh.embed import components

        script, div = components(self.layout)
        return f'<div class="schedtutor-timeline">{div}</div>\n{script}'


def timelines(traces: Sequence[Any], titles: Sequence[str] | None = None) -> Timelines:
    """Draw traces or predictions as interactive timelines, one above the other.

    ``traces`` are :class:`~schedtutor.trace.Trace` s,
    :class:`~schedtutor.predict.Prediction` s or lists of
    :class:`~schedtutor.trace.TaskSpan`; ``titles`` replace their own
    (``threads: 0.40 s``).

    >>> from schedtutor import slow_arithmetic, trace
    >>> shown = timelines([trace(slow_arithmetic(delay=0.001), "threads", num_workers=2)])
    >>> shown.figures[0].y_range.factors
    ['thread 2', 'thread 1']
    """
    from bokeh.layouts import column
    from bokeh.models import Range1d

    if isinstance(traces, str | bytes) or not isinstance(traces, Sequence) or not traces:
        raise ValueError("timelines needs a non-empty list of traces, predictions or span lists")
    spans = [spans_of(source) for source in traces]
    end = max(
        max([s.end for s in group] + [float(getattr(t, "seconds", 0.0) or 0.0)])
        for t, group in zip(traces, spans, strict=True)
    )
    end = max(end, 1e-9) * 1.02
    shared = Range1d(start=0, end=end, bounds=(0, end))
    figures = tuple(
        _figure(source, group, shared, titles[i] if titles else default_title(source))
        for i, (source, group) in enumerate(zip(traces, spans, strict=True))
    )
    figures[-1].xaxis.axis_label = "seconds from the start of the compute"
    return Timelines(column(*figures, sizing_mode="stretch_width"), figures)


def _figure(source: Any, spans: list[TaskSpan], x_range: Any, title: str | None) -> Plot:
    from bokeh.models import ColumnDataSource, FactorRange, HoverTool
    from bokeh.models.annotations import LabelSet, Span
    from bokeh.plotting import figure

    labels = row_labels(spans)
    colors = task_colors(spans)
    rows = list(labels.values())
    plot = figure(
        title=title,
        x_range=x_range,
        y_range=FactorRange(factors=rows[::-1]),  # the first row on top, as in the picture
        height=_CHROME + _LEGEND + _ROW * max(len(rows), 1),
        width=_WIDTH,
        sizing_mode="stretch_width",
        tools="xpan,xwheel_zoom,xbox_zoom,reset,save",
        active_drag="xpan",
        toolbar_location="above",
        name=title or "timeline",
    )
    end = x_range.end
    visible = 0.004 * end  # as the static picture: the lock's own acquire takes microseconds
    waits = [s for s in spans if s.lock_wait > visible]
    work_data, wait_data = _data(spans, labels, colors), _data(waits, labels, colors)
    height = 0.8 if len(rows) < 20 else 0.9
    work = plot.hbar(
        y="worker", left="work_start", right="end", height=height, source=work_data,
        fill_color="color", line_color="white", legend_field="name",
    )  # fmt: skip
    wait = plot.hbar(
        y="worker", left="start", right="work_start", height=height, source=wait_data,
        fill_color=WAIT_STYLE["facecolor"], line_color=WAIT_STYLE["edgecolor"],
        hatch_pattern="/", hatch_color=WAIT_STYLE["edgecolor"], hatch_alpha=0.8,
    )  # fmt: skip
    fits = [s for s in spans if _fits(s, end)]
    if fits:
        names = ColumnDataSource(
            {"x": [(s.work_start + s.end) / 2 for s in fits],
             "y": [labels[s.worker] for s in fits], "text": [s.name for s in fits]}
        )  # fmt: skip
        plot.add_layout(
            LabelSet(x="x", y="y", text="text", source=names, text_align="center",
                     text_baseline="middle", text_color="white", text_font_size="9pt")
        )  # fmt: skip
    plot.add_tools(HoverTool(renderers=[work, wait], tooltips=TOOLTIPS))
    seconds = getattr(source, "seconds", None)
    if isinstance(seconds, float):
        plot.add_layout(
            Span(location=seconds, dimension="height", line_color="#555555", line_dash="dashed")
        )
    legend = plot.legend[0]
    legend.orientation = "horizontal"
    legend.location = "top_left"
    legend.label_text_font_size = "8pt"
    legend.border_line_color = None
    plot.add_layout(legend, "below")
    plot.ygrid.grid_line_color = None
    plot.toolbar.logo = None
    return plot


def _data(spans: list[TaskSpan], labels: dict[str, str], colors: dict[str, str]) -> Any:
    from bokeh.models import ColumnDataSource

    return ColumnDataSource(
        {
            "key": [str(s.key) for s in spans],
            "name": [s.name for s in spans],
            "worker": [labels[s.worker] for s in spans],
            "start": [s.start for s in spans],
            "work_start": [s.work_start for s in spans],
            "end": [s.end for s in spans],
            "lock_wait": [s.lock_wait for s in spans],
            "color": [colors[s.name] for s in spans],
        }
    )


def _fits(span: TaskSpan, end: float) -> bool:
    """Whether the task's name fits on its working bar at the drawing's width (9 pt text)."""
    pixels = (span.end - span.work_start) * (_WIDTH - 150) / end
    return pixels > 7.5 * len(span.name) + 6


def save_html(
    traces: Sequence[Any], path: str | os.PathLike[str], titles: Sequence[str] | None = None
) -> Path:
    """Write ``traces`` as interactive timelines to a self-contained HTML file; return its path.

    BokehJS is inlined: the file opens in a browser with no network.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from schedtutor import slow_arithmetic, trace
    >>> path = save_html([trace(slow_arithmetic(delay=0.001), "sync")],
    ...                  Path(tempfile.mkdtemp()) / "sync.html")
    >>> "<script" in path.read_text() and "cdn.bokeh.org/bokeh/release" not in path.read_text()
    True
    """
    return timelines(traces, titles).save(path, title=default_title(traces[0]) or "timeline")
