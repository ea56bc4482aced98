"""A graph of your own, for ``schedtutor compare --graph`` and ``schedtutor predict --graph``.

Four pages are fetched (here: a wait, as a download is), the words of each
are counted, and the counts are added up::

    schedtutor compare --graph examples/my_graph.py:word_count \\
        --scheduler sync --scheduler threads --json

``word_count`` takes no arguments and returns a Dask collection: that is all
``--graph`` asks of ``NAME``.  (``NAME`` may also be a collection itself.)
Nothing here runs when the command imports the file, and no
``if __name__ == "__main__":`` guard is needed: the command imports the file
under another name, and its worker processes never import it at all -- the
functions travel to them by value.
"""

from __future__ import annotations

import time

import dask
from dask.delayed import Delayed

PAGES = 4
WAIT = 0.05  # seconds each download waits


def fetch(page: int) -> str:
    """Download a page (here: wait, as downloads do; make its text up)."""
    time.sleep(WAIT)
    return " ".join(f"word{page}-{i}" for i in range(100 * (page + 1)))


def count_words(text: str) -> int:
    """Count the words of one page."""
    return len(text.split())


def total(counts: list[int]) -> int:
    """Add the counts up."""
    return sum(counts)


def word_count() -> Delayed:
    """Return the graph: fetch each page, count its words, add up."""
    pages = [dask.delayed(fetch)(page) for page in range(PAGES)]
    counts = [dask.delayed(count_words)(text) for text in pages]
    return dask.delayed(total)(counts)
