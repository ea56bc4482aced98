"""Tests for the command line's ``--graph`` and ``--trace-json``, run as a user would.

The graphs are the shipped example (``examples/my_graph.py``, which the
how-to on choosing a scheduler shows) and small files each test writes.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "my_graph.py"
EXAMPLE_SPEC = "examples/my_graph.py:word_count"
WORDS = 1000  # what word_count computes: 100 + 200 + 300 + 400 words
_EXAMPLE_GLOBALS = runpy.run_path(str(EXAMPLE))  # defines the graph; runs nothing
WAITS = _EXAMPLE_GLOBALS["PAGES"] * _EXAMPLE_GLOBALS["WAIT"]  # its downloads' waits, s

#: A file of graphs for the error cases and the forms of NAME.
GRAPHS = '''\
import sys

import dask

print("a file that prints while it is imported")


def doubled():
    """A graph of two tasks."""
    return dask.delayed(lambda x: 2 * x)(dask.delayed(sum)([1, 2, 3]))


DOUBLED = doubled()
NUMBER = 5


def five():
    return 5


def needs(a, b=1):
    return dask.delayed(sum)([a, b])


def no_data():
    raise LookupError("no data today")


def fails_in_a_task():
    return dask.delayed(lambda: 1 / 0)()


def imports_in_worker():
    """Which plotting libraries the process that runs the task has imported."""
    return dask.delayed(
        lambda: sorted({m.split(".")[0] for m in sys.modules} & {"bokeh", "matplotlib"})
    )()


if __name__ == "__main__":
    raise SystemExit("the command must not run this block")
'''


def schedtutor(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run ``python -m schedtutor ARGS`` in ``cwd`` and return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "schedtutor", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def records(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    """The --json records of a finished command, by label."""
    assert done.returncode == 0, done.stderr
    return {r["label"]: r for r in json.loads(done.stdout)["records"]}


@pytest.fixture
def graphs(tmp_path: Path) -> Path:
    """A folder holding ``graphs.py`` and ``broken.py`` (which fails to import)."""
    (tmp_path / "graphs.py").write_text(GRAPHS)
    (tmp_path / "broken.py").write_text("import math\n\nRATIO = 1 / math.floor(0.5)\n")
    (tmp_path / "syntax.py").write_text("def make(:\n    pass\n")
    package = tmp_path / "mypackage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "workload.py").write_text(
        "import dask\n\n\ndef make():\n    return dask.delayed(sum)([dask.delayed(abs)(-i) "
        "for i in range(5)])\n"
    )
    (package / "needs_missing.py").write_text("import no_such_dependency_here\n")
    return tmp_path


class TestExample:
    def test_the_how_to_command_prints_records(self) -> None:
        """The how-to's command prints one record per scheduler; the waits overlap in threads."""
        done = schedtutor(
            "compare", "--graph", EXAMPLE_SPEC, "--scheduler", "sync", "--scheduler", "threads",
            "--json",
        )  # fmt: skip
        table = records(done)
        assert list(table) == ["sync", "threads"]
        assert all(r["result"] == WORDS and r["repeat"] == 3 for r in table.values())
        # the four waits: one after another in sync, side by side in threads
        assert float(table["threads"]["seconds"]) < 0.7 * float(table["sync"]["seconds"])

    def test_every_scheduler_runs_the_file(self) -> None:
        """The example's functions reach worker processes by value: processes and distributed."""
        done = schedtutor(
            "compare", "--graph", EXAMPLE_SPEC, "--repeat", "1", "--json",
            "--scheduler", "sync", "--scheduler", "threads", "--scheduler", "processes",
            "--chunksize", "1", "--scheduler", "distributed",
        )  # fmt: skip
        table = records(done)
        assert list(table) == ["sync", "threads", "processes (chunksize=1)", "distributed"]
        assert {r["result"] for r in table.values()} == {WORDS}

    def test_an_absolute_path_from_another_folder(self, tmp_path: Path) -> None:
        """PATH may be absolute and the command run anywhere."""
        done = schedtutor(
            "compare", "--graph", f"{EXAMPLE}:word_count", "--scheduler", "sync",
            "--repeat", "1", "--json", cwd=tmp_path,
        )  # fmt: skip
        assert records(done)["sync"]["result"] == WORDS

    def test_predict_traces_once_under_sync(self) -> None:
        """predict --graph says it traced the graph under sync, then predicts from those times."""
        done = schedtutor(
            "predict", "--graph", EXAMPLE_SPEC, "--scheduler", "sync", "--scheduler", "threads"
        )
        assert done.returncode == 0, done.stderr
        assert "tracing the graph once under sync" in done.stderr
        rows = [line.split() for line in done.stdout.splitlines()[1:]]
        predicted = {row[0]: float(row[1]) for row in rows}
        assert set(predicted) == {"sync", "threads"}
        assert predicted["sync"] == pytest.approx(WAITS, rel=0.2)  # the four waits
        assert predicted["threads"] < 0.6 * predicted["sync"]  # the waits overlap


class TestForms:
    def test_a_collection_itself(self, graphs: Path) -> None:
        """NAME may be a collection rather than a function; the file's print goes to stderr."""
        done = schedtutor(
            "compare", "--graph", "graphs.py:DOUBLED", "--scheduler", "threads", "--repeat", "1",
            "--json", cwd=graphs,
        )  # fmt: skip
        assert records(done)["threads"]["result"] == 12
        assert "a file that prints while it is imported" in done.stderr

    def test_a_module_found_from_the_current_folder(self, graphs: Path) -> None:
        """package.module:NAME is imported from the current folder; its workers find it too."""
        done = schedtutor(
            "compare", "--graph", "mypackage.workload:make", "--repeat", "1", "--json",
            "--scheduler", "processes", "--scheduler", "distributed", cwd=graphs,
        )  # fmt: skip
        assert {r["result"] for r in records(done).values()} == {10}

    @pytest.mark.parametrize("scheduler", ["processes", "distributed"])
    def test_workers_import_no_plotting_library(self, graphs: Path, scheduler: str) -> None:
        """The worker processes that run a --graph's tasks import neither bokeh nor matplotlib."""
        done = schedtutor(
            "compare", "--graph", "graphs.py:imports_in_worker", "--scheduler", scheduler,
            "--repeat", "1", "--json", "--trace-json", str(graphs / "t.json"), cwd=graphs,
        )  # fmt: skip
        assert records(done)[scheduler]["result"] == []


class TestTraceJson:
    def test_every_configuration_in_one_file(self, tmp_path: Path) -> None:
        """--trace-json writes trace-event JSON: each configuration's tasks, on its own pids."""
        path = tmp_path / "runs.json"
        done = schedtutor(
            "compare", "--graph", EXAMPLE_SPEC, "--repeat", "1", "--scheduler", "sync",
            "--scheduler", "processes", "--chunksize", "1", "--trace-json", str(path),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"wrote {path}" in done.stderr
        document = json.loads(path.read_text())
        assert document["otherData"]["configurations"] == ["sync", "processes (chunksize=1)"]
        events = document["traceEvents"]
        assert {e["ph"] for e in events} <= {"X", "M", "i"}
        processes = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
        tasks = [e for e in events if e["ph"] == "X" and e["cat"] == "task"]
        per_configuration: dict[str, list[str]] = {}
        for task in tasks:
            assert task["dur"] >= 0 and task["ts"] >= 0
            configuration = processes[task["pid"]].split(" · ")[0]
            per_configuration.setdefault(configuration, []).append(task["args"]["name"])
        for names in per_configuration.values():  # 4 fetch, 4 count_words, 1 total
            assert sorted(set(names)) == ["count_words", "fetch", "total"] and len(names) == 9
        assert set(per_configuration) == {"sync", "processes (chunksize=1)"}

    def test_unwritable_file_is_refused_before_running(self, tmp_path: Path) -> None:
        """A --trace-json in a missing folder is refused in one line, before anything runs."""
        done = schedtutor(
            "compare", "--graph", EXAMPLE_SPEC, "--trace-json", str(tmp_path / "no" / "t.json")
        )
        assert done.returncode == 2
        assert "cannot write" in done.stderr and "timing" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


ERRORS = [
    (["--graph", "missing.py:make"], "no file 'missing.py'"),
    (["--graph", "graphs.py"], "names no object; give PATH.py:NAME or package.module:NAME"),
    (["--graph", "broken.py:make"], "importing broken.py failed: ZeroDivisionError: division by"),
    (["--graph", "syntax.py:make"], "SyntaxError: invalid syntax (syntax.py, line 1)"),
    (["--graph", "mypackage.needs_missing:make"],
     "ModuleNotFoundError: No module named 'no_such_dependency_here'"),
    (["--graph", "mypackage.nothing:make"], "no module named 'mypackage.nothing'"),
    (["--graph", "graphs.py:nothing"], "graphs.py has no name 'nothing' (it has ['DOUBLED',"),
    (["--graph", "graphs.py:NUMBER"], "'graphs.py:NUMBER' is int 5, not a Dask collection"),
    (["--graph", "graphs.py:five"], "five() returned int 5, not a Dask collection"),
    (["--graph", "graphs.py:needs"], "needs() needs arguments (a)"),
    (["--graph", "graphs.py:no_data"], "calling no_data() raised LookupError: no data today"),
    (["--graph", "graphs.py:DOUBLED", "--delay", "0.1"], "--delay sets the built-in graph's"),
]  # fmt: skip

#: Each error under both commands; --work is refused by compare only (predict: see below).
CASES = [
    *((command, args, message) for command in ("compare", "predict") for args, message in ERRORS),
    ("compare", ["--graph", "graphs.py:DOUBLED", "--work", "sleep"], "--work sets the built-in"),
]


class TestErrors:
    @pytest.mark.parametrize(
        ("command", "args", "message"), CASES, ids=[f"{c}-{' '.join(a[1:])}" for c, a, _ in CASES]
    )
    def test_one_line_and_status_2(
        self, graphs: Path, command: str, args: list[str], message: str
    ) -> None:
        """A --graph that names no usable graph exits 2 with one line and no traceback."""
        done = schedtutor(command, *args, "--scheduler", "sync", cwd=graphs)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 + ("prints while" in done.stderr)

    @pytest.mark.parametrize("scheduler", ["sync", "distributed"])
    def test_a_task_that_raises(self, graphs: Path, scheduler: str) -> None:
        """A task of the graph that raises ends the command with one line naming the scheduler."""
        done = schedtutor(
            "compare", "--graph", "graphs.py:fails_in_a_task", "--scheduler", scheduler,
            cwd=graphs,
        )  # fmt: skip
        assert done.returncode == 2
        last = done.stderr.strip().splitlines()[-1]
        assert last == (
            f"schedtutor: error: running --graph 'graphs.py:fails_in_a_task' under {scheduler} "
            "raised ZeroDivisionError: division by zero"
        )
        assert "Traceback" not in done.stderr

    def test_predict_work_says_what_the_tasks_do(self) -> None:
        """predict --graph --work python: tasks holding the GIL no longer overlap in threads."""
        done = schedtutor(
            "predict", "--graph", EXAMPLE_SPEC, "--work", "python", "--scheduler", "threads"
        )
        assert done.returncode == 0, done.stderr
        sync_seconds = float(done.stderr.split("sync: ")[1].split(" s")[0])
        threads = float(done.stdout.splitlines()[1].split()[1])
        assert threads == pytest.approx(sync_seconds, rel=0.2)

    def test_predict_rejects_an_unknown_work_kind(self) -> None:
        """predict --graph --work gpu is refused before anything runs."""
        done = schedtutor("predict", "--graph", EXAMPLE_SPEC, "--work", "gpu")
        assert done.returncode == 2 and "unknown work kind 'gpu'" in done.stderr
        assert "tracing" not in done.stderr
