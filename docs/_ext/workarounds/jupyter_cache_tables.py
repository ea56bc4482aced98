"""Workaround: jupyter-cache's database is created before a parallel build's processes start.

In cache mode (``SCHEDTUTOR_EXECUTION=cache``) myst-nb keeps executed
notebooks in a jupyter-cache database.  jupyter-cache 1.0 creates it when it
first opens it: if the file ``global.db`` does not exist yet, it runs
SQLAlchemy's ``create_all`` with plain ``CREATE TABLE`` statements.  In a
parallel build (``-j 2``) the read processes each find no database and create
its tables at the same time, and all but one fail ("table settings already
exists").  :func:`create_before_fork` opens the cache once in the main
process before they start; once the tables exist, SQLite's own locking lets the
processes add their notebooks side by side.

**Written for** jupyter-cache 1.0.  **When it can go:**
``tests/test_workarounds.py::TestJupyterCacheTables`` opens a new cache and
records the SQL it runs; when its tables are no longer created with a plain
``CREATE TABLE`` after a check of the file (``CREATE TABLE IF NOT EXISTS``, or
a lock), two processes can create it at once and this workaround can go.
"""

from __future__ import annotations

from pathlib import Path

from . import record

WORKAROUND = record("jupyter-cache-tables", "jupyter-cache", ">=1.0,<1.1", __file__)


def create_before_fork(path: str | Path) -> bool:
    """Create the jupyter-cache database in ``path`` now, if the gate allows; return whether.

    No connection is kept open: the processes forked after this make their own.
    """
    if not WORKAROUND.gate():
        return False
    from jupyter_cache import get_cache

    get_cache(path).db.dispose()
    return True
