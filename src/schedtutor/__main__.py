"""The ``schedtutor`` command line: the old lesson's experiment, or your own graph, from a shell.

``schedtutor compare`` times ``(1 + 3) * (2 - 4) / 3.5`` under the schedulers
you name and prints a table (or JSON with the environment stamp), and with
``--timeline FILE.png`` draws when each task ran in each configuration, with
``--trace-json FILE`` writes the same traces for Perfetto
(:mod:`schedtutor.chrome_trace`: all configurations in one file, one above
the other);
``schedtutor predict`` prints the times :func:`schedtutor.predict` expects,
next to the critical path, without running anything;
``schedtutor graph`` writes its task graph.  Bad arguments exit with status 2
and one line saying what was wrong -- never a traceback.

``--graph PATH.py:NAME`` (or ``package.module:NAME``) makes ``compare`` and
``predict`` use your own graph instead: ``NAME`` is a Dask collection or a
function of no arguments returning one (:mod:`schedtutor._user_graph` loads
it, and says in one line what is wrong with it).  ``--delay`` sets the
built-in graph's ops and is refused with ``--graph``, as is ``compare``'s
``--work``; ``predict``'s ``--work`` then says what kind of work your tasks
do (default ``sleep``: they run beside anything).  ``predict --graph``
first traces your graph once under sync, for the durations of its tasks, and
says so on stderr.  A task of your graph that raises ends the command with
one line too.
"""

from __future__ import annotations

import argparse
import json
import logging
import reprlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedtutor import graph, ops, schedulers, timing
from schedtutor.environment import environment

if TYPE_CHECKING:
    from schedtutor.trace import Trace

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like argparse but shorter
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``schedtutor`` command (the CLI reference is built from it)."""
    parser = _Parser(
        prog="schedtutor",
        description="Time, predict and draw the old 'Dask Schedulers' experiment, "
        "(1 + 3) * (2 - 4) / 3.5, or your own graph (--graph), under Dask's schedulers.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def experiment(sub: argparse.ArgumentParser, predicting: bool = False) -> None:
        sub.add_argument(
            "--graph",
            metavar="SPEC",
            help="your own graph instead of the built-in one: PATH.py:NAME or "
            "package.module:NAME, where NAME is a Dask collection or a function of no "
            "arguments returning one",
        )
        sub.add_argument(
            "--delay",
            type=float,
            default=None,
            metavar="S",
            help="seconds each of the four ops works (default: $SCHEDTUTOR_DELAY or 1.0); "
            "not with --graph",
        )
        own = (
            "; with --graph, the kind of work your tasks do (default: sleep)"
            if predicting
            else "; not with --graph"
        )
        sub.add_argument(
            "--work",
            default=None,
            metavar="KIND",
            help=f"kind of work of the ops: {', '.join(ops.WORK_KINDS)} (default: sleeplock)" + own,
        )

    compare = commands.add_parser(
        "compare",
        help="time the experiment under several schedulers",
        description="Time the experiment (or --graph) under each --scheduler and print a table.",
    )
    experiment(compare)
    compare.add_argument(
        "--scheduler",
        action="append",
        metavar="NAME",
        help="a scheduler name or alias; repeat for several (default: sync, threads, processes)",
    )
    compare.add_argument(
        "--chunksize",
        type=int,
        metavar="N",
        help="tasks the processes scheduler sends to a worker at once (Dask's default: 6)",
    )
    compare.add_argument("--repeat", type=int, default=3, metavar="N", help="runs of each (3)")
    compare.add_argument("--json", action="store_true", help="print JSON records and the stamp")
    compare.add_argument(
        "--timeline",
        metavar="FILE",
        help="also trace each configuration once and draw its timeline to FILE "
        "(.png, .svg or .pdf)",
    )
    compare.add_argument(
        "--trace-json",
        metavar="FILE",
        help="also trace each configuration once and write the traces to FILE as Chrome "
        "trace-event JSON, all in one file (open it in Perfetto or chrome://tracing)",
    )

    forecast = commands.add_parser(
        "predict",
        help="predict the experiment's time under several schedulers",
        description="Print the predicted time of the experiment under each --scheduler, "
        "next to its critical path, without running it (with --graph, after tracing "
        "the graph once under sync for the durations of its tasks).",
    )
    experiment(forecast, predicting=True)
    forecast.add_argument(
        "--scheduler",
        action="append",
        metavar="NAME",
        help="a scheduler name or alias; repeat for several "
        "(default: sync, threads, processes, distributed)",
    )
    forecast.add_argument(
        "--chunksize",
        type=int,
        metavar="N",
        help="tasks the processes scheduler sends to a worker at once (Dask's default: 6)",
    )

    draw = commands.add_parser(
        "graph",
        help="write the experiment's task graph",
        description="Write the experiment's task graph to FILE (.png or .svg) with graphviz.",
    )
    draw.add_argument("file", metavar="FILE", help="output image, ending in .png or .svg")
    draw.add_argument("--color", choices=graph.COLORS, help="colour tasks by execution order")
    return parser


def _configs(
    args: argparse.Namespace, default: Sequence[str] = ("sync", "threads", "processes")
) -> list[tuple[str, dict[str, Any]]]:
    names = args.scheduler or list(default)
    configs = []
    for name in names:
        canonical = schedulers.resolve(name)
        options: dict[str, Any] = {}
        if args.chunksize is not None and canonical == "processes":
            options["chunksize"] = args.chunksize
        configs.append((canonical, options))
    if args.chunksize is not None and not any("chunksize" in o for _, o in configs):
        raise ValueError(
            "--chunksize applies only to the processes scheduler, "
            f"not to {', '.join(c for c, _ in configs)}"
        )
    return configs


def _graph(args: argparse.Namespace) -> Any:
    """Return the collection the command runs: the built-in graph, or the one --graph names."""
    if args.graph is None:
        return ops.slow_arithmetic(delay=args.delay, work=args.work or "sleeplock")
    refused = ["--delay"] if args.delay is not None else []
    if args.work is not None and args.command == "compare":
        refused.append("--work")
    if refused:
        them = "it" if len(refused) == 1 else "them"
        raise ValueError(
            f"{' and '.join(refused)} set{'s' if len(refused) == 1 else ''} the built-in "
            f"graph's ops and do{'es' if len(refused) == 1 else ''} not apply to --graph; "
            f"leave {them} out"
        )
    if args.work is not None:
        ops.check_work(args.work)
    from schedtutor._user_graph import load

    return load(args.graph)


class _GraphFailed(RuntimeError):
    """A task of the reader's own graph raised: one line, exit 2."""


@contextmanager
def _graph_errors(args: argparse.Namespace, what: str) -> Iterator[None]:
    """Turn an error raised by a task of a --graph into one line naming the configuration."""
    try:
        yield
    except Exception as error:
        if args.graph is None:
            raise
        from schedtutor._user_graph import last_line

        raise _GraphFailed(
            f"running --graph {args.graph!r} {what} raised {last_line(error)}"
        ) from None


def _compare(args: argparse.Namespace) -> int:
    configs = timing.parse_configs(_configs(args))
    if args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {args.repeat}")
    if args.timeline is not None:
        from schedtutor.timeline import check_timeline_file

        _check_writable(check_timeline_file(args.timeline))
    if args.trace_json is not None:
        _check_writable(Path(args.trace_json))
    obj = _graph(args)
    print(
        f"timing {len(configs)} configuration(s) x {args.repeat} run(s)...",
        file=sys.stderr,
    )
    timings: list[timing.Timing] = []
    for name, options in configs:
        label = timing.label(name, options)
        print(f"  {label}", file=sys.stderr, flush=True)
        with _graph_errors(args, f"under {label}"):
            timings += timing.compare(obj, [(name, options)], repeat=args.repeat).timings
    result = timing.Comparison(tuple(timings))
    if args.timeline is not None or args.trace_json is not None:
        traces = _traces(args, obj, configs)
        if args.timeline is not None:
            from schedtutor.timeline import plot_timelines

            plot_timelines(traces, args.timeline)
            print(f"wrote {args.timeline}", file=sys.stderr)
        if args.trace_json is not None:
            from schedtutor.chrome_trace import write_chrome_trace

            write_chrome_trace(traces, args.trace_json)
            print(f"wrote {args.trace_json}", file=sys.stderr)
    if args.json:
        payload = {"records": result.to_records(), "environment": environment().as_dict()}
        print(json.dumps(payload, indent=2, default=_plain))
    else:
        print(result)
        print(environment())
    return 0


def _plain(value: Any) -> Any:
    """Return what JSON can hold for a result it cannot: a NumPy number's value, else a repr.

    >>> import numpy as np
    >>> _plain(np.int64(3)), _plain(np.arange(3))
    (3, 'array([0, 1, 2])')
    """
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return reprlib.repr(value)


def _check_writable(path: Path) -> None:
    """Raise ValueError now, not after minutes of runs, if ``path`` cannot be written."""
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as error:
        reason = (error.strerror or type(error).__name__).lower()
        raise ValueError(
            f"cannot write {str(path)!r}: {reason}; give a path you can write"
        ) from None
    if not existed:
        path.unlink()


def _traces(args: argparse.Namespace, obj: Any, configs: list[timing.Config]) -> list[Trace]:
    from schedtutor.trace import trace

    print("tracing each configuration once...", file=sys.stderr, flush=True)
    traces = []
    for name, options in configs:
        with _graph_errors(args, f"under {timing.label(name, options)}"):
            traces.append(trace(obj, name, **options))
    return traces


def _predict(args: argparse.Namespace) -> int:
    from schedtutor.predict import predict
    from schedtutor.trace import trace

    configs = timing.parse_configs(_configs(args, schedulers.CANONICAL))
    obj = _graph(args)
    durations: Trace | None = None
    extra: dict[str, Any] = {}
    if args.graph is not None:
        print(
            "tracing the graph once under sync for the durations of its tasks...",
            file=sys.stderr,
            flush=True,
        )
        with _graph_errors(args, "under sync"):
            durations = trace(obj, "sync")
        print(
            f"  sync: {durations.seconds:.2f} s, {len(durations.spans)} tasks",
            file=sys.stderr,
        )
        extra["work"] = args.work or "sleep"
    rows = [("configuration", "predicted s", "critical path s")]
    for name, options in configs:
        prediction = predict(obj, name, durations, **extra, **options)
        rows.append(
            (prediction.label, f"{prediction.seconds:.2f}", f"{prediction.critical_path:.2f}")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _not_an_abandoned_gather(record: logging.LogRecord) -> bool:
    """Drop the asyncio log record an interrupted distributed compute leaves behind.

    On Ctrl-C during a distributed compute, ``distributed.Client`` abandons
    helper tasks that end in its private ``AllExit``, and asyncio logs each one
    with a traceback.  The command says "interrupted" in one line instead.
    """
    error = record.exc_info[1] if record.exc_info else None
    return type(error).__name__ != "AllExit"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``schedtutor`` command with ``argv`` and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.getLogger("asyncio").addFilter(_not_an_abandoned_gather)
    try:
        if args.command == "compare":
            return _compare(args)
        if args.command == "predict":
            return _predict(args)
        path = graph.draw_graph(ops.slow_arithmetic(delay=0), args.file, args.color)
        print(f"wrote {path}")
        return 0
    except (ValueError, TypeError, ConnectionError, RuntimeError, ImportError) as error:
        parser.exit(2, f"schedtutor: error: {error}\n")
    except OSError as error:  # an output file that cannot be written, and the like
        reason = (error.strerror or str(error)).lower()
        where = f"cannot write {error.filename!r}" if error.filename else "failed"
        parser.exit(2, f"schedtutor: error: {where}: {reason}; give a path you can write\n")
    except KeyboardInterrupt:
        parser.exit(130, "schedtutor: interrupted\n")


if __name__ == "__main__":
    sys.exit(main())
