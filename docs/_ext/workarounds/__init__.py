"""Every workaround the site build makes for someone else's bug or private API, in one place.

Each module of this package works around one behaviour of one third-party
package, and nothing else in ``docs/_ext`` or ``conf.py`` patches a third-party
package.  Each says, in its :data:`Workaround` record ``WORKAROUND``:

* which package it works around, and the versions it was written for (a PEP 440
  specifier).  The installed version is read with :mod:`importlib.metadata`
  before the workaround is applied; outside those versions it is not applied,
  and the build says so in one line of its log;
* in its docstring, what the upstream behaviour is and how to tell that the
  workaround can go.

``tests/test_workarounds.py`` has two tests for each: one that runs the
upstream package *without* the workaround and fails when the behaviour it works
around has changed (then the workaround may go), and one that fails when the
locked version (``requirements/lock.txt``) leaves the versions it was written
for (then check the first, and widen the range or remove the workaround).

The workarounds, by module (the package and versions each was written for):

:mod:`.ipykernel_shutdown` (ipykernel 7.4)
    A kernel asked to shut down waits for multiprocessing's resource tracker,
    and can hang on a race between its threads.
:mod:`.nbclient_unix_sockets` (nbclient 0.10 and 0.11)
    jupyter_client picks a kernel's TCP ports before the kernel binds them,
    and nbclient has no public way to choose another transport.
:mod:`.sphinx_parallel_chunks` (Sphinx 8.0 to 9.0)
    A parallel read splits the pages into contiguous chunks, in the order
    given, and offers no other way to say which pages go together.
:mod:`.jupyter_cache_tables` (jupyter-cache 1.0)
    Two processes that open a new cache at once both create its tables.
:mod:`.autodoc_typehints_deprecation` (sphinx-autodoc-typehints 3.6)
    It calls a Sphinx API deprecated in Sphinx 9: a warning per documented
    function in the build log.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.specifiers import SpecifierSet
from sphinx.util import logging

__all__ = ["Workaround", "everything", "record"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Workaround:
    """A workaround for one package's behaviour, and the versions it was written for."""

    name: str
    """What it is called in the build's log and in the tests."""
    package: str
    """The distribution whose behaviour it works around (as ``pip`` names it)."""
    versions: str
    """The versions it was written for, as a PEP 440 specifier (``>=7.4,<7.5``)."""
    module: str
    """The file that holds it, relative to the repository."""

    def installed(self) -> str | None:
        """Return the installed version of :attr:`package`, or None if it is not installed."""
        try:
            return version(self.package)
        except PackageNotFoundError:
            return None

    def applies(self) -> bool:
        """Whether the installed version is one of those the workaround was written for."""
        found = self.installed()
        return found is not None and SpecifierSet(self.versions).contains(found, prereleases=True)

    def why_not(self) -> str:
        """One line: why the workaround is not applied (see :meth:`applies`)."""
        found = self.installed()
        where = f"{self.package} {found}" if found else f"no {self.package}"
        return (
            f"schedtutor: workaround {self.name!r} ({self.module}) not applied: written for "
            f"{self.package}{self.versions}, found {where}; tests/test_workarounds.py says "
            "whether it is still needed"
        )

    def gate(self) -> bool:
        """Return :meth:`applies`; when it is false, say why in the build's log."""
        if self.applies():
            return True
        logger.info(self.why_not())
        return False


def record(name: str, package: str, versions: str, file: str) -> Workaround:
    """Return the :class:`Workaround` record of the module ``file`` (its ``__file__``)."""
    return Workaround(name, package, versions, f"docs/_ext/workarounds/{Path(file).name}")


def everything() -> tuple[Workaround, ...]:
    """Return the record of every workaround of this package."""
    from . import (
        autodoc_typehints_deprecation,
        ipykernel_shutdown,
        jupyter_cache_tables,
        nbclient_unix_sockets,
        sphinx_parallel_chunks,
    )

    return (
        ipykernel_shutdown.WORKAROUND,
        nbclient_unix_sockets.WORKAROUND,
        sphinx_parallel_chunks.WORKAROUND,
        jupyter_cache_tables.WORKAROUND,
        autodoc_typehints_deprecation.WORKAROUND,
    )
