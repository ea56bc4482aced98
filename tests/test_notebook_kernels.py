"""The kernels that run the site's notebooks: they shut down as soon as they are asked,
and they talk to the build over Unix sockets.

Two things kept a kernel waiting at shutdown until Jupyter sent SIGTERM 2.5 s
later: multiprocessing's resource tracker, which the first spawned process starts
and which ignores the kernel's SIGTERMs to its children; and a race in ipykernel
7.4, whose control thread can wait on a flush of ``sys.stderr`` that the stopped
IOPub thread never does (it hit a quarter of the kernels started here).
The build gives its kernels a start-up file that deals with both
(docs/_ext/workarounds/ipykernel_shutdown.py).  This test starts kernels with that
profile, as a build does, and asks each one to shut down after a cell that spawned
a process and wrote to both streams.

The build also has its kernels listen on Unix sockets instead of TCP ports that
another process could take first (docs/_ext/workarounds/nbclient_unix_sockets.py).
Whether the upstream behaviours are still there is tests/test_workarounds.py's
business.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Starts kernels with the build's IPython profile and prints one line per kernel:
#: whether it exited within 5 s of the request (a hung one waits 10 s or more for
#: the flush or the tracker), and the names the notebook's namespace holds.
SHUT_DOWN_KERNELS = r"""
import sys, time
from jupyter_client.manager import start_new_kernel

sys.path.insert(0, sys.argv[1])
import schedtutor_docs

schedtutor_docs.isolate_kernels()
for _ in range(int(sys.argv[2])):
    km, kc = start_new_kernel(kernel_name="python3")
    names = []
    def keep(msg):
        if msg["msg_type"] == "execute_result":
            names.append(msg["content"]["data"]["text/plain"])
    kc.execute_interactive(
        "import multiprocessing, os, sys\n"
        "spawned = multiprocessing.get_context('spawn').Process(target=os.getpid)\n"
        "spawned.start(); spawned.join()\n"
        "print('out'); print('err', file=sys.stderr)\n"
        "' '.join(sorted(n for n in dir() if not n.startswith('_')))",
        output_hook=keep, timeout=60,
    )
    kc.shutdown()
    asked = time.monotonic()
    while km.is_alive() and time.monotonic() - asked < 5:
        time.sleep(0.02)
    exited = not km.is_alive()
    km.shutdown_kernel(now=True)
    kc.stop_channels()
    print(exited, *names, flush=True)
"""


def test_the_build_kernels_exit_when_asked(tmp_path: Path) -> None:
    """Twenty kernels with the build's profile: each exits at once, and adds no names."""
    names = ["In", "Out", "exit", "get_ipython", "multiprocessing", "open", "os", "quit"]
    names += ["spawned", "sys"]
    done = subprocess.run(
        [sys.executable, "-c", SHUT_DOWN_KERNELS, str(ROOT / "docs" / "_ext"), "20"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 20, done.stdout
    hung = [line for line in lines if not line.startswith("True ")]
    assert not hung, f"{len(hung)} of 20 kernels did not exit within 5 s: {hung}"
    # the start-up file cleans up after itself: a notebook sees only its own names
    assert set(lines) == {f"True '{' '.join(names)}'"}, lines


#: Runs a notebook the way the build does (nbclient, through jupyter-cache) after
#: the build's set-up, and prints what its kernel reports of its connection: the
#: transport, and whether its five sockets are files, in one folder, named by an absolute path.
KERNEL_SOCKETS = r"""
import sys
import nbformat
from jupyter_cache.executors.utils import single_nb_execution

sys.path.insert(0, sys.argv[1])
import schedtutor_docs

schedtutor_docs.prepare_kernels()
notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    "import os\n"
    "from ipykernel.connect import get_connection_info\n"
    "info = get_connection_info(unpack=True)\n"
    "sockets = [f\"{info['ip']}-{info[name]}\" for name in info if name.endswith('_port')]\n"
    "print(info['transport'], len(sockets), all(os.path.exists(s) for s in sockets),\n"
    "      len({os.path.dirname(s) for s in sockets}), os.path.isabs(info['ip']))"
)])
result = single_nb_execution(notebook, cwd=".", timeout=120, allow_errors=False)
assert result.err is None, result.err
print(notebook.cells[0].outputs[0]["text"].strip())
"""


def test_the_build_kernels_talk_over_unix_sockets(tmp_path: Path) -> None:
    """A build's kernel uses five Unix sockets of its own, not TCP ports chosen in advance.

    jupyter_client picks TCP ports for a kernel before the kernel binds them, so
    another process can take one in between (it did, in a parallel build).
    """
    done = subprocess.run(
        [sys.executable, "-c", KERNEL_SOCKETS, str(ROOT / "docs" / "_ext")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # transport, sockets, all present, in one folder, named by an absolute path
    assert done.stdout.strip() == "ipc 5 True 1 True", done.stdout
