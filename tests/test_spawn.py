"""Tests for schedtutor._spawn: what a spawned worker pays for this program and this graph."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from dask.delayed import Delayed

from schedtutor import _spawn, predict, slow_arithmetic
from schedtutor._base import materialize
from schedtutor.calibration import DEFAULT_COSTS
from tests.conftest import ROOT


def _modules(obj: Delayed) -> frozenset[str]:
    return _spawn.modules(materialize(obj)[0])


class TestModules:
    def test_the_library_ops(self) -> None:
        """The old lesson's graph needs the module of the library's task functions only."""
        assert _modules(slow_arithmetic(delay=0)) == {"schedtutor._work"}

    def test_functions_and_arguments(self) -> None:
        """A task's function's module and its arguments' types' modules count; builtins do not."""
        graph = Delayed("x", {"x": (textwrap.dedent, np.arange(3))})
        assert _modules(graph) == {"textwrap", "numpy"}


class TestExtra:
    def test_a_module_to_import_costs_start_up(self) -> None:
        """A module the calibration's workers do not import adds to a worker's start-up."""
        start, stop = _spawn.extra(frozenset({"xml.dom.minidom", "email.mime.multipart"}))
        bare_start, _ = _spawn.extra(frozenset())
        assert start > bare_start >= 0 and stop >= 0

    def test_it_sees_whether_numpy_is_imported_before_the_first_task(self) -> None:
        """A module that imports NumPy at its top level leaves nothing for NumPy work to import."""
        assert not _spawn.has_numpy(frozenset({"schedtutor._work"}))
        assert _spawn.has_numpy(frozenset({"schedtutor._work", "numpy.linalg"}))

    def test_it_is_measured_once(self) -> None:
        """The same program and modules are probed once in a process."""
        names = frozenset({"json"})
        first = _spawn.extra(names)
        assert _spawn.extra(names) is first

    def test_a_heavy_main_module_is_seen(self, tmp_path: Path) -> None:
        """A script whose top level imports a lot makes each worker import it too, and is predicted.

        The script predicts the processes scheduler at its top level, without
        the ``__main__`` guard: the probe runs that top level as a worker would,
        and neither probes again nor starts processes there.
        """
        script = tmp_path / "heavy.py"
        script.write_text(
            textwrap.dedent(
                """
                import xml.dom.minidom, email.mime.multipart, http.server, unittest.mock
                from schedtutor import predict, slow_arithmetic
                from schedtutor.calibration import DEFAULT_COSTS
                graph = slow_arithmetic(delay=0.1)
                print(predict(graph, "processes", costs=DEFAULT_COSTS).spans[0].start)
                """
            )
        )
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.split()
        assert len(lines) == 1, done.stdout  # the probe's own run printed nothing here
        bare = predict(slow_arithmetic(delay=0.1), "processes", costs=DEFAULT_COSTS)
        assert float(lines[0]) > bare.spans[0].start, (lines, bare)
