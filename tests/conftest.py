"""Shared fixtures: small delays, leak checks, and one fast build of the site per session."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil
import pytest

from schedtutor import settings

ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")

#: The delay the timing tests use: small, but large against scheduling noise.
DELAY = 0.2

#: The delay of the fast site build the docs and browser tests check.
FAST_DOCS_DELAY = "0.2"


#: Helpers that multiprocessing starts once and keeps for the life of the parent process.
LIFELONG_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")

#: Pids a session fixture keeps running on purpose (the real cluster): not leaks.
KEPT: set[int] = set()


def children() -> set[int]:
    """Return the pids of this process's live descendants.

    Zombies are excluded, and so are multiprocessing's lifelong helper processes
    (its resource tracker), which are not leaks: Python keeps one per parent.
    """
    alive = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(helper in " ".join(child.cmdline()) for helper in LIFELONG_HELPERS):
                continue
            if child.pid in KEPT:
                continue
            alive.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def listening(pids: set[int]) -> list[tuple[int, str, int]]:
    """Return ``(pid, ip, port)`` for every TCP/UDP socket the processes ``pids`` listen on.

    UDP sockets have no listen state; a bound UDP socket counts as listening.
    """
    found = []
    for pid in sorted(pids):
        try:
            connections = psutil.Process(pid).net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        for conn in connections:
            udp = conn.type == socket.SOCK_DGRAM and not conn.raddr
            if conn.status == psutil.CONN_LISTEN or udp:
                found.append((pid, conn.laddr.ip, conn.laddr.port))
    return found


def measured_until(
    measure: Callable[[], T], good: Callable[[T], bool], at_most: int = 3
) -> list[T]:
    """Call ``measure`` until ``good`` accepts a result, ``at_most`` times; return every result.

    For a timing test on a shared machine, which can pause a process mid-run:
    a run that is off is measured again, while a real change is off every time.
    The test asserts on the last result.
    """
    results = [measure()]
    while not good(results[-1]) and len(results) < at_most:
        results.append(measure())
    return results


def wait_for(condition: object, timeout: float = 10.0) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(condition())  # type: ignore[operator]


def dask_pool_threads() -> set[threading.Thread]:
    """Return the threads of the pools Dask's threaded scheduler keeps for the process's life.

    ``dask.threaded`` starts its default pool on first use and caches one pool
    per calling thread and ``num_workers``, closing them at exit: they are not
    leaks, whichever test happened to start them.
    """
    import dask.threaded

    pools = [dask.threaded.default_pool]
    pools += [pool for per_thread in dask.threaded.pools.values() for pool in per_thread.values()]
    return {t for pool in pools if pool is not None for t in getattr(pool, "_threads", ())}


def open_clusters() -> set[str]:
    """Return a name for every distributed cluster and client in this process still running."""
    from distributed import Client
    from distributed.core import Status
    from distributed.deploy.spec import SpecCluster

    clusters = [c for c in list(SpecCluster._instances) if c.status == Status.running]
    clients = [c for c in list(Client._instances) if c.status == "running"]
    return {f"{c!r} at {id(c):#x}" for c in [*clusters, *clients]}


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail the test if it leaves a child process or a non-daemon thread behind.

    Or an open distributed cluster or client.  Kept on purpose, and so not
    leaks: multiprocessing's helper process, Dask's cached thread pools, and the
    processes of a session fixture (``KEPT``).
    """
    before_children = children()
    before_threads = {t.ident for t in threading.enumerate()}
    before_clusters = open_clusters()
    yield
    assert wait_for(lambda: open_clusters() <= before_clusters), (
        f"clusters or clients left open: {sorted(open_clusters() - before_clusters)}"
    )
    assert wait_for(lambda: children() <= before_children), (
        f"child processes left behind: {sorted(children() - before_children)}"
    )

    def new_threads() -> list[str]:
        kept = dask_pool_threads()
        return [
            t.name
            for t in threading.enumerate()
            if t.ident not in before_threads and t.is_alive() and not t.daemon and t not in kept
        ]

    assert wait_for(lambda: not new_threads()), f"threads left behind: {new_threads()}"


def the_builds_free_threaded_python() -> str | None:
    """The free-threaded Python the build uses: the one settings names, or .venv-ft's."""
    made = ROOT / ".venv-ft" / "bin" / "python"
    return settings.free_threaded_python() or (str(made) if made.exists() else None)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the whole site once, from scratch, in fast mode; return its HTML folder.

    As ``SCHEDTUTOR_DELAY=0.2 make docs`` does, it reads in two processes (``-j 2``).
    It is a local rebuild: a claim that other programs kept the machine too busy
    to verify is marked on its page (``SCHEDTUTOR_UNVERIFIED=mark``), not
    refused; tests/test_claims.py checks that each such mark names the load.
    """
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "SCHEDTUTOR_DELAY": FAST_DOCS_DELAY, "SCHEDTUTOR_UNVERIFIED": "mark"}
    command = [
        sys.executable, "-m", "sphinx", "-j", "2", "-nW", "--keep-going", "-b", "html",
        "-d", str(out / "doctrees"), "-c", str(ROOT), str(ROOT / "docs"), str(out / "html"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"the site build failed:\n{why_the_build_failed(done.stdout + done.stderr)}")
    return out / "html"


def why_the_build_failed(output: str) -> str:
    """The lines of a failed build's output that say why: claims, and a failed cell in full.

    In a parallel build Sphinx hides a notebook cell's error in a crash report
    whose path it prints; the cell and its error are read from there.
    """
    said = [line for line in output.splitlines() if line.startswith(("error:", "note:"))]
    report = re.search(r"The full traceback has been saved in:?\s*(\S+)", output)
    if report and Path(report.group(1)).exists():
        crash = Path(report.group(1)).read_text(encoding="utf-8", errors="replace")
        cell = crash.find("CellExecutionError")
        if cell >= 0:
            said.append(crash[cell : cell + 4000])
    return "\n".join(said) or output[-8000:]


#: The variable that points the distributed lesson (and the tests) at a running scheduler.
SCHEDULER_ADDRESS_VARIABLE = "SCHEDTUTOR_SCHEDULER_ADDRESS"


@dataclass(frozen=True)
class RealCluster:
    """A scheduler and workers started with Dask's own command-line tools, on 127.0.0.1."""

    address: str
    processes: tuple[subprocess.Popen[bytes], ...]
    folder: Path

    def pids(self) -> set[int]:
        """Return the pids of the cluster's processes and of any process they started."""
        pids = set()
        for process in self.processes:
            try:
                parent = psutil.Process(process.pid)
                pids |= {parent.pid, *(c.pid for c in parent.children(recursive=True))}
            except psutil.NoSuchProcess:
                pass
        return pids

    def logs(self) -> str:
        """Return the end of every process's log, for a failure message."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
            for log in sorted(self.folder.glob("*.log"))
        )


def _die_with_parent() -> None:
    """Ask Linux to stop this process when the test run that started it dies.

    The cluster lives in a session of its own, so a test run killed without
    its teardown (SIGTERM, SIGKILL) would otherwise leave it running.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _dask(folder: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    """Start ``dask ARGS`` in a session of its own, logging to ``folder/name.log``."""
    with open(folder / f"{name}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=folder,
            start_new_session=True,  # a Ctrl-C of the test run is not theirs to handle
            preexec_fn=_die_with_parent,
        )


def start_real_cluster(folder: Path, n_workers: int = 2, timeout: float = 60.0) -> RealCluster:
    """Start ``dask scheduler`` and ``n_workers`` ``dask worker`` processes on 127.0.0.1.

    Every listener is pinned to 127.0.0.1: ``--host`` alone is not enough, since
    the scheduler's and the workers' web servers listen on all interfaces
    (``:8787``, ``:0``) unless ``--dashboard-address`` says otherwise.  Each
    worker has one thread and no nanny, so the cluster is exactly ``1 +
    n_workers`` processes.
    """
    loopback = ("--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0", "--no-dashboard")
    scheduler_file = folder / "scheduler.json"
    processes = [
        _dask(folder, "scheduler", "scheduler", *loopback, "--port", "0",
              "--scheduler-file", str(scheduler_file), "--idle-timeout", "1800"),
    ]  # fmt: skip
    cluster = RealCluster("", tuple(processes), folder)
    try:
        if not wait_for(scheduler_file.exists, timeout):
            raise RuntimeError("the scheduler wrote no --scheduler-file")
        time.sleep(0.1)  # the file is written in one go, but let it land
        address = json.loads(scheduler_file.read_text())["address"]
        for i in range(n_workers):
            processes.append(
                _dask(folder, f"worker-{i}", "worker", address, *loopback, "--nthreads", "1",
                      "--nworkers", "1", "--no-nanny", "--name", f"worker-{i}",
                      "--local-directory", str(folder), "--death-timeout", "60"),
            )  # fmt: skip
        cluster = RealCluster(address, tuple(processes), folder)
        from distributed import Client

        with Client(address, timeout=f"{timeout}s") as client:
            client.wait_for_workers(n_workers, timeout=timeout)
    except Exception as error:  # stop what started, and show why
        stop_real_cluster(cluster)
        raise RuntimeError(f"the real cluster did not start ({error}):\n{cluster.logs()}") from None
    return cluster


def stop_real_cluster(cluster: RealCluster, timeout: float = 20.0) -> set[int]:
    """Stop the cluster's processes (SIGTERM, then SIGKILL); return the pids still alive.

    The workers go first and are waited for: a worker told to stop while its
    scheduler is closing too can hang in its own close.
    """
    pids = cluster.pids()
    scheduler, *workers = cluster.processes
    for group in (workers, [scheduler]):
        for process in group:
            if process.poll() is None:
                process.terminate()
        for process in group:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    def alive() -> set[int]:
        return {pid for pid in pids if psutil.pid_exists(pid) and not _zombie(pid)}

    wait_for(lambda: not alive(), 10)
    return alive()


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    """A real two-worker cluster for the session; torn down and checked gone at the end.

    Its address is what ``SCHEDTUTOR_SCHEDULER_ADDRESS`` takes when the
    distributed lesson is built against a cluster.
    """
    cluster = start_real_cluster(tmp_path_factory.mktemp("cluster"))
    kept = cluster.pids()
    KEPT.update(kept)
    try:
        yield cluster
    finally:
        left = stop_real_cluster(cluster)
        KEPT.difference_update(kept)
        assert not left, f"cluster processes left behind: {sorted(left)}"


def build_pages(
    folder: Path, pages: dict[str, str], env: dict[str, str] | None = None, strict: bool = True
) -> subprocess.CompletedProcess[str]:
    """Build a throwaway site of ``pages`` (name -> MyST text) with this repository's conf.py.

    The throwaway ``conf.py`` runs the repository's, so the settings under test
    (notebook execution, the graphviz check, extensions) are the real ones.
    Returns the finished ``sphinx-build``; ``strict`` adds ``-nW``.
    """
    source = folder / "source"
    source.mkdir()
    (source / "conf.py").write_text(
        "import runpy\n"
        f"_conf = runpy.run_path({str(ROOT / 'conf.py')!r})\n"
        "globals().update((k, v) for k, v in _conf.items() if not k.startswith('__'))\n"
    )
    toctree = "\n".join(pages)
    (source / "index.md").write_text(f"# Throwaway\n\n```{{toctree}}\n{toctree}\n```\n")
    for name, text in pages.items():
        (source / f"{name}.md").parent.mkdir(parents=True, exist_ok=True)
        (source / f"{name}.md").write_text(text)
    return sphinx_build(folder, env, strict)


def sphinx_build(
    folder: Path, env: dict[str, str] | None = None, strict: bool = True
) -> subprocess.CompletedProcess[str]:
    """Build (or build again) the throwaway site :func:`build_pages` wrote in ``folder``."""
    strictly = ["-nW", "--keep-going"] if strict else []
    command = [sys.executable, "-m", "sphinx", *strictly, "-b", "html",
               "-d", str(folder / "doctrees"), str(folder / "source"),
               str(folder / "html")]  # fmt: skip
    return subprocess.run(
        command, cwd=folder, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def notebook_page(*cells: str, title: str = "A page") -> str:
    """Return a MyST notebook page with one code cell per item of ``cells``."""
    header = (
        "---\nfile_format: mystnb\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n"
    )
    body = "\n".join(f"```{{code-cell}} python\n{cell}\n```\n" for cell in cells)
    return f"{header}\n# {title}\n\n{body}"


def path_without(folder: Path, *names: str) -> str:
    """Make ``folder`` a PATH of every program of the current PATH except ``names``; return it.

    The programs are symbolic links, so what is left runs as it would.
    """
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = folder / entry.name
            if entry.name in names or target.exists() or not os.access(entry.path, os.X_OK):
                continue
            target.symlink_to(entry.path)
    return str(folder)
