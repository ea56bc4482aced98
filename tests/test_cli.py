"""Tests for the schedtutor command line, run as a user would: a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DELAY


def schedtutor(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m schedtutor ARGS`` and return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "schedtutor", *args], capture_output=True, text=True, timeout=300
    )


class TestCompare:
    def test_json_records_match_the_lesson(self) -> None:
        """--json gives one record per scheduler whose ratios match the old lesson, scaled."""
        done = schedtutor(
            "compare", "--delay", str(DELAY), "--repeat", "2", "--json",
            "--scheduler", "sync", "--scheduler", "threads",
            "--scheduler", "processes", "--chunksize", "1",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        payload = json.loads(done.stdout)
        seconds = {r["label"]: r["seconds"] for r in payload["records"]}
        assert set(seconds) == {"sync", "threads", "processes (chunksize=1)"}
        assert 0.93 <= seconds["threads"] / seconds["sync"] <= 1.07
        assert all(r["result"] == -2.2857142857142856 for r in payload["records"])
        assert payload["environment"]["cpu_count"] >= 1
        assert "processes (chunksize=1)" in done.stderr  # progress goes to stderr

    def test_table_and_stamp(self) -> None:
        """Without --json it prints a table and the environment stamp."""
        done = schedtutor("compare", "--delay", "0.01", "--repeat", "1", "--scheduler", "sync")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0].startswith("configuration")
        assert "dask" in done.stdout.splitlines()[-1]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["compare", "--scheduler", "thread"], "unknown scheduler 'thread'"),
            (["compare", "--delay", "-1"], "delay must be a finite number"),
            (["compare", "--work", "gpu"], "unknown work kind 'gpu'"),
            (["compare", "--scheduler", "sync", "--chunksize", "2"], "--chunksize applies only"),
            (["compare", "--delay", "soon"], "invalid float value"),
            (["frobnicate"], "invalid choice"),
        ],
    )
    def test_bad_arguments_exit_2_with_one_line(self, args: list[str], message: str) -> None:
        """A bad argument exits 2 with one line on stderr and no traceback."""
        done = schedtutor(*args)
        assert done.returncode == 2
        assert message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


class TestGraph:
    @pytest.mark.parametrize("name", ["graph.png", "graph.svg"])
    def test_writes_the_image(self, tmp_path: Path, name: str) -> None:
        """graph FILE writes a non-empty image of the experiment's task graph."""
        done = schedtutor("graph", str(tmp_path / name), "--color", "order")
        assert done.returncode == 0, done.stderr
        assert (tmp_path / name).stat().st_size > 100

    def test_unknown_extension(self, tmp_path: Path) -> None:
        """An image name with an unknown extension exits 2, naming the accepted ones."""
        done = schedtutor("graph", str(tmp_path / "graph.pdf"))
        assert done.returncode == 2
        assert "expected one of .png, .svg" in done.stderr
