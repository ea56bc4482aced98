"""Workaround: a parallel read starts with the notebooks, dealt out to its processes.

Sphinx (8.0 to 9.0) reads a parallel build (``-j N``) in chunks: its private
``Builder._read_parallel`` cuts the list of pages to read, in the order the
``env-before-read-docs`` event leaves it, into contiguous slices with
``sphinx.util.parallel.make_chunks``, and reads each slice in one forked
process, N at a time, in order.  Sorted by name, the tutorials would all land
in one slice and run one after the other anyway.  Sphinx has no public way to
say which pages go together, so :func:`deal` reorders the list in that event
such that ``make_chunks`` cuts it into the slices wanted: the pages given
first, dealt out to the slices that start first, each onto the least loaded;
then the others.

**Written for** Sphinx 8.0 to 9.0 (``make_chunks`` and ``_read_parallel`` are
the same in both).  **When it can go, or must change:**
``tests/test_workarounds.py::TestSphinxParallelChunks`` builds a throwaway site
with ``-j 2`` and checks that each process read one contiguous slice of the
list, as ``make_chunks`` cuts it.  When Sphinx hands pages to its processes
another way (a queue, say), that test fails: the order this sets then means
nothing, and ``docs/_ext/parallel_notebooks.py`` must find another way, or
none may be needed.
"""

from __future__ import annotations

from collections.abc import Callable

from . import record

WORKAROUND = record("sphinx-parallel-chunks", "sphinx", ">=8.0,<9.1", __file__)


def chunk_sizes(count: int, nproc: int) -> list[int]:
    """The sizes of the slices Sphinx cuts ``count`` pages into for ``nproc`` processes."""
    from sphinx.util.parallel import make_chunks

    return [len(chunk) for chunk in make_chunks([str(i) for i in range(count)], nproc)]


def deal(docnames: list[str], nproc: int, first: list[str], weight: Callable[[str], float]) -> bool:
    """Reorder ``docnames`` in place so that Sphinx reads ``first`` at the start, spread out.

    ``first`` (a subset of ``docnames``) is dealt out in its own order, each page
    to the slice that starts first and has the least ``weight`` so far; the
    other pages fill the slices up.  Return whether it reordered anything: not
    when the gate does not allow it.
    """
    if not WORKAROUND.gate():
        return False
    sizes = chunk_sizes(len(docnames), nproc)
    starting = min(nproc, len(sizes))  # the slices that start at once
    chunks: list[list[str]] = [[] for _ in sizes]
    load = [0.0] * len(sizes)
    for docname in first:
        free = [k for k in range(len(sizes)) if len(chunks[k]) < sizes[k]]
        i = min([k for k in free if k < starting] or free, key=lambda k: (load[k], k))
        chunks[i].append(docname)
        load[i] += weight(docname)
    chosen = set(first)
    others = [d for d in docnames if d not in chosen]
    for i, size in enumerate(sizes):
        while len(chunks[i]) < size:
            chunks[i].append(others.pop(0))
    docnames[:] = [d for chunk in chunks for d in chunk]
    return True
