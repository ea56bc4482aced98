"""How a parallel build (``sphinx-build -j N``) runs the executed notebooks.

With ``-j N`` Sphinx reads the pages in N or more contiguous chunks, one forked
process per chunk, and myst-nb runs each notebook while its page is read.  This
extension decides which notebooks may run at the same time, and in what order.

Turns
    A notebook that times CPU-bound work -- pure Python against NumPy, threads
    against processes, the per-task overhead of each scheduler -- needs the
    machine's CPUs to itself: beside another notebook its figures would describe
    half the machine, and its checks on them fail.  Such a notebook says so in
    its front matter::

        schedtutor:
          runs-alone: true

    Every page is read under a lock on one file in the doctree folder: an
    exclusive lock for a notebook that runs alone, a shared one for any other
    page.  So while a notebook that runs alone is executed, no other page is
    read; notebooks that mostly sleep run beside each other.  The lock is
    taken when Sphinx hands the page's source over (``source-read``) and given
    back once the page is parsed, its notebook executed (``doctree-read``).  A
    process that dies gives its lock back with it.  A serial build takes no
    lock.

Spread
    Sorted by name, the tutorials would all land in one chunk and run one after
    the other anyway.  So before a parallel read the notebooks are dealt out to
    the chunks that start first: those that share the machine first, longest
    onto the least loaded, so that they run side by side at the start; then
    those that run alone, which take their turns one after the other.  How long
    a notebook runs is what it took in the last build, from
    ``notebook-turns.log``; when that log lacks a notebook (a fresh checkout),
    the sizes of the sources stand in, a rough proxy.  Sphinx has no public way
    to choose its chunks: the dealing relies on how it cuts them, and lives
    with the other workarounds, gated to the Sphinx versions it was written for
    (``workarounds/sphinx_parallel_chunks.py``).

Cache mode
    jupyter-cache's database is created before the read processes start, since
    they cannot all create it at once (``workarounds/jupyter_cache_tables.py``,
    gated likewise).

``notebook-turns.log`` in the doctree folder records each page's turn: its
kind, and when it took and gave back the lock (serial builds log their turns
too, without a lock).  The build's own test reads it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO, Any

import yaml
from sphinx.application import Sphinx
from workarounds import jupyter_cache_tables, sphinx_parallel_chunks

LOCK_NAME = "notebook-turns.lock"
LOG_NAME = "notebook-turns.log"

# The lock this process holds, with the page and when it got it; a process reads
# one page at a time, so it holds at most one.
_held: dict[str, tuple[IO[str] | None, str, str, float]] = {}


def front_matter(text: str) -> dict[str, Any]:
    """The YAML front matter of a MyST page (``{}`` when it has none)."""
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---", 4)
    if end < 0:
        return {}
    matter = yaml.safe_load(text[4:end])
    return matter if isinstance(matter, dict) else {}


def is_notebook(text: str) -> bool:
    """Whether a page is a MyST notebook (its front matter names a kernel)."""
    return "kernelspec" in front_matter(text)


def runs_alone(text: str) -> bool:
    """Whether a page's front matter asks that no other page be read beside it."""
    options = front_matter(text).get("schedtutor") or {}
    return bool(isinstance(options, dict) and options.get("runs-alone"))


def take_turn(app: Sphinx, docname: str, source: list[str]) -> None:
    """Wait until this page may be read: alone, or beside other sharing pages."""
    give_turn(app)  # a page whose parsing failed never reached doctree-read
    kind = "alone" if runs_alone(source[0]) else "shared"
    handle = None
    if app.parallel > 1:
        import fcntl  # POSIX only; Sphinx reads in parallel only where it can fork

        handle = open(Path(app.doctreedir) / LOCK_NAME, "a", encoding="utf-8")
        fcntl.flock(handle, fcntl.LOCK_EX if kind == "alone" else fcntl.LOCK_SH)
    _held["turn"] = (handle, docname, kind, time.time())


def give_turn(app: Sphinx, *_: Any) -> None:
    """Give back this process's lock, if it holds one, and log the turn."""
    if "turn" not in _held:
        return
    handle, docname, kind, started = _held.pop("turn")
    ended = time.time()
    if handle is not None:
        handle.close()  # closing the file gives the lock back
    with open(Path(app.doctreedir) / LOG_NAME, "a", encoding="utf-8") as log:
        log.write(f"{docname} {kind} {started:.3f} {ended:.3f}\n")


def last_turns(log: Path) -> dict[str, str]:
    """The log's latest line for each page, by page name."""
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return {line.split(" ", 1)[0]: line for line in lines if line.strip()}


def plan_turns(app: Sphinx, env: Any, docnames: list[str]) -> None:
    """Start this build's turn log; in a parallel read, spread the notebooks."""
    log = Path(app.doctreedir) / LOG_NAME
    past = last_turns(log)
    kept = [line for name, line in past.items() if name not in docnames]
    log.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    if app.parallel > 1 and len(docnames) > 1:
        spread_notebooks(app, env, docnames, past)
        if env.mystnb_config.execution_mode == "cache":
            jupyter_cache_tables.create_before_fork(env.mystnb_config.execution_cache_path)


def spread_notebooks(app: Sphinx, env: Any, docnames: list[str], past: dict[str, str]) -> None:
    """Reorder the pages of a parallel read so that notebooks run side by side.

    Those that share the machine first, longest first; then those that run
    alone.  How Sphinx's processes then get them is
    :mod:`workarounds.sphinx_parallel_chunks`'s business.
    """
    texts = {d: Path(env.doc2path(d)).read_text(encoding="utf-8") for d in docnames}
    notebooks = [d for d in docnames if is_notebook(texts[d])]
    known = all(d in past for d in notebooks)

    def weight(docname: str) -> float:
        if not known:
            return len(texts[docname])
        _, _, started, ended = past[docname].split()
        return float(ended) - float(started)

    notebooks.sort(key=lambda d: (runs_alone(texts[d]), -weight(d)))
    sphinx_parallel_chunks.deal(docnames, app.parallel, notebooks, weight)


def setup(app: Sphinx) -> dict[str, Any]:
    """Connect the spread and the turns to a parallel read."""
    app.connect("env-before-read-docs", plan_turns)
    app.connect("source-read", take_turn)
    app.connect("doctree-read", give_turn)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
