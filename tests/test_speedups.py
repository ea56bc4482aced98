"""schedtutor.speedups: speed-ups over a baseline, as numbers, a table and a bar chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from schedtutor.speedups import TIMES, plot_speedups, speedup_table, speedups
from schedtutor.timing import Run

MEASURED = {
    ("sleep", "sync"): 4.0,
    ("sleep", "threads"): 2.0,
    ("python", "sync"): 4.0,
    ("python", "threads"): 4.0,
}
PREDICTED = {
    ("sleep", "sync"): 4.0,
    ("sleep", "threads"): 2.5,
    ("python", "sync"): 4.0,
    ("python", "threads"): 4.0,
}


class TestSpeedups:
    def test_each_pair_over_its_rows_baseline(self) -> None:
        """A speed-up is the row's baseline seconds over the pair's own."""
        assert speedups(MEASURED) == {
            ("sleep", "sync"): 1.0,
            ("sleep", "threads"): 2.0,
            ("python", "sync"): 1.0,
            ("python", "threads"): 1.0,
        }

    def test_anything_with_seconds_counts(self) -> None:
        """A run (or a trace, or a prediction) stands for its seconds."""
        runs = {key: Run(10, seconds, key[1]) for key, seconds in MEASURED.items()}
        assert speedups(runs) == speedups(MEASURED)

    def test_another_baseline(self) -> None:
        """The baseline column can be any column every row has."""
        assert speedups(MEASURED, baseline="threads")["sleep", "sync"] == 0.5

    def test_a_row_without_its_baseline_is_one_line(self) -> None:
        """A row with no baseline run is refused, naming the row and the key it needs."""
        with pytest.raises(ValueError, match=r"^row 'numpy' has no 'sync' run") as raised:
            speedups({**MEASURED, ("numpy", "threads"): 2.0})
        assert "('numpy', 'sync')" in str(raised.value) and "\n" not in str(raised.value)

    @pytest.mark.parametrize(
        ("measured", "says"),
        [
            ({}, "non-empty mapping"),
            ([1, 2], "non-empty mapping"),
            ({"sleep": 1.0}, "(row, column) pair"),
            ({("sleep", "sync"): 0.0}, "seconds > 0"),
            ({("sleep", "sync"): "fast"}, "seconds > 0"),
        ],
        ids=["empty", "a-list", "a-bare-key", "zero-seconds", "a-word"],
    )
    def test_bad_measurements_are_one_line(self, measured: object, says: str) -> None:
        """Measurements of the wrong shape are a ValueError saying what is expected."""
        with pytest.raises(ValueError, match=r"^[^\n]*$") as raised:
            speedups(measured)  # type: ignore[arg-type]
        assert says in str(raised.value)


class TestSpeedupTable:
    def test_cells_show_seconds_speed_up_and_prediction(self) -> None:
        """Each cell reads seconds, speed-up and, in italics, the predicted seconds."""
        table = speedup_table(MEASURED, PREDICTED)
        assert table.columns == ("work", "sync", "threads")
        assert table.rows[0] == (
            "sleep",
            f"4.00 s (1.0{TIMES}), *4.00*",
            f"2.00 s (2.0{TIMES}), *2.50*",
        )
        assert table.caption == "Measured seconds (speed-up over sync), *predicted seconds*"

    def test_without_predictions(self) -> None:
        """Without predictions the cells and the caption leave them out."""
        table = speedup_table(MEASURED, row_name="kind")
        assert table.columns[0] == "kind"
        assert table.rows[1] == ("python", f"4.00 s (1.0{TIMES})", f"4.00 s (1.0{TIMES})")
        assert "predicted" not in table.caption

    def test_a_missing_pair_is_an_empty_cell(self) -> None:
        """A row that was not run under some column shows an empty cell there."""
        table = speedup_table({**MEASURED, ("numpy", "sync"): 4.0})
        assert table.rows[2] == ("numpy", f"4.00 s (1.0{TIMES})", "")

    def test_renders_as_markdown(self) -> None:
        """In a notebook the table is a Markdown table with its caption above."""
        markdown = speedup_table(MEASURED)._repr_markdown_()
        assert markdown.splitlines()[2] == "| work | sync | threads |"


class TestPlotSpeedups:
    def test_one_bar_per_pair_but_the_baseline(self) -> None:
        """The baseline column is a line at 1, the other columns bars, labelled."""
        figure = plot_speedups(MEASURED)
        (ax,) = figure.axes
        heights = sorted(round(p.get_height(), 3) for p in ax.patches)
        assert heights == [1.0, 2.0]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["sleep", "python"]
        assert ax.get_ylabel() == "speed-up over sync"

    def test_predictions_and_the_ideal(self) -> None:
        """Predicted speed-ups are black ticks; the ideal is a dotted line."""
        figure = plot_speedups(MEASURED, PREDICTED, ideal=2, title="two workers")
        (ax,) = figure.axes
        ticks = [c for c in ax.collections if len(c.get_offsets())]
        assert sorted(round(y, 2) for c in ticks for _, y in c.get_offsets()) == [1.0, 1.6]
        assert any(line.get_linestyle() == ":" for line in ax.get_lines())
        assert ax.get_title(loc="left") == "two workers"
        assert "predicted" in [t.get_text() for t in ax.get_legend().get_texts()]

    def test_writes_the_file(self, tmp_path: Path) -> None:
        """With a filename the chart is written there."""
        picture = tmp_path / "speed-ups.png"
        plot_speedups(MEASURED, filename=picture)
        assert picture.read_bytes()[:4] == b"\x89PNG"

    @pytest.mark.parametrize(
        ("name", "says"),
        [("chart.gif", "unknown extension '.gif'"), ("missing/chart.png", "does not exist")],
        ids=["an-unknown-format", "a-missing-folder"],
    )
    def test_a_bad_file_is_refused_before_drawing(
        self, tmp_path: Path, name: str, says: str
    ) -> None:
        """A file that cannot be written is one line of ValueError, and nothing is written."""
        with pytest.raises(ValueError, match=r"^cannot write a chart to [^\n]*$") as raised:
            plot_speedups(MEASURED, filename=tmp_path / name)
        assert says in str(raised.value)
        assert list(tmp_path.iterdir()) == []
