"""Tests for ``schedtutor predict`` and ``schedtutor compare --timeline``, run as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def schedtutor(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m schedtutor ARGS`` and return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "schedtutor", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def _table(stdout: str) -> dict[str, tuple[float, float]]:
    rows = [line.rsplit(maxsplit=2) for line in stdout.splitlines()[1:]]
    return {label.strip(): (float(seconds), float(path)) for label, seconds, path in rows}


class TestPredict:
    def test_every_scheduler_by_default(self) -> None:
        """Without --scheduler it predicts the four schedulers, next to the critical path."""
        done = schedtutor("predict", "--delay", "1")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0].split() == ["configuration", "predicted", "s",
                                                       "critical", "path", "s"]  # fmt: skip
        table = _table(done.stdout)
        assert list(table) == ["sync", "threads", "processes", "distributed"]
        assert all(path == 3.0 for _, path in table.values())
        assert table["sync"][0] == pytest.approx(4.0, abs=0.01)
        assert table["threads"][0] == pytest.approx(4.0, abs=0.01)  # the lock serialises
        assert table["processes"][0] > 4.0  # one batch, plus the spawn pool's start-up
        assert 3.0 < table["distributed"][0] < 3.1

    def test_work_and_chunksize(self) -> None:
        """--work sleep lets threads overlap; --chunksize 1 lets processes overlap."""
        done = schedtutor(
            "predict", "--delay", "1", "--work", "sleep",
            "--scheduler", "threads", "--scheduler", "multiprocessing", "--chunksize", "1",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        table = _table(done.stdout)
        assert table["threads"][0] == pytest.approx(3.0, abs=0.01)
        assert 3.0 < table["processes (chunksize=1)"][0] < 4.0

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["predict", "--scheduler", "thread"], "unknown scheduler 'thread'"),
            (["predict", "--work", "gpu"], "unknown work kind 'gpu'"),
            (["predict", "--delay", "-1"], "delay must be a finite number"),
            (["predict", "--delay", "soon"], "invalid float value: 'soon'"),
            (["predict", "--chunksize", "0", "--scheduler", "processes"], "chunksize must be"),
            (["predict", "--chunksize", "2", "--scheduler", "sync"], "applies only to the proc"),
            (["predict", "--repeat", "2"], "unrecognized arguments: --repeat 2"),
        ],
    )
    def test_bad_arguments_exit_2_with_one_line(self, args: list[str], message: str) -> None:
        """A bad argument exits with status 2 and one line saying what was wrong."""
        done = schedtutor(*args)
        assert done.returncode == 2
        assert message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


class TestCompareTimeline:
    def test_writes_one_timeline_per_configuration(self, tmp_path: Path) -> None:
        """--timeline FILE.png traces each configuration once and draws them into FILE."""
        path = tmp_path / "runs.png"
        done = schedtutor(
            "compare", "--delay", "0.01", "--repeat", "1",
            "--scheduler", "sync", "--scheduler", "threads", "--timeline", str(path),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"wrote {path}" in done.stderr
        assert done.stdout.splitlines()[0].startswith("configuration")

    @pytest.mark.parametrize("name", ["runs.jpg", "missing/runs.png"])
    def test_bad_file_is_refused_before_running(self, tmp_path: Path, name: str) -> None:
        """A file that cannot be written is refused in one line, before anything is timed."""
        done = schedtutor(
            "compare", "--delay", "5", "--scheduler", "sync", "--timeline", str(tmp_path / name)
        )
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1
        assert "timing" not in done.stderr
