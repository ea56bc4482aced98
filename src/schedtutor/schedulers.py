"""Name, choose and open Dask's schedulers.

Dask runs a graph with one of four schedulers.  Three are *local*: they live in
the calling process and run tasks in it (``sync``), in a pool of threads
(``threads``) or in a pool of spawned worker processes (``processes``).  The
fourth, ``distributed``, sends tasks to the workers of a
:class:`distributed.Client` -- here a :func:`local_cluster` on 127.0.0.1, or a
real cluster reached by its address.

Every name Dask accepts is an *alias* of one of these four.  The table comes
from Dask itself (``dask.base.named_schedulers``) plus the two names that need
a client, so a new alias in a future Dask is accepted here without an edit:

>>> resolve("Threading")
'threads'
>>> resolve("single-threaded")
'sync'

Options are checked before anything starts, against what each scheduler
really has: ``num_workers`` and ``chunksize`` for the pools of threads and
processes; ``n_workers``, ``threads_per_worker``, ``processes`` and
``dashboard`` for a local cluster; ``address`` (and ``timeout``) or ``client``
for an existing one; ``optimize_graph`` for any compute.  A bad name, option
or value raises one ``ValueError``/``TypeError`` that says what is accepted.

:func:`open_scheduler` is the one place that starts and stops what a
scheduler needs; timing, tracing and the CLI all go through it, so a cluster
or pool is always closed, even on an error or Ctrl-C.

When things go wrong
====================

* **An address where no scheduler answers** raises ``ConnectionError`` within
  about ``timeout`` seconds.  Dask's own ``Client`` bounds the TCP connect but
  not the handshake after it, so a listener that accepts and never answers (a
  web server, the dashboard's port, a stuck process) would hang it for ever;
  the address is therefore first probed with Dask's handshake under a hard
  deadline.
* **Ctrl-C** reaches only the parent: the worker processes of a local cluster
  and of the processes pool ignore SIGINT (:mod:`schedtutor._worker_setup`),
  so in a terminal, where Ctrl-C signals the whole process group, they do
  not die one by one with tracebacks while the parent shuts them down in
  order.  A Ctrl-C while a local cluster starts is held until it has
  started, then the cluster is closed and ``KeyboardInterrupt`` raised.
* **A local cluster that cannot start** raises one ``RuntimeError`` naming
  the root cause Dask wrapped and what to try.
* **Worker processes that cannot start or die** under ``processes`` raise one
  ``RuntimeError`` instead of a bare ``BrokenProcessPool``.  A spawned worker
  re-runs the main script by its path, so a script read from standard input
  (``python - < script.py``, path ``<stdin>``) can never start one: that is
  refused before any process is spawned.
* **Everything listens on 127.0.0.1**, on free ports, web servers included.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import dask
from dask.base import compute as dask_compute

from schedtutor import _compat, _worker_setup
from schedtutor._cluster_logs import quiet_after_close
from schedtutor._worker_imports import check_worker_imports, named_modules

__all__ = [
    "CANONICAL",
    "Scheduler",
    "aliases",
    "check_options",
    "local_cluster",
    "open_scheduler",
    "resolve",
    "use",
]

CANONICAL = ("sync", "threads", "processes", "distributed")
"""The canonical scheduler names, in the order the lessons introduce them."""

_DISTRIBUTED_ALIASES = ("distributed", "dask.distributed")

_POOL_OPTIONS = ("num_workers", "chunksize")
_CLUSTER_OPTIONS = ("n_workers", "threads_per_worker", "processes", "dashboard")
_REMOTE_OPTIONS = ("address", "timeout", "client")

OPTIONS: dict[str, tuple[str, ...]] = {
    "sync": ("optimize_graph",),
    "threads": (*_POOL_OPTIONS, "optimize_graph"),
    "processes": (*_POOL_OPTIONS, "optimize_graph"),
    "distributed": (*_CLUSTER_OPTIONS, *_REMOTE_OPTIONS, "optimize_graph"),
}
"""The options each canonical scheduler accepts."""

_ADDRESS = re.compile(r"^(?:(tcp|tls|ws|wss)://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$")


def aliases() -> dict[str, str]:
    """Return every scheduler name Dask accepts, mapped to its canonical name.

    >>> table = aliases()
    >>> table["multiprocessing"], table["dask.distributed"]
    ('processes', 'distributed')
    """
    from dask.base import named_schedulers

    table: dict[str, str] = {}
    for name, get in named_schedulers.items():
        same = [c for c in CANONICAL if named_schedulers.get(c) is get]
        table[name] = same[0] if same else name
    for name in _DISTRIBUTED_ALIASES:
        table[name] = "distributed"
    return dict(sorted(table.items()))


def resolve(name: str) -> str:
    """Return the canonical name of a Dask scheduler alias (case-insensitive).

    >>> resolve("multiprocessing")
    'processes'
    >>> resolve("thread")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown scheduler 'thread'; expected one of: dask.distributed, ..., threads
    """
    if not isinstance(name, str):
        raise TypeError(
            f"scheduler must be a name such as 'threads', got {type(name).__name__}: {name!r}"
        )
    table = aliases()
    canonical = table.get(name.strip().lower())
    if canonical is None:
        raise ValueError(f"unknown scheduler {name!r}; expected one of: {', '.join(table)}")
    return canonical


def _positive_int(option: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{option} must be a whole number >= 1, got {value!r}")


def check_options(scheduler: str, options: Mapping[str, Any]) -> str:
    """Check ``options`` for ``scheduler``; return the canonical scheduler name.

    >>> check_options("processes", {"chunksize": 1})
    'processes'
    >>> check_options("sync", {"chunksize": 1})
    Traceback (most recent call last):
    ...
    ValueError: option 'chunksize' does not apply to the sync scheduler; it accepts: optimize_graph
    """
    canonical = resolve(scheduler)
    if not isinstance(options, Mapping):
        raise TypeError(
            f"options must be a mapping such as {{'chunksize': 1}}, got {type(options).__name__}: "
            f"{options!r}"
        )
    accepted = OPTIONS[canonical]
    for option, value in options.items():
        if option not in accepted:
            raise ValueError(
                f"option {option!r} does not apply to the {canonical} scheduler; "
                f"it accepts: {', '.join(accepted)}"
            )
        if option in ("num_workers", "chunksize", "n_workers", "threads_per_worker"):
            _positive_int(option, value)
        elif option in ("processes", "dashboard", "optimize_graph"):
            if not isinstance(value, bool):
                raise TypeError(f"{option} must be True or False, got {value!r}")
        elif option == "timeout":
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value < float("inf")
            ):
                raise ValueError(f"timeout must be a finite number of seconds > 0, got {value!r}")
        elif option == "address":
            _check_address(value)
        elif option == "client":
            _check_client(value)
    remote = [o for o in ("address", "client") if o in options]
    local = [o for o in _CLUSTER_OPTIONS if o in options]
    if len(remote) > 1 or (remote and local):
        raise ValueError(
            f"give either a cluster to start ({', '.join(_CLUSTER_OPTIONS)}) or one to use "
            f"(address or client), not {' and '.join(remote + local)}"
        )
    if "timeout" in options and "address" not in options:
        raise ValueError("timeout applies only with address='tcp://host:port'")
    return canonical


def _check_address(address: object) -> None:
    match = _ADDRESS.match(address.strip()) if isinstance(address, str) else None
    if match is None or not 1 <= int(match.group(3)) <= 65535:
        raise ValueError(
            f"malformed scheduler address {address!r}; expected 'tcp://host:port', "
            "for example 'tcp://127.0.0.1:8786'"
        )


def _restore_distributed_defaults() -> None:
    """Put back distributed's default settings that a ``dask.config.set`` block removed.

    ``import distributed`` adds its defaults to Dask's config.  When that first
    import happens inside ``with dask.config.set({"distributed....": ...})``, the
    block's exit restores the config as it found it -- without a ``distributed``
    section -- and every cluster or client after it fails with
    ``KeyError: 'distributed'``; a second such block then creates a section
    holding only its own setting, and clusters fail with ``KeyError: 'worker'``
    or the like.  Dask keeps the defaults apart, so every one missing is copied
    back from there; settings that are present are left as they are.
    """
    import distributed  # noqa: F401  (its first import registers the defaults)

    for defaults in dask.config.defaults:
        if "distributed" in defaults:
            section = {"distributed": copy.deepcopy(defaults["distributed"])}
            dask.config.update(dask.config.config, section, priority="old")


def _check_client(client: object) -> None:
    from distributed import Client

    if not isinstance(client, Client):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")


@contextmanager
def local_cluster(
    n_workers: int = 2,
    threads_per_worker: int = 1,
    processes: bool = True,
    dashboard: bool = False,
) -> Iterator[Any]:
    """Start a ``distributed.LocalCluster`` on 127.0.0.1 and yield a Client of it.

    Everything listens on 127.0.0.1 only, on free ports: the scheduler, the
    workers, and the scheduler's web server -- the dashboard when
    ``dashboard=True``, only its health and metrics pages otherwise.  The
    client and the cluster are closed when the block ends, however it ends.
    Dask's log lines about the cluster stay silent below CRITICAL, those its
    comms write after it closed included (see :mod:`schedtutor._cluster_logs`).

    The worker processes ignore Ctrl-C (see :mod:`schedtutor._worker_setup`):
    in a terminal it reaches every process of the group, and the parent, not
    each worker on its own, shuts the cluster down.  A cluster that cannot
    start raises one ``RuntimeError`` that says what to try.

    >>> with local_cluster(n_workers=1, processes=False) as client:
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    options = {
        "n_workers": n_workers,
        "threads_per_worker": threads_per_worker,
        "processes": processes,
        "dashboard": dashboard,
    }
    check_options("distributed", options)
    _restore_distributed_defaults()
    from distributed import Client, LocalCluster

    preload = list(dask.config.get("distributed.worker.preload"))
    if processes:
        preload.append("schedtutor._worker_setup")
    # The scheduler appends a route to this list of Dask's config in place when
    # bokeh is missing; start it on a copy, so the user's config stays as it was.
    routes = list(dask.config.get("distributed.scheduler.http.routes"))
    try:
        with (
            _interrupt_deferred() as interrupted,
            dask.config.set({"distributed.scheduler.http.routes": routes}),
        ):
            cluster = LocalCluster(
                host="127.0.0.1",
                protocol="tcp://",
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=processes,
                # Dask's default, ":8787", would fight over one port; the scheduler
                # keeps a small web server even without the dashboard.
                dashboard_address="127.0.0.1:0",
                scheduler_kwargs={"dashboard": dashboard},
                worker_dashboard_address=None,
                silence_logs=50,
                preload=preload,
            )
    except Exception as error:
        if interrupted:  # the workers stopped on the same Ctrl-C
            raise KeyboardInterrupt from None
        root: BaseException = error
        while (root.__cause__ or root.__context__) is not None:  # Dask wraps the real reason
            root = root.__cause__ or root.__context__  # type: ignore[assignment]
        reason = (str(root).strip().splitlines() or [""])[0]
        raise RuntimeError(
            f"could not start a local Dask cluster ({type(root).__name__}: {reason}); in a "
            "script, put the code that starts it under `if __name__ == '__main__':` "
            "(worker processes re-import the script), or try processes=False"
        ) from error
    with cluster:
        quiet_after_close(cluster)
        if interrupted:  # Ctrl-C while it started: close it, then stop
            raise KeyboardInterrupt
        with Client(cluster) as client:
            yield client


@contextmanager
def _interrupt_deferred() -> Iterator[list[int]]:
    """Hold back Ctrl-C in this block; yield a list that records it if it came.

    A ``KeyboardInterrupt`` in the middle of ``LocalCluster(...)`` leaves a
    half-started cluster that nobody can close (Dask's exit hook then fails on
    it).  Deferred, the cluster finishes starting and is closed in order.  Only
    the main thread receives signals, so elsewhere this does nothing.
    """
    interrupted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


async def _handshake(address: str, timeout: float) -> None:
    """Connect to ``address`` and exchange Dask's handshake, all within ``timeout`` seconds.

    Dask's own ``connect`` bounds the TCP connect by its timeout but not the
    handshake after it (distributed PR #7698), so a listener that accepts and
    never answers -- a dashboard, a web server, a stuck process -- hangs a
    ``Client`` for ever.  This probe bounds both and closes what it opened.
    """
    connector, location = _compat.connector_for(address)
    deadline = time.monotonic() + timeout
    # Retry a refused connection, as Dask does, until a margin before the outer
    # deadline: a refusal is then reported as one even on a machine slow to wake us.
    pause, margin = 0.1, 0.25
    while True:
        try:
            comm = await connector.connect(location)
            break
        except OSError:
            if time.monotonic() + pause + margin >= deadline:
                raise
            await asyncio.sleep(pause)
    try:
        await comm.write(comm.handshake_info())
        await comm.read()
    finally:
        comm.abort()


def _probe(address: str, timeout: float) -> None:
    """Run :func:`_handshake` under a hard deadline in a thread of its own.

    The thread has its own event loop, so this works in a Jupyter kernel too,
    whose main thread already runs one.
    """

    async def bounded() -> None:
        await asyncio.wait_for(_handshake(address, timeout), timeout)

    with ThreadPoolExecutor(1, thread_name_prefix="schedtutor-probe") as pool:
        pool.submit(asyncio.run, bounded()).result()


def _connect(address: str, timeout: float) -> Any:
    _restore_distributed_defaults()
    from distributed import Client

    address = address.strip()
    try:
        _probe(address, timeout)
        return Client(address, timeout=f"{timeout}s")
    except Exception as error:  # a refusal, a timeout, or garbage from a non-Dask listener
        if isinstance(error, TimeoutError):
            reason = "no answer"
        elif isinstance(error, OSError):
            root: BaseException = error
            while root.__cause__ is not None:  # Dask wraps the socket's own error
                root = root.__cause__
            reason = getattr(root, "strerror", None) or str(root).splitlines()[0][:160]
        else:
            reason = f"the listener there does not speak Dask's protocol: {type(error).__name__}"
        raise ConnectionError(
            f"no Dask scheduler answered at {address!r} within {timeout:g} s "
            f"({reason}); check the address (the scheduler's port, not the dashboard's), "
            "start a scheduler with `dask scheduler --host 127.0.0.1 --dashboard-address "
            "127.0.0.1:8787`, or leave out the address to use a local cluster"
        ) from None


@dataclass
class Scheduler:
    """An open scheduler: what :func:`open_scheduler` yields.

    ``startup`` is the seconds it took to start the local cluster or connect to
    the remote one (0 for the local schedulers, whose pools start inside each
    compute).
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    startup: float = 0.0
    client: Any = None

    def compute(self, obj: Any) -> Any:
        """Compute the Dask collection ``obj`` here and return its result.

        On a cluster, every worker is first asked to import the modules the
        graph's tasks come from; one that cannot raises ``ModuleNotFoundError``
        in one line (see :mod:`schedtutor._worker_imports`).
        """
        compute_options = {k: v for k, v in self.options.items() if k in ("optimize_graph",)}
        if self.client is not None:
            check_worker_imports(self.client, named_modules(obj.__dask_graph__()))
            (result,) = dask_compute(obj, scheduler=self.client, **compute_options)
            _wait_until_forgotten(self.client, obj.__dask_keys__())
            return result
        local = {k: v for k, v in self.options.items() if k in _POOL_OPTIONS}
        if self.name != "processes":
            (result,) = dask_compute(obj, scheduler=self.name, **local, **compute_options)
            return result
        try:
            (result,) = dask_compute(
                obj, scheduler=self.name, **local, **_pool_initializer(), **compute_options
            )
        except BrokenProcessPool:
            raise RuntimeError(
                "a worker process of the processes scheduler died before it returned its "
                "tasks' results (BrokenProcessPool): a task may have ended its process "
                "(os._exit, a crash in C code, running out of memory)"
            ) from None
        return result


def _check_spawnable_main() -> None:
    """Refuse to start a processes pool whose workers cannot start.

    A worker spawned by multiprocessing re-runs the parent's main module: by
    its name when it was run with ``python -m``, else by its path.  A script
    read from standard input has a path that is no file (``<stdin>``), so every
    worker would die at start and Dask would raise a bare ``BrokenProcessPool``.
    """
    import multiprocessing.process

    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return
    path = getattr(main, "__file__", None)
    if path is None:  # an interactive session or python -c: nothing to re-run
        return
    original_dir = getattr(multiprocessing.process, "ORIGINAL_DIR", None)  # not in typeshed
    if not os.path.isabs(path) and original_dir is not None:
        path = os.path.join(original_dir, path)
    if not os.path.isfile(path):
        raise RuntimeError(
            f"the processes scheduler cannot start worker processes here: each one "
            f"re-runs the main script by its path, and {os.path.basename(path)!r} is no "
            "file (a script read from standard input?); save the script to a file and "
            "run that, or use scheduler='threads'"
        )


def _pool_initializer() -> dict[str, Any]:
    """Return the ``initializer`` option that makes the processes pool's workers ignore Ctrl-C.

    The user's own ``multiprocessing.initializer`` still runs after it; with a
    ``pool`` of the user's in Dask's config, Dask ignores initializers, so none
    is given.
    """
    if dask.config.get("pool", None) is not None:
        return {}
    user = dask.config.get("multiprocessing.initializer", None)
    return {"initializer": functools.partial(_worker_setup.pool_initializer, user)}


def _wait_until_forgotten(client: Any, keys: Any, timeout: float = 5.0) -> None:
    """Wait until the cluster has released ``keys``, so computing again recomputes them.

    ``dask.compute`` releases its futures on return, but the release reaches the
    scheduler a moment later; a second compute of the same graph sent at once
    would find the results still in memory and take no time at all.
    """
    from dask.core import flatten

    wanted = set(flatten(keys))

    def held(dask_scheduler: Any) -> bool:
        return any(key in dask_scheduler.tasks for key in wanted)

    deadline = time.monotonic() + timeout
    while client.run_on_scheduler(held) and time.monotonic() < deadline:
        time.sleep(0.005)


@contextmanager
def open_scheduler(scheduler: str, **options: Any) -> Iterator[Scheduler]:
    """Check ``options``, start what ``scheduler`` needs, yield it, then close it.

    >>> from schedtutor import slow_arithmetic
    >>> with open_scheduler("processes", chunksize=1) as sched:
    ...     sched.compute(slow_arithmetic(delay=0.001))
    -2.2857142857142856
    """
    canonical = check_options(scheduler, options)
    if canonical == "processes":
        _check_spawnable_main()
    if canonical != "distributed":
        yield Scheduler(canonical, dict(options))
        return
    with ExitStack() as stack:
        started = time.perf_counter()
        if "client" in options:
            client = options["client"]
        elif "address" in options:
            client = stack.enter_context(
                _connect(options["address"], float(options.get("timeout", 10)))
            )
        else:
            cluster = {k: v for k, v in options.items() if k in _CLUSTER_OPTIONS}
            client = stack.enter_context(local_cluster(**cluster))
        yield Scheduler(canonical, dict(options), time.perf_counter() - started, client)


@contextmanager
def use(scheduler: str, **options: Any) -> Iterator[Scheduler]:
    """Make ``scheduler`` Dask's default inside the block (``dask.config.set``).

    Local options (``num_workers``, ``chunksize``) become Dask configuration;
    for ``"distributed"`` a local cluster is started (or ``address``/``client``
    used) and closed when the block ends.

    >>> from schedtutor import slow_arithmetic
    >>> with use("threads", num_workers=2):
    ...     slow_arithmetic(delay=0.001).compute()
    -2.2857142857142856
    """
    if "optimize_graph" in options:
        raise ValueError(
            "optimize_graph is an argument of compute(), not a Dask setting; "
            "pass it to run() or compare()"
        )
    with open_scheduler(scheduler, **options) as opened:
        if opened.client is not None:
            settings: dict[str, Any] = {"scheduler": opened.client}
        else:
            settings = {"scheduler": opened.name, **opened.options}
            if opened.name == "processes" and "initializer" in _pool_initializer():
                settings["multiprocessing.initializer"] = _pool_initializer()["initializer"]
        with dask.config.set(settings):
            yield opened
