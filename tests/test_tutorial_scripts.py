"""Each tutorial's visible code, in order, runs as a plain Python script.

A reader who copies the code they see on a tutorial page into a file, cell by
cell, gets a script that runs: no visible cell uses a name only a hidden cell
defines, or a notebook-only feature.  Each script runs in a fresh interpreter,
at a small delay, under the ``if __name__ == "__main__":`` guard that any
script starting worker processes needs (cells shown failing on purpose are
left out).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from schedtutor import settings
from tests.conftest import the_builds_free_threaded_python
from tests.notebook_cells import as_script, code_cells

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("[0-9][0-9]-*.md"))

#: The delay the scripts run at: short, as a reader trying them out would choose.
SCRIPT_DELAY = "0.1"


class TestScriptExtraction:
    def test_visible_cells_in_order_failing_ones_out(self) -> None:
        """Hidden cells and cells that fail on purpose are left out; the rest keep their order."""
        text = (
            "```{code-cell} ipython3\nx = 1\n```\n\n"
            "```{code-cell} ipython3\n:tags: [remove-cell]\nhidden = 2\n```\n\n"
            "```{code-cell} ipython3\n:tags: [raises-exception]\n1 / 0\n```\n\n"
            "```{code-cell} ipython3\n:tags: [hide-output]\nprint(x)\n```\n"
        )
        assert [c.tags for c in code_cells(text)][1] == frozenset({"remove-cell"})
        assert as_script(text) == 'if __name__ == "__main__":\n    x = 1\n\n    print(x)\n'


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.stem)
def test_visible_code_runs_as_a_script(tutorial: Path, tmp_path: Path) -> None:
    """The tutorial's visible code, saved as a script, runs to the end in a fresh Python."""
    script = tmp_path / f"{tutorial.stem.replace('-', '_')}.py"
    script.write_text(as_script(tutorial.read_text(encoding="utf-8")), encoding="utf-8")
    env = {**os.environ, "SCHEDTUTOR_DELAY": SCRIPT_DELAY, "MPLBACKEND": "Agg"}
    free_threaded = the_builds_free_threaded_python()  # lesson 3 runs its tasks in one
    if free_threaded:
        env[settings.FREE_THREADED_PYTHON] = free_threaded
    done = subprocess.run(
        [sys.executable, script.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    last = (done.stderr.strip().splitlines() or [""])[-1]
    assert done.returncode == 0, f"{tutorial.name} stopped: {last}\n{done.stderr[-3000:]}"
