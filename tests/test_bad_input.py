"""Bad input, everywhere it enters: one table of API calls and one of command lines.

Every case must fail the same way: the API raises one ``ValueError`` or
``TypeError`` (``ConnectionError`` for an address where no scheduler answers)
whose message is a single line that names the bad value and says what is
accepted; the command line exits with status 2 and one line on stderr, never a
traceback.  A case fails fast: nothing starts, nothing hangs.
"""

# The two tables read best as one case per line, so long lines are allowed here.
# ruff: noqa: E501

from __future__ import annotations

import math
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from schedtutor import (
    add,
    compare,
    local_cluster,
    open_scheduler,
    resolve,
    run,
    slow_arithmetic,
    use,
)
from schedtutor import sleeplock as sleeplock_module
from schedtutor.graph import draw_graph
from schedtutor.ops import default_delay
from schedtutor.predict import calibrate, critical_path, predict
from schedtutor.schedulers import check_options
from schedtutor.timeline import plot_timeline, plot_timelines
from schedtutor.trace import trace

#: Seconds the connection cases allow a scheduler to answer.
CONNECT_TIMEOUT = 1.0


@dataclass(frozen=True)
class Places:
    """Where the cases point: a scratch folder and three addresses that are not schedulers."""

    tmp: Path
    refused: str  # nothing listens there
    silent: str  # accepts connections and never answers
    web: str  # a web server: answers, but not in Dask's protocol
    monkeypatch: pytest.MonkeyPatch


def _serve(server: socket.socket, answer: bytes | None) -> None:
    """Accept connections on ``server``; send ``answer`` (or nothing) to each."""
    held = []
    while True:
        try:
            conn, _ = server.accept()
        except OSError:  # closed at teardown
            break
        if answer is None:
            held.append(conn)  # keep it open and say nothing
        else:
            conn.recv(4096)
            conn.sendall(answer)
            conn.close()
    for conn in held:
        conn.close()


def _listener(answer: bytes | None) -> tuple[socket.socket, threading.Thread]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    thread = threading.Thread(target=_serve, args=(server, answer), daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def addresses() -> Iterator[tuple[str, str, str]]:
    """A refused, a silent and a web-server address on 127.0.0.1, closed afterwards."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    refused = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    silent, silent_thread = _listener(None)
    web, web_thread = _listener(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    yield (
        refused,
        f"tcp://127.0.0.1:{silent.getsockname()[1]}",
        f"tcp://127.0.0.1:{web.getsockname()[1]}",
    )
    for server, thread in ((silent, silent_thread), (web, web_thread)):
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(5)


@pytest.fixture
def places(
    tmp_path: Path, addresses: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> Places:
    """The places the cases point at."""
    (tmp_path / "folder.svg").mkdir()
    return Places(tmp_path, *addresses, monkeypatch)


def enter(manager: AbstractContextManager[Any]) -> None:
    """Enter and leave a context manager (the bad input must stop it on entry)."""
    with manager:
        pass


def with_env(places: Places, name: str, value: str, call: Callable[[], object]) -> object:
    """Call ``call`` with the environment variable ``name`` set to ``value``."""
    places.monkeypatch.setenv(name, value)
    return call()


GRAPH = slow_arithmetic(delay=0.001)
NAMES = ["sync", "threads", "processes", "distributed"]


@dataclass(frozen=True)
class Case:
    """A bad call, the error it must raise, and what its one-line message must contain."""

    id: str
    call: Callable[[Places], object]
    error: type[Exception]
    bad: str  # the bad value, as the message shows it
    accepted: tuple[str, ...]  # what the message must offer instead
    seconds: float = 5.0  # an upper bound on how long failing may take


API_CASES = [
    # -- scheduler names, near misses included ---------------------------------------
    Case("resolve-thread", lambda p: resolve("thread"), ValueError, "'thread'", ("threads",)),
    Case("resolve-process", lambda p: resolve("process"), ValueError, "'process'", ("processes",)),
    Case("resolve-dask", lambda p: resolve("dask"), ValueError, "'dask'", ("distributed",)),
    Case("resolve-empty", lambda p: resolve(""), ValueError, "''", tuple(NAMES)),
    Case("resolve-none", lambda p: resolve(None), TypeError, "None", ("'threads'",)),
    Case("run-misspelt", lambda p: run(GRAPH, "proccesses"), ValueError, "'proccesses'", ("processes",)),
    Case("use-unknown", lambda p: enter(use("multiproc")), ValueError, "'multiproc'", ("multiprocessing",)),
    Case("open-unknown", lambda p: enter(open_scheduler("gpu")), ValueError, "'gpu'", tuple(NAMES)),
    Case("compare-late-bad-name", lambda p: compare(GRAPH, ["sync", "dask"]), ValueError, "'dask'", ("distributed",)),
    # -- options and their combinations ----------------------------------------------
    Case("chunksize-on-sync", lambda p: run(GRAPH, "sync", chunksize=1), ValueError, "'chunksize'", ("optimize_graph",)),
    Case("chunksize-on-distributed", lambda p: run(GRAPH, "distributed", chunksize=1), ValueError, "'chunksize'", ("n_workers", "address")),
    Case("chunksize-zero", lambda p: run(GRAPH, "processes", chunksize=0), ValueError, "got 0", (">= 1",)),
    Case("chunksize-minus-one", lambda p: run(GRAPH, "processes", chunksize=-1), ValueError, "got -1", (">= 1",)),
    Case("chunksize-string", lambda p: run(GRAPH, "processes", chunksize="2"), ValueError, "'2'", ("whole number",)),
    Case("num-workers-fraction", lambda p: run(GRAPH, "threads", num_workers=1.5), ValueError, "1.5", ("whole number >= 1",)),
    Case("option-typo", lambda p: run(GRAPH, "threads", workers=2), ValueError, "'workers'", ("num_workers", "chunksize")),
    Case("options-not-a-mapping", lambda p: check_options("processes", [("chunksize", 1)]), TypeError, "[('chunksize', 1)]", ("mapping",)),
    Case("processes-flag-string", lambda p: run(GRAPH, "distributed", processes="yes"), TypeError, "'yes'", ("True or False",)),
    Case("cluster-and-address", lambda p: run(GRAPH, "distributed", n_workers=2, address=p.refused), ValueError, "address and n_workers", ("either",)),
    Case("timeout-without-address", lambda p: run(GRAPH, "distributed", timeout=1), ValueError, "timeout", ("address='tcp://host:port'",)),
    Case("timeout-infinite", lambda p: run(GRAPH, "distributed", address=p.refused, timeout=math.inf), ValueError, "inf", ("finite", "> 0")),
    Case("timeout-negative", lambda p: run(GRAPH, "distributed", address=p.refused, timeout=-1), ValueError, "-1", ("> 0",)),
    Case("client-not-a-client", lambda p: run(GRAPH, "distributed", client="tcp://127.0.0.1:8786"), TypeError, "str", ("distributed.Client",)),
    Case("optimize-graph-in-use", lambda p: enter(use("threads", optimize_graph=False)), ValueError, "optimize_graph", ("run() or compare()",)),
    Case("local-cluster-no-workers", lambda p: enter(local_cluster(n_workers=0)), ValueError, "got 0", (">= 1",)),
    Case("local-cluster-threads-string", lambda p: enter(local_cluster(threads_per_worker="2")), ValueError, "'2'", (">= 1",)),
    # -- cluster addresses: malformed, unreachable, not a scheduler -----------------------
    Case("address-no-port", lambda p: run(GRAPH, "distributed", address="localhost"), ValueError, "'localhost'", ("tcp://host:port",)),
    Case("address-http-scheme", lambda p: run(GRAPH, "distributed", address="http://127.0.0.1:8787"), ValueError, "'http://127.0.0.1:8787'", ("tcp://host:port",)),
    Case("address-port-too-big", lambda p: run(GRAPH, "distributed", address="tcp://127.0.0.1:99999"), ValueError, "99999", ("tcp://host:port",)),
    Case("address-a-number", lambda p: run(GRAPH, "distributed", address=8786), ValueError, "8786", ("tcp://127.0.0.1:8786",)),
    Case("address-refused", lambda p: run(GRAPH, "distributed", address=p.refused, timeout=CONNECT_TIMEOUT), ConnectionError, "refused", ("dask scheduler", "leave out the address"), 3 * CONNECT_TIMEOUT + 2),
    Case("address-silent", lambda p: run(GRAPH, "distributed", address=p.silent, timeout=CONNECT_TIMEOUT), ConnectionError, "no answer", ("dask scheduler", "not the dashboard's"), 3 * CONNECT_TIMEOUT + 2),
    Case("address-web-server", lambda p: compare(GRAPH, [("distributed", {"address": p.web, "timeout": CONNECT_TIMEOUT})], repeat=1), ConnectionError, "protocol", ("dask scheduler", "not the dashboard's"), 3 * CONNECT_TIMEOUT + 2),
    # -- delays and kinds of work ---------------------------------------------------------
    Case("delay-negative", lambda p: slow_arithmetic(delay=-1), ValueError, "-1", ("finite", ">= 0")),
    Case("delay-nan", lambda p: slow_arithmetic(delay=math.nan), ValueError, "nan", ("finite", ">= 0")),
    Case("delay-inf", lambda p: slow_arithmetic(delay=math.inf), ValueError, "inf", ("finite", ">= 0")),
    Case("delay-string", lambda p: slow_arithmetic(delay="1"), ValueError, "'1'", ("number of seconds",)),
    Case("delay-bool", lambda p: slow_arithmetic(delay=True), ValueError, "True", ("number of seconds",)),
    Case("op-delay-negative", lambda p: add(1, 2, delay=-0.5), ValueError, "-0.5", (">= 0",)),
    Case("delay-env-not-a-number", lambda p: with_env(p, "SCHEDTUTOR_DELAY", "soon", default_delay), ValueError, "'soon'", ("SCHEDTUTOR_DELAY", ">= 0")),
    Case("delay-env-negative", lambda p: with_env(p, "SCHEDTUTOR_DELAY", "-2", slow_arithmetic), ValueError, "-2", ("SCHEDTUTOR_DELAY", ">= 0")),
    Case("work-unknown", lambda p: slow_arithmetic(delay=0, work="gpu"), ValueError, "'gpu'", ("sleeplock", "sleep", "python", "numpy")),
    Case("work-wrong-case", lambda p: slow_arithmetic(delay=0, work="SLEEP"), ValueError, "'SLEEP'", ("sleeplock", "sleep")),
    Case("work-none", lambda p: slow_arithmetic(delay=0, work=None), ValueError, "None", ("sleeplock",)),
    Case("sleeplock-negative", lambda p: sleeplock_module.sleep(-1), ValueError, "-1", (">= 0",)),
    Case("sleeplock-nan", lambda p: sleeplock_module.sleep(math.nan), ValueError, "nan", ("finite",)),
    # -- objects that are not Dask collections ---------------------------------------------
    Case("run-a-number", lambda p: run(42, "sync"), TypeError, "42", ("Delayed", "dask array")),
    Case("compare-a-list", lambda p: compare([1, 2], ["sync"]), TypeError, "[1, 2]", ("Delayed",)),
    Case("compare-a-function", lambda p: compare(slow_arithmetic, ["sync"]), TypeError, "function", ("Delayed",)),
    Case("draw-a-string", lambda p: draw_graph("graph", p.tmp / "g.svg"), TypeError, "'graph'", ("Delayed",)),
    # -- compare's list of schedulers and its repeat ----------------------------------------
    Case("schedulers-none", lambda p: compare(GRAPH, None), TypeError, "None", ("(name, options)",)),
    Case("schedulers-empty", lambda p: compare(GRAPH, []), ValueError, "got none", ("['sync', 'threads']",)),
    Case("schedulers-a-number", lambda p: compare(GRAPH, [1]), TypeError, "got 1", ("(name, options)",)),
    Case("schedulers-short-pair", lambda p: compare(GRAPH, [("sync",)]), TypeError, "('sync',)", ("(name, options)",)),
    Case("repeat-zero", lambda p: compare(GRAPH, ["sync"], repeat=0), ValueError, "got 0", (">= 1",)),
    Case("repeat-fraction", lambda p: compare(GRAPH, ["sync"], repeat=1.5), ValueError, "1.5", ("whole number",)),
    Case("repeat-string", lambda p: compare(GRAPH, ["sync"], repeat="3"), ValueError, "'3'", ("whole number",)),
    Case("repeat-bool", lambda p: compare(GRAPH, ["sync"], repeat=True), ValueError, "True", ("whole number",)),
    # -- graph files: extensions, folders, permissions ----------------------------------------
    Case("graph-pdf", lambda p: draw_graph(GRAPH, p.tmp / "graph.pdf"), ValueError, "'.pdf'", (".png", ".svg")),
    Case("graph-no-extension", lambda p: draw_graph(GRAPH, p.tmp / "graph"), ValueError, "(none)", (".png", ".svg")),
    Case("graph-missing-folder", lambda p: draw_graph(GRAPH, p.tmp / "nope" / "graph.png"), ValueError, "nope", ("folder you can write",)),
    Case("graph-is-a-folder", lambda p: draw_graph(GRAPH, p.tmp / "folder.svg"), ValueError, "folder.svg", ("file name",)),
    Case("graph-unwritable", lambda p: draw_graph(GRAPH, "/sys/graph.svg"), ValueError, "/sys/graph.svg", ("folder you can write",)),
    Case("graph-name-a-number", lambda p: draw_graph(GRAPH, 3), TypeError, "3", (".png", ".svg")),
    Case("graph-colour", lambda p: draw_graph(GRAPH, p.tmp / "g.svg", color="red"), ValueError, "'red'", ("order",)),
    # -- trace, predict and timelines --------------------------------------------------------
    Case("trace-a-number", lambda p: trace(42, "sync"), TypeError, "42", ("Delayed",)),
    Case("trace-thread", lambda p: trace(GRAPH, "thread"), ValueError, "'thread'", ("threads",)),
    Case("trace-chunksize-on-sync", lambda p: trace(GRAPH, "sync", chunksize=1), ValueError, "'chunksize'", ("optimize_graph",)),
    Case("trace-address-refused", lambda p: trace(GRAPH, "distributed", address=p.refused, timeout=CONNECT_TIMEOUT), ConnectionError, "refused", ("dask scheduler",), 3 * CONNECT_TIMEOUT + 2),
    Case("predict-a-number", lambda p: predict(42, "sync"), TypeError, "42", ("Delayed",)),
    Case("predict-dask", lambda p: predict(GRAPH, "dask"), ValueError, "'dask'", ("distributed",)),
    Case("predict-work-unknown", lambda p: predict(GRAPH, "sync", work="gpu"), ValueError, "'gpu'", ("sleep",)),
    Case("predict-chunksize-zero", lambda p: predict(GRAPH, "processes", chunksize=0), ValueError, "got 0", (">= 1",)),
    Case("predict-address-silent", lambda p: predict(GRAPH, "distributed", address=p.silent, timeout=CONNECT_TIMEOUT), ConnectionError, "no answer", ("dask scheduler",), 3 * CONNECT_TIMEOUT + 2),
    Case("critical-path-a-number", lambda p: critical_path(42), TypeError, "42", ("Delayed",)),
    Case("calibrate-process", lambda p: calibrate("process"), ValueError, "'process'", ("processes",)),
    Case("timeline-a-number", lambda p: plot_timeline(42), TypeError, "int", ("Trace", "TaskSpan")),
    Case("timeline-not-spans", lambda p: plot_timeline([1, 2]), TypeError, "int", ("TaskSpan",)),
    Case("timelines-gif", lambda p: plot_timelines([trace(GRAPH, "sync")], p.tmp / "t.gif"), ValueError, "'.gif'", (".png", ".svg", ".pdf")),
    Case("timelines-missing-folder", lambda p: plot_timelines([trace(GRAPH, "sync")], p.tmp / "nope" / "t.png"), ValueError, "nope", ("folder",)),
    Case("timelines-unwritable", lambda p: plot_timelines([trace(GRAPH, "sync")], "/sys/t.png"), ValueError, "/sys/t.png", ("path you can write",)),
    Case("predict-durations-a-list", lambda p: predict(GRAPH, "sync", durations=[1, 2]), TypeError, "[1, 2]", ("Trace", "mapping")),
    Case("predict-costs-a-string", lambda p: predict(GRAPH, "sync", costs="fast"), TypeError, "'fast'", ("Costs",)),
    Case("calibrate-repeat-zero", lambda p: calibrate("processes", repeat=0), ValueError, "got 0", (">= 1",)),
]  # fmt: skip


class TestApi:
    @pytest.mark.parametrize("case", API_CASES, ids=[c.id for c in API_CASES])
    def test_bad_input_raises_one_clear_line(
        self, case: Case, places: Places, no_leaks: None
    ) -> None:
        """A bad value raises the documented error fast, in one line naming it and the choices."""
        started = time.monotonic()
        with pytest.raises(case.error) as raised:
            case.call(places)
        elapsed = time.monotonic() - started
        assert type(raised.value) is case.error  # not a subclass that slipped through
        message = str(raised.value)
        assert "\n" not in message, message
        assert case.bad in message, message
        for accepted in case.accepted:
            assert accepted in message, message
        assert elapsed < case.seconds, f"took {elapsed:.1f} s"

    def test_the_table_is_big_enough(self) -> None:
        """The API table holds at least 30 distinct cases."""
        assert len({c.id for c in API_CASES}) == len(API_CASES) >= 30


@dataclass(frozen=True)
class CliCase:
    """A bad command line and what its one line on stderr must contain."""

    id: str
    args: tuple[str, ...]
    bad: str
    accepted: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


CLI_CASES = [
    CliCase("no-command", (), "COMMAND", ("required",)),
    CliCase("unknown-command", ("frobnicate",), "'frobnicate'", ("'compare'", "'graph'")),
    CliCase("scheduler-thread", ("compare", "--scheduler", "thread"), "'thread'", ("threads",)),
    CliCase("scheduler-process", ("compare", "--scheduler", "process"), "'process'", ("processes",)),
    CliCase("scheduler-dask", ("compare", "--scheduler", "dask"), "'dask'", ("distributed",)),
    CliCase("delay-negative", ("compare", "--delay", "-1"), "-1", (">= 0",)),
    CliCase("delay-nan", ("compare", "--delay", "nan"), "nan", ("finite",)),
    CliCase("delay-inf", ("compare", "--delay", "inf"), "inf", ("finite",)),
    CliCase("delay-word", ("compare", "--delay", "soon"), "'soon'", ("float",)),
    CliCase("delay-env", ("compare",), "'soon'", ("SCHEDTUTOR_DELAY", ">= 0"), (("SCHEDTUTOR_DELAY", "soon"),)),
    CliCase("work-unknown", ("compare", "--work", "gpu"), "'gpu'", ("sleeplock", "numpy")),
    CliCase("chunksize-zero", ("compare", "--scheduler", "processes", "--chunksize", "0"), "got 0", (">= 1",)),
    CliCase("chunksize-minus-one", ("compare", "--scheduler", "processes", "--chunksize", "-1"), "got -1", (">= 1",)),
    CliCase("chunksize-fraction", ("compare", "--scheduler", "processes", "--chunksize", "1.5"), "'1.5'", ("int",)),
    CliCase("chunksize-on-sync", ("compare", "--scheduler", "sync", "--chunksize", "2"), "sync", ("processes",)),
    CliCase("repeat-zero", ("compare", "--scheduler", "sync", "--repeat", "0"), "got 0", (">= 1",)),
    CliCase("repeat-word", ("compare", "--repeat", "x"), "'x'", ("int",)),
    CliCase("unknown-option", ("compare", "--workers", "2"), "--workers", ("unrecognized",)),
    CliCase("graph-pdf", ("graph", "graph.pdf"), "'.pdf'", (".png", ".svg")),
    CliCase("graph-no-extension", ("graph", "graph"), "(none)", (".png", ".svg")),
    CliCase("graph-missing-folder", ("graph", "nope/graph.png"), "nope", ("folder you can write",)),
    CliCase("graph-unwritable", ("graph", "/sys/graph.png"), "/sys/graph.png", ("folder you can write",)),
    CliCase("graph-colour", ("graph", "graph.svg", "--color", "red"), "'red'", ("'order'",)),
    CliCase("predict-thread", ("predict", "--scheduler", "thread"), "'thread'", ("threads",)),
    CliCase("predict-chunksize-zero", ("predict", "--scheduler", "processes", "--chunksize", "0"), "got 0", (">= 1",)),
    CliCase("predict-chunksize-on-sync", ("predict", "--scheduler", "sync", "--chunksize", "2"), "sync", ("processes",)),
    CliCase("predict-delay-nan", ("predict", "--delay", "nan"), "nan", ("finite",)),
    CliCase("predict-work-unknown", ("predict", "--work", "gpu"), "'gpu'", ("sleeplock",)),
    CliCase("timeline-gif", ("compare", "--scheduler", "sync", "--timeline", "t.gif"), "'.gif'", (".png", ".svg", ".pdf")),
    CliCase("timeline-missing-folder", ("compare", "--scheduler", "sync", "--timeline", "nope/t.png"), "nope", ("folder",)),
    CliCase("timeline-unwritable", ("compare", "--scheduler", "sync", "--timeline", "/sys/t.png"), "/sys/t.png", ("path you can write",)),
]  # fmt: skip


class TestCli:
    @pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
    def test_bad_arguments_exit_2_with_one_line(
        self, case: CliCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A bad command line exits 2 with one stderr line naming the value and the choices."""
        for name, value in case.env:
            monkeypatch.setenv(name, value)
        done = subprocess.run(
            [sys.executable, "-m", "schedtutor", *case.args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("schedtutor"), lines[0]
        assert case.bad in lines[0], lines[0]
        for accepted in case.accepted:
            assert accepted in lines[0], lines[0]
        assert done.stdout == ""
        assert list(tmp_path.iterdir()) == []  # nothing written
