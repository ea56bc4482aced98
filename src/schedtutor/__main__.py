"""The ``schedtutor`` command line: run the old lesson's experiment from a shell.

``schedtutor compare`` times ``(1 + 3) * (2 - 4) / 3.5`` under the schedulers
you name and prints a table (or JSON with the environment stamp), and with
``--timeline FILE.png`` draws when each task ran in each configuration;
``schedtutor predict`` prints the times :func:`schedtutor.predict` expects,
next to the critical path, without running anything;
``schedtutor graph`` writes its task graph.  Bad arguments exit with status 2
and one line saying what was wrong -- never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schedtutor import graph, ops, schedulers, timing
from schedtutor.environment import environment

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like argparse but shorter
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``schedtutor`` command (the CLI reference is built from it)."""
    parser = _Parser(
        prog="schedtutor",
        description="Time and draw the old 'Dask Schedulers' experiment, "
        "(1 + 3) * (2 - 4) / 3.5, under Dask's schedulers.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def experiment(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--delay",
            type=float,
            default=None,
            metavar="S",
            help="seconds each of the four ops works (default: $SCHEDTUTOR_DELAY or 1.0)",
        )
        sub.add_argument(
            "--work",
            default="sleeplock",
            metavar="KIND",
            help=f"kind of work: {', '.join(ops.WORK_KINDS)} (default: sleeplock)",
        )

    compare = commands.add_parser(
        "compare",
        help="time the experiment under several schedulers",
        description="Time the experiment under each --scheduler and print a table.",
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

    forecast = commands.add_parser(
        "predict",
        help="predict the experiment's time under several schedulers",
        description="Print the predicted time of the experiment under each --scheduler, "
        "next to its critical path, without running it.",
    )
    experiment(forecast)
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


def _compare(args: argparse.Namespace) -> int:
    obj = ops.slow_arithmetic(delay=args.delay, work=args.work)
    configs = timing.parse_configs(_configs(args))
    if args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {args.repeat}")
    if args.timeline is not None:
        from schedtutor.timeline import check_timeline_file

        _check_writable(check_timeline_file(args.timeline))
    print(
        f"timing {len(configs)} configuration(s) x {args.repeat} run(s)...",
        file=sys.stderr,
    )
    timings: list[timing.Timing] = []
    for name, options in configs:
        print(f"  {timing.label(name, options)}", file=sys.stderr, flush=True)
        timings += timing.compare(obj, [(name, options)], repeat=args.repeat).timings
    result = timing.Comparison(tuple(timings))
    if args.timeline is not None:
        _timeline(obj, configs, args.timeline)
    if args.json:
        payload = {"records": result.to_records(), "environment": environment().as_dict()}
        print(json.dumps(payload, indent=2))
    else:
        print(result)
        print(environment())
    return 0


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


def _timeline(obj: Any, configs: list[timing.Config], filename: str) -> None:
    from schedtutor.timeline import plot_timelines
    from schedtutor.trace import trace

    print("tracing each configuration once for the timeline...", file=sys.stderr, flush=True)
    traces = [trace(obj, name, **options) for name, options in configs]
    plot_timelines(traces, filename)
    print(f"wrote {filename}", file=sys.stderr)


def _predict(args: argparse.Namespace) -> int:
    from schedtutor.predict import predict

    obj = ops.slow_arithmetic(delay=args.delay, work=args.work)
    configs = timing.parse_configs(_configs(args, schedulers.CANONICAL))
    rows = [("configuration", "predicted s", "critical path s")]
    for name, options in configs:
        prediction = predict(obj, name, **options)
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
    except (ValueError, TypeError, ConnectionError, RuntimeError) as error:
        parser.exit(2, f"schedtutor: error: {error}\n")
    except OSError as error:  # an output file that cannot be written, and the like
        reason = (error.strerror or str(error)).lower()
        where = f"cannot write {error.filename!r}" if error.filename else "failed"
        parser.exit(2, f"schedtutor: error: {where}: {reason}; give a path you can write\n")
    except KeyboardInterrupt:
        parser.exit(130, "schedtutor: interrupted\n")


if __name__ == "__main__":
    sys.exit(main())
