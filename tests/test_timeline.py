"""Tests for schedtutor.timeline: Gantt charts of traces and predictions.

Most tests draw hand-made :class:`TaskSpan` records, so they check the drawing
without timing anything; one draws a real trace and one a prediction.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from schedtutor import plot_timeline, predict, slow_arithmetic, trace
from schedtutor.timeline import plot_timelines, row_labels
from schedtutor.trace import TaskSpan


def _spans(n: int = 4, workers: int = 2, wait: float = 0.0) -> list[TaskSpan]:
    names = ["add", "sub", "mul", "div"]
    return [
        TaskSpan(
            f"{names[i % 4]}-{i}",
            names[i % 4],
            "4242",
            str(100 + i % workers),
            (i // workers) * 1.0,
            (i // workers) * 1.0 + 0.9,
            wait if i % workers else 0.0,
        )
        for i in range(n)
    ]


def _spans_sets() -> list[list[TaskSpan]]:
    return [_spans()]


def _labels(ax: Axes) -> list[str]:
    return [text.get_text() for text in ax.texts]


def _bars(ax: Axes) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


class TestRows:
    def test_threads_of_one_process(self) -> None:
        """Threads of one process are rows 'thread 1', 'thread 2', in order of first start."""
        labels = row_labels(_spans())
        assert list(labels.values()) == ["thread 1", "thread 2"]

    def test_distributed_workers(self) -> None:
        """Workers at addresses with one thread each are 'worker 1', 'worker 2'."""
        spans = [
            TaskSpan("a", "a", "tcp://127.0.0.1:4001", "7", 0.0, 1.0),
            TaskSpan("b", "b", "tcp://127.0.0.1:4000", "8", 0.5, 1.0),
        ]
        assert list(row_labels(spans).values()) == ["worker 1", "worker 2"]

    def test_processes_with_several_threads(self) -> None:
        """Several processes of several threads name both, numbered within each process."""
        spans = [
            TaskSpan("a", "a", "11", "7", 0.0, 1.0),
            TaskSpan("b", "b", "11", "8", 0.1, 1.0),
            TaskSpan("c", "c", "12", "9", 0.2, 1.0),
        ]
        assert list(row_labels(spans).values()) == [
            "process 1 · thread 1",
            "process 1 · thread 2",
            "process 2 · thread 1",
        ]

    def test_predicted_names_are_kept(self) -> None:
        """Names a prediction gives its workers are kept as they are."""
        spans = [TaskSpan("a", "a", "worker 1", "thread 1", 0.0, 1.0)]
        assert list(row_labels(spans).values()) == ["thread 1"]


class TestPlotTimeline:
    def test_four_tasks_read_well(self) -> None:
        """Four tasks on two threads: two rows, every bar labelled, seconds on the x axis."""
        ax = plot_timeline(_spans())
        assert isinstance(ax, Axes)
        assert [t.get_text() for t in ax.get_yticklabels()] == ["thread 1", "thread 2"]
        assert sorted(_labels(ax)) == ["add", "div", "mul", "sub"]
        assert ax.get_xlabel() == "seconds from the start of the compute"
        assert ax.get_xlim()[0] == 0

    def test_lock_waits_are_drawn_apart(self) -> None:
        """A lock wait is a hatched bar of its own, named in the legend."""
        ax = plot_timeline(_spans(wait=0.5))
        hatched = [c for c in _bars(ax) if c.get_hatch()]
        assert hatched
        legend = ax.get_legend()
        assert legend is not None
        assert "waiting for the lock" in [t.get_text() for t in legend.get_texts()]

    def test_no_wait_no_hatching(self) -> None:
        """Without lock waits nothing is hatched and there is no legend."""
        ax = plot_timeline(_spans())
        assert not [c for c in _bars(ax) if c.get_hatch()]
        assert ax.get_legend() is None

    def test_hundreds_of_tasks_stay_legible(self) -> None:
        """With 400 tasks labels that do not fit are dropped and the names go to a legend."""
        spans = [
            TaskSpan(f"t-{i}", ["load", "sum"][i % 2], "1", str(i % 4), i // 4 * 0.01,
                     i // 4 * 0.01 + 0.009)
            for i in range(400)
        ]  # fmt: skip
        ax = plot_timeline(spans)
        assert len(ax.get_yticklabels()) == 4
        assert len(_labels(ax)) < 40
        legend = ax.get_legend()
        assert legend is not None
        assert {t.get_text() for t in legend.get_texts()} == {"load", "sum"}
        assert len(_bars(ax)) <= 8  # one collection per row and name, not one per task

    def test_draws_on_a_given_axes(self) -> None:
        """Given an Axes, the chart is drawn there and that Axes returned."""
        figure = Figure()
        ax = figure.add_subplot()
        assert plot_timeline(_spans(), ax=ax, title="mine") is ax
        assert ax.get_title(loc="left") == "mine"

    def test_a_real_trace(self, tmp_path: Path) -> None:
        """A threads trace draws with its label and wall time as the title, and saves to PNG."""
        traced = trace(slow_arithmetic(delay=0.01), "threads", num_workers=2)
        ax = plot_timeline(traced)
        assert ax.get_title(loc="left").startswith("threads (num_workers=2): ")
        path = tmp_path / "timeline.png"
        ax.figure.savefig(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_a_prediction(self) -> None:
        """A prediction draws like a trace, titled as predicted."""
        ax = plot_timeline(predict(slow_arithmetic(delay=1.0), "processes", chunksize=1))
        assert "(predicted)" in ax.get_title(loc="left")
        assert [t.get_text() for t in ax.get_yticklabels()] == ["process 1", "process 2"]

    def test_bad_input(self) -> None:
        """Something that is not spans is a TypeError naming what is accepted."""
        with pytest.raises(TypeError, match="expected a Trace, a Prediction"):
            plot_timeline(42)
        with pytest.raises(TypeError, match="expected TaskSpan records"):
            plot_timeline([(0, 1)])


class TestPlotTimelines:
    def test_one_axes_per_trace_on_one_time_axis(self, tmp_path: Path) -> None:
        """Several traces stack on a shared time axis and save to a file."""
        graph = slow_arithmetic(delay=0.01)
        path = tmp_path / "all.svg"
        figure = plot_timelines([trace(graph, "sync"), predict(graph, "threads")], path)
        assert len(figure.axes) == 2
        assert figure.axes[0].get_xlim() == figure.axes[1].get_xlim()
        assert path.read_text().lstrip().startswith("<?xml")

    def test_unwritable_file(self, tmp_path: Path) -> None:
        """A file that cannot be written is a ValueError naming it, not an OSError."""
        folder = tmp_path / "a-file-not-a-folder"
        folder.write_text("")
        with pytest.raises(ValueError, match="does not exist"):
            plot_timelines(_spans_sets(), folder / "t.png")
        (tmp_path / "t.png").mkdir()  # a folder where the file should go
        with pytest.raises(ValueError, match="give a path you can write"):
            plot_timelines(_spans_sets(), tmp_path / "t.png")

    def test_nothing_to_draw(self) -> None:
        """An empty list is a ValueError."""
        with pytest.raises(ValueError, match="at least one trace"):
            plot_timelines([])


def test_importing_picks_no_backend() -> None:
    """Importing the library (and drawing) never imports pyplot or chooses a backend."""
    code = (
        "import sys, schedtutor; from schedtutor.trace import TaskSpan; "
        "schedtutor.plot_timeline([TaskSpan('a', 'a', '1', '1', 0.0, 1.0)]); "
        "print('matplotlib.pyplot' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_importing_the_library_does_not_import_matplotlib() -> None:
    """Every worker the processes scheduler spawns imports schedtutor to unpickle its ops.

    Matplotlib's import (0.3 s here) would then be paid by every spawn pool and
    counted by the lessons as Dask's start-up cost; it is imported only to draw.
    """
    code = "import sys, schedtutor; print([m for m in sys.modules if m.startswith('matplotlib')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
