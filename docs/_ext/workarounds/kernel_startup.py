"""An IPython start-up file: the notebook kernel exits as soon as the build asks it to.

This module is not imported by the build.  :mod:`ipykernel_shutdown` copies it
into the ``startup/`` folder of the kernels' temporary IPython profile, and
IPython runs it in each kernel's user namespace before the notebook's first
cell; there ``__name__`` is ``"__main__"`` and ``get_ipython`` is defined.  It
patches the kernel's ``do_shutdown`` (see :mod:`ipykernel_shutdown` for why),
then deletes the names it defined, so that the notebook sees only its own.  For
the same reason it has no ``from __future__ import annotations``: that import
binds a name too.
"""

from typing import Any


def shut_down_at_once(kernel: Any) -> None:
    """Make ``kernel``'s ``do_shutdown`` end its process as soon as it has replied.

    After the kernel's own ``do_shutdown``: close multiprocessing's resource
    tracker (a helper process that ignores the SIGTERMs ipykernel sends its
    children), hand the real ``sys.stdout`` and ``sys.stderr`` back (so that no
    thread flushes into the IOPub thread the main thread is stopping), and
    start a timer that ends the process one second later if it is still there.
    """
    import os
    import sys
    import threading
    from multiprocessing import resource_tracker

    do_shutdown = kernel.do_shutdown

    def shut_down(restart: bool) -> Any:
        reply = do_shutdown(restart)
        getattr(resource_tracker._resource_tracker, "_stop", lambda: None)()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        backstop = threading.Timer(1.0, os._exit, (0,))
        backstop.daemon = True
        backstop.start()
        return reply

    kernel.do_shutdown = shut_down


if __name__ == "__main__" and "get_ipython" in globals():
    shut_down_at_once(globals()["get_ipython"]().kernel)
    del Any, shut_down_at_once
