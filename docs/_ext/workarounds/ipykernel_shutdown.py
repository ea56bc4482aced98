"""Workaround: the build's notebook kernels exit as soon as they are asked to.

When myst-nb has run a notebook it asks the kernel to shut down, and Jupyter
waits up to 2.5 s for it to exit before it sends SIGTERM.  Two things in
ipykernel 7.4 kept most kernels of the build waiting those 2.5 s, or for ever:

* **multiprocessing's resource tracker.**  The first process a notebook spawns
  (a Dask processes pool, a local cluster) starts this helper, which ignores
  SIGTERM; ipykernel's shutdown signals the kernel's children again and again
  until they are gone, and the tracker never goes.  Closing its pipe (what the
  kernel's own exit would do) ends it at once.  Most kernels that spawned a
  process never exit on their own (eight of eight in a row here; now and then
  one does).
* **a race between the kernel's threads.**  The control thread that answered
  the shutdown request goes on to flush ``sys.stderr`` and to publish its
  status just as the main thread stops the IOPub thread, and then waits for
  ever on a thread that is gone.  The flush hung in one kernel of four to
  eight here, the status in about one of 200.

The kernels get an IPython start-up file, :mod:`kernel_startup` (a real module,
copied into their profile by :func:`install`), that wraps ``do_shutdown``:
after the reply it closes the tracker, hands the real streams back to the
kernel (once it has agreed to shut down it has nothing more to say), and ends
the process one second later if it is still there, as abruptly as Jupyter's
SIGTERM would have 1.5 s later.

**Written for** ipykernel 7.4.  **When it can go:**
``tests/test_workarounds.py::TestIpykernelShutdown::test_a_kernel_that_spawned_a_process_still_waits``
starts kernels *without* it; once a kernel that spawned a process exits by
itself within a few seconds of the request, ipykernel no longer waits for the
tracker, and the remaining race can be checked with
``tests/test_notebook_kernels.py`` run without the start-up file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from . import record

WORKAROUND = record("ipykernel-shutdown", "ipykernel", ">=7.4,<7.5", __file__)

#: The start-up file, a real module of this package.
STARTUP = Path(__file__).with_name("kernel_startup.py")

#: Its name in the profile's ``startup/`` folder.
STARTUP_NAME = "50-shut-down-at-once.py"


def install(profile: Path) -> bool:
    """Put the start-up file into the IPython profile folder ``profile``, if the gate allows.

    Return whether it did.  ``profile`` is a ``profile_default`` folder (it gets
    a ``startup/`` folder if it has none).
    """
    if not WORKAROUND.gate():
        return False
    startup = profile / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(STARTUP, startup / STARTUP_NAME)
    return True
