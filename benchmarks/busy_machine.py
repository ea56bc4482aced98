"""Does schedtutor tell the truth on a busy machine?  (``make busy``)

People rebuild the site and run the tests on laptops where something else is
always running.  This runs, ``--runs`` times each (5 by default), with one
bounded busy loop -- another program, a plain Python ``while`` loop that keeps
one CPU busy -- running beside it the whole time:

* the fast site build (``SCHEDTUTOR_DELAY=0.2``, two processes, as ``make
  test`` builds it), from scratch into a temporary folder, as a local rebuild
  (``SCHEDTUTOR_UNVERIFIED=mark``): a claim that did not hold fails it, and a
  claim that needs CPUs the busy loop took is marked not verified (each run
  says how many, and which);
* the test suite's timing tests (every test but the site build and the
  browser, which the first item covers).

It prints one line per run (passed, or the one-line reason it failed: the
claims' ``error:`` lines, pytest's summary), then the counts, and exits 1
unless every run passed.  ``--idle`` runs the same without the busy loop.  The
busy loop ends with this script, and after ``--limit`` seconds in any case.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The busy loop: another program keeping one CPU busy, for at most ``sys.argv[1]`` seconds.
SPIN = "import sys, time\nend = time.time() + float(sys.argv[1])\nwhile time.time() < end: pass\n"


@contextmanager
def busy_cpu(limit: float) -> Iterator[None]:
    """Keep one CPU busy with a plain Python loop for the block (and at most ``limit`` s)."""
    loop = subprocess.Popen([sys.executable, "-c", SPIN, str(limit)])
    try:
        yield
    finally:
        loop.kill()
        loop.wait()


def build_site(folder: Path) -> tuple[bool, str]:
    """Build the site in fast mode into ``folder``; return success and a one-line reason."""
    env = {**os.environ, "SCHEDTUTOR_DELAY": "0.2", "SCHEDTUTOR_UNVERIFIED": "mark"}
    command = [
        sys.executable, "-m", "sphinx", "-j", "2", "-nW", "--keep-going", "-b", "html",
        "-d", str(folder / "doctrees"), "-c", str(ROOT), str(ROOT / "docs"), str(folder / "html"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode == 0:
        marked = re.findall(r"^note: .* claim '([a-z0-9-]+)' was not verified", done.stderr, re.M)
        if not marked:
            return True, "built, every claim held"
        return True, f"built, {len(marked)} claim(s) marked not verified: {', '.join(marked)}"
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    return False, " | ".join(errors[:3]) or (done.stderr.strip().splitlines() or ["?"])[-1]


def timing_tests() -> tuple[bool, str]:
    """Run the test suite without the site build and the browser; return success and its summary."""
    command = [sys.executable, "-m", "pytest", "-q", "-m", "not docs and not browser", "-p",
               "no:cacheprovider"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    summary = (done.stdout.strip().splitlines() or ["?"])[-1]
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    return done.returncode == 0, " | ".join([summary, *failed[:3]])


def main(argv: list[str] | None = None) -> int:
    """Run the fast build and the timing tests ``--runs`` times beside a busy loop."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each (5)")
    parser.add_argument("--idle", action="store_true", help="without the busy loop")
    parser.add_argument("--limit", type=float, default=7200.0, help="busy loop's limit, s")
    parser.add_argument("--only", choices=("build", "tests"), help="run only one of the two")
    args = parser.parse_args(argv)
    # Stopped with SIGTERM (kill, a CI timeout): leave through the blocks, so the busy loop
    # is killed too instead of spinning on to its limit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    kinds = [k for k in ("build", "tests") if args.only in (None, k)]
    passed = {kind: 0 for kind in kinds}
    beside = "idle" if args.idle else "one CPU kept busy by another program"
    print(f"busy_machine: {args.runs} run(s) of {' and '.join(kinds)}, {beside}", flush=True)
    with busy_cpu(args.limit) if not args.idle else _nothing():
        for run in range(1, args.runs + 1):
            for kind in kinds:
                started = time.perf_counter()
                if kind == "build":
                    with tempfile.TemporaryDirectory(prefix="schedtutor-busy-") as folder:
                        ok, why = build_site(Path(folder))
                else:
                    ok, why = timing_tests()
                passed[kind] += ok
                seconds = time.perf_counter() - started
                verdict = "passed" if ok else "FAILED"
                print(f"  run {run} {kind}: {verdict} in {seconds:.0f} s: {why}", flush=True)
    counts = ", ".join(f"{kind} {passed[kind]}/{args.runs}" for kind in kinds)
    print(f"busy_machine: {counts} passed ({beside})")
    return 0 if all(n == args.runs for n in passed.values()) else 1


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    sys.exit(main())
