"""Workaround: the build's notebook kernels talk to it over Unix sockets, not TCP ports.

jupyter_client (8.10) picks a kernel's five TCP ports by binding to port 0 and
closing the socket again, writes them to the connection file, and the kernel
binds them a moment later.  Anything else on the machine can take one of them
in between: a kernel starting at the same time in the other process of a
parallel build, or a Dask cluster of the notebook running beside it.  The
kernel then fails to bind ("Address already in use"), or two kernels cross
their messages (jupyter_client issue 487; one parallel build in three met it
here).  A Unix socket is a file named after its kernel, so nothing else can
take it.

nbclient, which runs the notebooks for myst-nb (through jupyter-cache), makes
each notebook's kernel manager from its ``kernel_manager_class`` trait and has
no public way to set it from outside; its default comes from the private
method ``NotebookClient._kernel_manager_class_default``.  :func:`apply` replaces
that method, so that the default is a subclass of jupyter_client's
``AsyncKernelManager`` that says ``transport = "ipc"`` and puts the sockets in a
folder of the build.  Where Unix sockets do not exist (Windows) kernels keep
TCP; Sphinx builds serially there.

**Written for** nbclient 0.10 and 0.11.  **When it can go:**
``tests/test_workarounds.py::TestNbclientUnixSockets`` checks that the private
default is still where this replaces it, and that a TCP port jupyter_client
picked for a kernel can still be taken before the kernel starts (the kernel
then never answers).  When that second test fails, jupyter_client no longer
hands out ports in advance and this workaround can go; when the first fails,
nbclient has changed how it makes its kernel manager and this one must change.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from . import record

WORKAROUND = record("nbclient-unix-sockets", "nbclient", ">=0.10,<0.12", __file__)


def unix_socket_kernel_manager(folder: Path) -> type[Any]:
    """Return a kernel manager class whose kernels listen on Unix sockets in ``folder``."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class UnixSocketKernelManager(AsyncKernelManager):
        """A kernel manager whose kernel listens on Unix sockets of its own."""

        @default("transport")
        def _transport_default(self) -> str:
            return "ipc"

        @default("ip")
        def _ip_default(self) -> str:
            # the sockets are this path plus "-1" ... "-5"; short, for macOS's limit
            return str(folder / f"kernel-{uuid.uuid4().hex[:8]}")

    return UnixSocketKernelManager


def apply(folder: Path) -> bool:
    """Make nbclient's kernels use Unix sockets in ``folder``, if the gate allows.

    Return whether it did (never on Windows).
    """
    if os.name != "posix" or not WORKAROUND.gate():
        return False
    from nbclient import NotebookClient

    manager = unix_socket_kernel_manager(folder)

    def _kernel_manager_class_default(client: NotebookClient) -> type[Any]:
        return manager

    # traitlets looks a dynamic default up by this name on the class itself.
    setattr(NotebookClient, "_kernel_manager_class_default", _kernel_manager_class_default)  # noqa: B010
    return True
