"""The kernels that run the site's notebooks shut down as soon as they are asked.

ipykernel 7.4 can hang at shutdown: the thread that answered the request flushes
``sys.stderr`` just as the IOPub thread stops, and waits for a flush that never
comes, until Jupyter sends SIGTERM 2.5 s later.  Without a workaround it hit a
quarter of the kernels started here.  docs/_ext/schedtutor_docs.py gives the
build's kernels a start-up file that hands the real streams back once shutdown is
agreed.  These tests start kernels with that profile, as a build does, and ask
each one to shut down after a cell that wrote to both streams.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Starts kernels with the build's IPython profile and prints one line per kernel:
#: whether it exited within 2 s of the request (a hung one waits 10 s or a SIGTERM),
#: and the names the start-up file left in the notebook's namespace.
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
        "import sys; print('out'); print('err', file=sys.stderr); "
        "sorted(n for n in dir() if not n.startswith('_'))",
        output_hook=keep, timeout=60,
    )
    kc.shutdown()
    asked = time.monotonic()
    while km.is_alive() and time.monotonic() - asked < 2:
        time.sleep(0.02)
    exited = not km.is_alive()
    km.shutdown_kernel(now=True)
    kc.stop_channels()
    print(exited, *names, flush=True)
"""


def test_the_build_kernels_exit_when_asked(tmp_path: Path) -> None:
    """Twenty kernels with the build's profile: each exits at once, and adds no names."""
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
    assert not hung, f"{len(hung)} of 20 kernels did not exit within 2 s: {hung}"
    # the start-up file cleans up after itself: a notebook sees only its own names
    assert set(lines) == {"True ['In', 'Out', 'exit', 'get_ipython', 'open', 'quit', 'sys']"}
