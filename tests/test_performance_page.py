"""The "How fast is this?" page reads the last benchmark run by figure name.

``benchmarks/bench.py`` changes as the benchmark grows; the page must say, in one
line, which figure it needs that the results do not have, rather than fail deep
inside a cell or show a table with a hole in it.  The test builds the page alone
in a throwaway site (:func:`tests.conftest.build_pages`) against a copy of the
committed results with one figure taken out (``SCHEDTUTOR_BENCHMARKS`` points the
page at it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, build_pages

PAGE = ROOT / "docs" / "reference" / "performance.md"
RESULTS = ROOT / "benchmarks"


@pytest.mark.docs
class TestPerformancePage:
    def test_a_missing_figure_stops_the_page_with_one_line_naming_it(self, tmp_path: Path) -> None:
        """Without the serial build's figure, the build's last line names it and what to do."""
        folder = tmp_path / "results"
        shutil.copytree(RESULTS, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        data = json.loads((folder / "last-run.json").read_text(encoding="utf-8"))
        data["rows"] = [row for row in data["rows"] if row["figure"] != "fresh build, serial"]
        (folder / "last-run.json").write_text(json.dumps(data), encoding="utf-8")
        site = tmp_path / "site"
        site.mkdir()
        done = build_pages(
            site,
            {"performance": PAGE.read_text(encoding="utf-8")},
            env={"SCHEDTUTOR_BENCHMARKS": str(folder), "SCHEDTUTOR_DELAY": "0.2"},
            strict=False,
        )
        assert done.returncode != 0
        last = done.stderr.strip().splitlines()[-1]
        assert last == (
            "error: the notebook source/performance.md failed: LookupError: "
            "benchmarks/last-run.json has no figure 'fresh build, serial': run make bench, "
            "or change what docs/reference/performance.md reads"
        ), done.stderr[-3000:]
