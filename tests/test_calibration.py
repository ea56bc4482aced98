"""Tests for schedtutor.calibration: measuring the machine's costs, and remembering them.

The cache tests point ``SCHEDTUTOR_CACHE_DIR`` at a folder of their own, so
they neither read nor disturb the cache of the person running them, and they
measure the cheap schedulers (sync, threads: a tenth of a second each, plus a
fresh Python process).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from schedtutor import _work, calibration, settings
from schedtutor.calibration import (
    DEFAULT_COSTS,
    MEASURED,
    Costs,
    cache_file,
    calibrate,
    forget,
    machine_costs,
)
from tests.conftest import ROOT

TWO_BY_ONE = {"n_workers": 2, "threads_per_worker": 1}
READ_LOCAL_TASK = (
    "from schedtutor.calibration import machine_costs; print(machine_costs('threads').local_task)"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache folder of the test's own, and no costs remembered in this process."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(settings.CACHE_DIR, str(folder))
    monkeypatch.delenv(settings.COSTS, raising=False)
    calibration._memo.clear()
    yield folder
    calibration._memo.clear()


def _in_fresh_python(code: str) -> str:
    """Run ``code`` in a fresh Python with this environment; return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class TestMachineCosts:
    def test_the_first_prediction_measures_and_every_later_one_reads(self, cache: Path) -> None:
        """The first call measures, writes the file; a fresh process only reads it.

        Unless other programs kept the machine busy while it measured: then the
        fresh process measures again (test below), and rewrites the file.
        """
        first = machine_costs("threads")
        path = cache_file()
        assert path.parent == cache and path.exists()
        written = path.stat().st_mtime_ns
        busy = _measured_busy("threads")
        code = (
            "from schedtutor.calibration import machine_costs as m; print(m('threads').local_task)"
        )
        again = float(_in_fresh_python(code))
        if busy:
            assert path.stat().st_mtime_ns != written  # measured again
        else:
            assert again == first.local_task
            assert path.stat().st_mtime_ns == written

    def test_only_what_was_measured_changes(self, cache: Path) -> None:
        """Remembered costs are the built-in ones but for the scheduler's measured ones."""
        measured = machine_costs("threads")
        changed = {
            n for n in vars(DEFAULT_COSTS) if getattr(measured, n) != getattr(DEFAULT_COSTS, n)
        }
        assert changed <= set(MEASURED["threads"]), changed
        assert measured.local_task > 0 and 0 < measured.python_shared <= 1

    def test_the_background_is_not_remembered(self, cache: Path) -> None:
        """The load of the moment is recorded beside the costs, never kept as one of them."""
        measured = machine_costs("sync")
        assert measured.background == 0.0
        entry = json.loads(cache_file().read_text())["measured"]["sync"]
        assert entry["background_while_measured"] >= 0
        assert "background" not in entry["costs"]

    def test_costs_measured_on_a_busy_machine_are_measured_again(self, cache: Path) -> None:
        """Costs kept from a busy machine's measurement are measured again; quiet ones are read."""
        machine_costs("sync")
        path = cache_file()
        kept = json.loads(path.read_text())
        entry = kept["measured"]["sync"]
        entry["costs"]["sync_task"] = 0.5  # a figure no measurement gives
        for load, read_back in [(calibration.QUIET, True), (1.0, False)]:
            entry["background_while_measured"] = load
            path.write_text(json.dumps(kept))
            calibration._memo.clear()
            found = machine_costs("sync").sync_task
            assert (found == 0.5) is read_back and found > 0, (load, found)

    def test_the_file_names_no_host_no_person_no_path(self, cache: Path) -> None:
        """The cache says which machine and versions, never who or where."""
        machine_costs("sync")
        text = cache_file().read_text()
        stamp = json.loads(text)["stamp"]
        assert {"os", "machine", "cpus", "python", "dask", "distributed", "schedtutor"} <= set(
            stamp
        )
        for private in (socket.gethostname(), getpass.getuser(), str(Path.home())):
            assert private not in text

    def test_refresh_measures_again(self, cache: Path) -> None:
        """refresh=True measures even though the cache has the figures."""
        machine_costs("sync")
        before = json.loads(cache_file().read_text())["measured"]["sync"]
        time.sleep(1.1)  # the record's time has whole seconds
        machine_costs("sync", refresh=True)
        after = json.loads(cache_file().read_text())["measured"]["sync"]
        assert after["utc"] != before["utc"]

    def test_refresh_from_the_environment(
        self, cache: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """SCHEDTUTOR_COSTS=refresh measures once more in a process, then keeps that."""
        machine_costs("sync")
        first = cache_file().stat().st_mtime_ns
        calibration._memo.clear()
        monkeypatch.setenv(settings.COSTS, "refresh")
        machine_costs("sync")
        second = cache_file().stat().st_mtime_ns
        machine_costs("sync")
        assert first != second == cache_file().stat().st_mtime_ns

    def test_builtin_bypasses_everything(
        self, cache: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """SCHEDTUTOR_COSTS=builtin gives the built-in costs and writes nothing."""
        monkeypatch.setenv(settings.COSTS, "builtin")
        assert machine_costs("processes") is DEFAULT_COSTS
        assert not cache.exists()

    def test_forget(self, cache: Path) -> None:
        """forget() removes the file: the next call measures again."""
        machine_costs("sync")
        forget()
        assert not cache_file().exists()
        machine_costs("sync")
        assert cache_file().exists()

    def test_a_damaged_file_is_measured_again(self, cache: Path) -> None:
        """A cache that is not the expected JSON is replaced, not trusted and not an error."""
        cache.mkdir(parents=True)
        cache_file().write_text("{not json")
        measured = machine_costs("sync")
        kept = json.loads(cache_file().read_text())
        assert kept["measured"]["sync"]["costs"]["sync_task"] == measured.sync_task

    def test_an_unwritable_cache_still_gives_costs(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Where the cache folder cannot be made, the costs are measured and kept in memory."""
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        monkeypatch.setenv(settings.CACHE_DIR, str(blocker / "cache"))
        calibration._memo.clear()
        try:
            assert machine_costs("sync").sync_task > 0
        finally:
            calibration._memo.clear()

    def test_a_failed_measurement_warns_and_uses_the_built_in_costs(
        self, cache: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the measuring process cannot run, one warning says so and the built-ins are used."""
        monkeypatch.setattr(sys, "executable", str(cache / "no-such-python"))
        with pytest.warns(RuntimeWarning, match="could not measure this machine's sync costs"):
            assert machine_costs("sync") == DEFAULT_COSTS

    def test_two_processes_at_once_measure_once(self, cache: Path) -> None:
        """Two processes asking at the same moment get the same figures: one measured, one waited.

        Two measurements would differ in their last digits; the lock makes the
        second process read the first one's.
        """
        code = (
            "from schedtutor.calibration import machine_costs as m; print(m('threads').local_task)"
        )
        both = [
            subprocess.Popen(
                [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT
            )
            for _ in range(2)
        ]
        answers = [process.communicate(timeout=300)[0].strip() for process in both]
        assert all(process.returncode == 0 for process in both)
        # On a busy machine the second does not trust the first's figures and measures again.
        assert answers[0] == answers[1] or _measured_busy("threads"), answers
        assert not list(cache.glob(".costs-*.tmp"))  # written by renaming, nothing left over

    def test_a_distributed_prediction_uses_the_threads_figures_too(self, cache: Path) -> None:
        """A cluster's worker threads share a GIL as the threads scheduler's do."""
        cache.mkdir(parents=True)
        stamp = calibration._stamp()
        kept = {
            kind: {"utc": "", "background_while_measured": 0.0, "costs": dict.fromkeys(names, 0.5)}
            for kind, names in MEASURED.items()
        }
        cache_file().write_text(json.dumps({"stamp": stamp, "measured": kept}))
        measured = machine_costs("distributed")
        assert measured.distributed_hop == measured.numpy_beside_python == 0.5
        assert measured.process_start == DEFAULT_COSTS.process_start


class TestCacheFolder:
    def test_linux_follows_xdg(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """On Linux the cache is $XDG_CACHE_HOME/schedtutor, ~/.cache/schedtutor by default."""
        monkeypatch.delenv(settings.CACHE_DIR, raising=False)
        monkeypatch.setattr(sys, "platform", "linux")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert settings.cache_folder() == tmp_path / "schedtutor"
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the spec says to ignore it
        assert settings.cache_folder() == Path.home() / ".cache" / "schedtutor"

    def test_macos_and_windows(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """~/Library/Caches on macOS, %LOCALAPPDATA% on Windows."""
        monkeypatch.delenv(settings.CACHE_DIR, raising=False)
        monkeypatch.setattr(sys, "platform", "darwin")
        assert settings.cache_folder() == Path.home() / "Library" / "Caches" / "schedtutor"
        monkeypatch.setattr(sys, "platform", "win32")
        monkeypatch.setenv("LOCALAPPDATA", str(tmp_path))
        assert settings.cache_folder() == tmp_path / "schedtutor" / "Cache"

    def test_a_bad_costs_setting(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An unknown SCHEDTUTOR_COSTS is one line naming what is accepted."""
        monkeypatch.setenv(settings.COSTS, "sometimes")
        with pytest.raises(
            ValueError, match=r"'cached' .* 'refresh' or 'builtin', got 'sometimes'"
        ):
            machine_costs("sync")


class TestCalibrate:
    def test_one_worker_process_has_no_stagger_to_measure(self) -> None:
        """With one worker process the pair's tasks run one after the other, not side by side.

        The second task's start is then a whole task later, which is no
        start-up at all: the stagger stays as given, the rest is measured.
        """
        measured = calibrate("processes", repeat=1, num_workers=1)
        assert measured.process_stagger == DEFAULT_COSTS.process_stagger
        assert measured.process_start > 0 and measured.process_hop < 0.1, measured

    def test_background_is_what_other_programs_keep_busy(self) -> None:
        """A busy loop in another program adds about one CPU to the background.

        Measured as the difference with and without the loop, so that whatever
        else loads the machine cancels out; the loop is not a child of ours
        (those count as our own work), so it is started through a shell that
        exits at once.
        """
        before = statistics.median(calibration.background() for _ in range(3))
        with _busy_program():
            during = statistics.median(calibrate("sync").background for _ in range(3))
        assert 0.6 <= during - before <= 1.4, (before, during)

    def test_our_own_busy_threads_are_not_background(self) -> None:
        """A busy NumPy thread of ours while calibrating does not count as other programs' load."""
        before = calibration.background()
        stop = threading.Event()

        def busy() -> None:
            while not stop.is_set():
                _work.do_work(0.01, "numpy")

        worker = threading.Thread(target=busy)
        worker.start()
        try:
            during = calibration.background()
        finally:
            stop.set()
            worker.join()
        assert during - before < 0.5, (before, during)

    def test_the_gil_figures_of_threads(self) -> None:
        """Python work in two threads keeps most of its pace; NumPy beside Python work far less.

        NumPy work needs the GIL back after each call, and a thread running
        Python work gives it up only every switch interval: the library's NumPy
        work (calls of a few milliseconds) keeps well under two thirds of its pace.
        """
        measured = calibrate("threads")
        assert 0.85 <= measured.python_shared <= 1.0, measured
        assert 0.02 <= measured.numpy_beside_python <= 0.65, measured

    def test_pace_of_cpu_work_on_a_cluster(self, no_leaks: None) -> None:
        """On a local cluster CPU work gets most of its thread: the pace is measured."""
        measured = calibrate("distributed", repeat=1, **TWO_BY_ONE, processes=False)
        assert 0.8 < measured.distributed_pace <= 1.0, measured
        assert measured.distributed_cpus >= 0, measured
        assert DEFAULT_COSTS.distributed_pace == 1.0

    def test_calibrate_needs_a_repeat(self) -> None:
        """calibrate refuses zero repeats before measuring anything."""
        with pytest.raises(ValueError, match="repeat must be a whole number >= 1, got 0"):
            calibrate("processes", repeat=0)

    def test_costs_of_the_wrong_type(self) -> None:
        """calibrate's costs must be a Costs record."""
        with pytest.raises(TypeError, match=r"costs must be a Costs .* got str: 'fast'"):
            calibrate("sync", costs="fast")  # type: ignore[arg-type]

    def test_costs_are_a_record(self) -> None:
        """Costs are a frozen record: a prediction cannot change them by accident."""
        with pytest.raises(AttributeError):
            DEFAULT_COSTS.process_start = 1.0  # type: ignore[misc]
        assert isinstance(DEFAULT_COSTS, Costs)


@contextmanager
def _busy_program() -> Iterator[None]:
    """Run a busy loop in a program that is not our child (its shell exits at once)."""
    loop = f"{sys.executable} -c 'while True: pass' >/dev/null 2>&1 & echo $!"
    pid = int(subprocess.run(["sh", "-c", loop], capture_output=True, text=True).stdout)
    try:
        time.sleep(0.3)  # until the scheduler gives it a CPU
        yield
    finally:
        os.kill(pid, 9)


def _measured_busy(kind: str) -> bool:
    """Whether the remembered costs of ``kind`` were measured beside other programs' load."""
    entry = json.loads(cache_file().read_text())["measured"][kind]
    return bool(entry["background_while_measured"] > calibration.QUIET)
