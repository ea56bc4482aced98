"""Faults: a task that raises, a worker that dies, a Ctrl-C -- and nothing left behind.

Each test runs under ``no_leaks`` (tests/conftest.py), or checks a
subprocess's descendants itself: no child process, thread pool, cluster or
client may outlive the fault.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
from dask.delayed import delayed
from distributed import KilledWorker

from schedtutor import compare, local_cluster, run, slow_arithmetic
from schedtutor.ops import EXPECTED_RESULT
from tests.conftest import wait_for


class LessonError(Exception):
    """An exception of the tests' own: it must reach the caller as itself."""


def explode(value: float) -> float:
    """A task that raises, after the slow ops it depends on have run."""
    raise LessonError(f"task failed on purpose after computing {value}")


def die(value: float) -> float:
    """A task that kills the worker process running it."""
    os._exit(13)


#: Every scheduler, and the options that make each run in more than one worker.
CONFIGS = [
    ("sync", {}),
    ("threads", {"num_workers": 2}),
    ("processes", {"chunksize": 1}),
    ("distributed", {"n_workers": 2}),
    ("distributed", {"n_workers": 2, "processes": False}),
]


def config_id(config: tuple[str, dict[str, Any]]) -> str:
    """Name a configuration for a test id."""
    name, options = config
    return name + ("-threads" if options.get("processes") is False else "")


class TestTaskRaises:
    @pytest.mark.parametrize("config", CONFIGS, ids=config_id)
    def test_the_original_exception_reaches_the_caller(
        self, config: tuple[str, dict[str, Any]], no_leaks: None
    ) -> None:
        """A task's own exception class and message come out of run() under every scheduler."""
        name, options = config
        failing = delayed(explode)(slow_arithmetic(delay=0.01))
        with pytest.raises(LessonError, match=r"^task failed on purpose after computing -2\.28"):
            run(failing, name, **options)

    def test_compare_stops_at_the_failing_configuration(self, no_leaks: None) -> None:
        """compare() raises the task's exception and leaves no pool or cluster running."""
        failing = delayed(explode)(slow_arithmetic(delay=0.01))
        with pytest.raises(LessonError):
            compare(failing, ["sync", ("distributed", {"n_workers": 1})], repeat=1)


class TestWorkerKilled:
    def test_dask_recovers_from_a_killed_worker(self, no_leaks: None) -> None:
        """A worker process killed mid-run is replaced and its task rerun: the result is right."""
        with local_cluster(n_workers=2) as client, ThreadPoolExecutor(1) as pool:
            pids = client.run(os.getpid)
            running = pool.submit(run, slow_arithmetic(delay=1.0), "distributed", client=client)
            assert wait_for(lambda: any(client.processing().values()), 30)
            time.sleep(0.3)  # add and sub are sleeping now
            victim = next(iter(pids.values()))
            os.kill(victim, signal.SIGKILL)
            timed = running.result(timeout=60)  # bounded: no hang
            assert timed.result == EXPECTED_RESULT
            assert victim not in client.run(os.getpid).values()

    def test_a_task_that_keeps_killing_workers_fails_clearly(self, no_leaks: None) -> None:
        """A task that kills every worker it lands on ends in KilledWorker naming it, in time."""
        started = time.monotonic()
        with local_cluster(n_workers=1) as client:
            with pytest.raises(KilledWorker, match="die-"):
                run(delayed(die)(1), "distributed", client=client)
        assert time.monotonic() - started < 60


class TestWorkerProcessCannotRun:
    def test_a_task_that_ends_its_worker_process_fails_clearly(self, no_leaks: None) -> None:
        """A processes worker that dies gives one RuntimeError, not a bare BrokenProcessPool."""
        with pytest.raises(RuntimeError, match=r"worker process .* died .*BrokenProcessPool"):
            run(delayed(die)(1), "processes")

    def test_a_script_read_from_standard_input_is_refused_before_spawning(self) -> None:
        """Spawned workers cannot re-run '<stdin>': one clear line, before any worker starts."""
        script = (
            "import schedtutor\n"
            "schedtutor.run(schedtutor.slow_arithmetic(delay=0.01), 'processes')\n"
        )
        done = subprocess.run(
            [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("RuntimeError: the processes scheduler cannot start worker"), last
        assert "'<stdin>' is no file" in last and "scheduler='threads'" in last, last
        assert "BrokenProcessPool" not in done.stderr, done.stderr
        assert "multiprocessing" not in done.stderr, done.stderr  # no worker ever started


def descendants(pid: int) -> set[int]:
    """Return the pids of every live descendant of ``pid``."""
    try:
        return {c.pid for c in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def alive(pids: set[int]) -> set[int]:
    """Return the pids of ``pids`` that still run (zombies do not count)."""
    left = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.add(pid)
        except psutil.NoSuchProcess:
            pass
    return left


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child before it starts: SIGINT does what it does for a command typed in a shell.

    A test run started in the background (``make test &``, ``nohup``) ignores
    SIGINT, and its children would inherit that, and never see the Ctrl-C.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class TestCtrlC:
    @pytest.mark.parametrize("whole_group", [False, True], ids=["process", "terminal"])
    @pytest.mark.parametrize(
        "scheduler",
        [("processes", "--chunksize", "1"), ("distributed",)],
        ids=lambda s: s[0],
    )
    def test_ctrl_c_shuts_everything_down(
        self, scheduler: tuple[str, ...], whole_group: bool, tmp_path: Path
    ) -> None:
        """SIGINT mid-compute: exit 130, one line, and every child process of the run is gone.

        ``terminal`` sends SIGINT to the whole process group, as Ctrl-C in a
        shell does; ``process`` sends it to the command alone.
        """
        work_log = tmp_path / "work.log"  # each finished task appends a line
        command = [sys.executable, "-m", "schedtutor", "compare", "--scheduler", *scheduler,
                   "--delay", "1", "--repeat", "3"]  # fmt: skip
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "SCHEDTUTOR_WORK_LOG": str(work_log)},
            preexec_fn=_ctrl_c_as_in_a_terminal,
        ) as process:
            try:
                # wait until the compute is under way: the first task has finished
                assert wait_for(lambda: work_log.exists() and work_log.read_text(), 60)
                workers = descendants(process.pid)
                assert workers, "the run started no worker process"
                if whole_group:
                    os.killpg(process.pid, signal.SIGINT)
                else:
                    process.send_signal(signal.SIGINT)
                _, stderr = process.communicate(timeout=30)  # bounded: no hang
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
        assert process.returncode == 130, stderr
        assert "Traceback" not in stderr, stderr
        assert stderr.strip().splitlines()[-1] == "schedtutor: interrupted"
        assert wait_for(lambda: not alive(workers), 15), f"left running: {alive(workers)}"
        assert work_log.read_text().count("\n") < 12  # it stopped before the end
