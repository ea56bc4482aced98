"""Tests for schedtutor.interactive: the Bokeh timelines and the HTML file they are saved to.

The file is opened, hovered and checked for console errors in Chromium by
tests/test_browser.py; these tests check what is in it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import bokeh
import pytest
from matplotlib.colors import to_hex

from schedtutor import predict, slow_arithmetic, trace
from schedtutor.interactive import TOOLTIPS, save_html, timelines
from schedtutor.timeline import plot_timeline, row_labels, task_colors
from schedtutor.trace import TaskSpan

DELAY = 0.02


@pytest.fixture(scope="module")
def threads_trace() -> object:
    """A threads trace of the old lesson's graph: two rows, one lock wait."""
    return trace(slow_arithmetic(delay=DELAY), "threads", num_workers=2)


def data_of(figure: object) -> dict[str, list[object]]:
    """The data of the figure's working bars (its first renderer)."""
    return dict(figure.renderers[0].data_source.data)  # type: ignore[attr-defined]


class TestTimelines:
    def test_rows_and_colours_are_the_static_pictures(self, threads_trace: object) -> None:
        """Same rows, top to bottom, and same colour per task as plot_timeline."""
        shown = timelines([threads_trace])
        figure = shown.figures[0]
        labels = list(row_labels(threads_trace.spans).values())  # type: ignore[attr-defined]
        assert list(reversed(figure.y_range.factors)) == labels  # first row on top
        data = data_of(figure)
        colours = dict(zip(data["name"], data["color"], strict=True))
        assert colours == task_colors(threads_trace.spans)  # type: ignore[attr-defined]
        ax = plot_timeline(threads_trace)
        drawn = {to_hex(c.get_facecolor()[0]).upper() for c in ax.collections}
        assert {c.upper() for c in colours.values()} <= drawn

    def test_one_figure_per_trace_on_one_time_axis(self) -> None:
        """Several traces become a column of figures that pan and zoom together."""
        graph = slow_arithmetic(delay=0.001)
        shown = timelines([trace(graph, "sync"), trace(graph, "threads")], titles=["a", "b"])
        first, second = shown.figures
        assert first.x_range is second.x_range
        assert [f.title.text for f in shown.figures] == ["a", "b"]
        assert {t.__class__.__name__ for t in first.toolbar.tools} >= {
            "PanTool", "WheelZoomTool", "BoxZoomTool", "ResetTool", "HoverTool",
        }  # fmt: skip

    def test_tooltip_names_task_worker_times_and_wait(self, threads_trace: object) -> None:
        """Every bar carries its task, key, worker, start, end and lock wait for the tooltip."""
        fields = {field for _, text in TOOLTIPS for field in re.findall(r"@(\w+)", text)}
        assert fields == {"name", "key", "worker", "start", "end", "lock_wait"}
        data = data_of(timelines([threads_trace]).figures[0])
        for span in threads_trace.spans:  # type: ignore[attr-defined]
            i = data["key"].index(str(span.key))
            assert (data["name"][i], data["start"][i], data["end"][i]) == (
                span.name, span.start, span.end,
            )  # fmt: skip
            assert data["lock_wait"][i] == span.lock_wait

    def test_a_prediction_is_drawn_too(self) -> None:
        """A Prediction draws like a trace, titled as predicted."""
        prediction = predict(slow_arithmetic(delay=1.0), "threads")
        shown = timelines([prediction])
        assert shown.figures[0].title.text == "threads (predicted): 4.00 s"

    def test_nothing_to_draw(self) -> None:
        """An empty list is a ValueError."""
        with pytest.raises(ValueError, match="non-empty list"):
            timelines([])


class TestHtmlFile:
    def test_self_contained(self, tmp_path: Path, threads_trace: object) -> None:
        """The file inlines BokehJS and the data, and loads nothing from anywhere."""
        path = threads_trace.to_html(tmp_path / "t.html")  # type: ignore[attr-defined]
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link)[^>]+(src|href)=", text), "an outside resource"
        assert f"Bokeh {bokeh.__version__}" in text or f'"{bokeh.__version__}"' in text
        assert "embed_items" in text  # BokehJS's own code is in the file
        for span in threads_trace.spans:  # type: ignore[attr-defined]
            assert json.dumps(str(span.key)) in text
        for label in row_labels(threads_trace.spans).values():  # type: ignore[attr-defined]
            assert json.dumps(label) in text

    def test_unwritable_path(self, tmp_path: Path) -> None:
        """A path in a missing folder is one ValueError that says so."""
        spans = [TaskSpan("a-1", "a", "1", "1", 0.0, 0.5)]
        with pytest.raises(ValueError, match=r"cannot write a timeline to .*no such file"):
            save_html([spans], tmp_path / "missing" / "t.html")


class TestNotebook:
    def test_shows_as_bokeh_components(self, threads_trace: object) -> None:
        """In a notebook it shows Bokeh's div and script, without BokehJS itself."""
        html = timelines([threads_trace])._repr_html_()
        assert 'class="schedtutor-timeline"' in html and "data-root-id" in html
        assert "Bokeh.embed.embed_items" in html
        assert len(html) < 50_000  # BokehJS (over 1 MB) comes from the page


def test_importing_the_library_does_not_import_bokeh() -> None:
    """Worker processes import schedtutor: Bokeh is imported only to draw."""
    code = (
        "import sys, schedtutor, schedtutor.interactive, schedtutor.chrome_trace; "
        "print([m for m in sys.modules if m.startswith('bokeh')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
