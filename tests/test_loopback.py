"""Loopback only: every cluster the library or the docs start listens on 127.0.0.1.

The sockets are listed from the operating system (psutil) for this process and
all its descendants while a computation runs -- the scheduler, the workers,
their web servers and the dashboard -- not taken from what Dask reports.
"""

from __future__ import annotations

import copy
import re
import urllib.error
import urllib.request

import dask
import psutil
import pytest

from schedtutor import compare, local_cluster, slow_arithmetic, use
from schedtutor.ops import EXPECTED_RESULT
from tests.conftest import ROOT, listening


def everything() -> set[int]:
    """Return the pids of this process and all its descendants."""
    me = psutil.Process()
    return {me.pid, *(c.pid for c in me.children(recursive=True))}


def http_status(url: str) -> int:
    """Return the HTTP status of a GET of ``url``."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


class TestLocalCluster:
    @pytest.mark.parametrize("dashboard", [True, False], ids=["dashboard", "no-dashboard"])
    @pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
    def test_every_listener_is_on_loopback(
        self, processes: bool, dashboard: bool, no_leaks: None
    ) -> None:
        """During a run, all the cluster's listening sockets are bound to 127.0.0.1."""
        before = set(listening(everything()))
        with local_cluster(n_workers=2, processes=processes, dashboard=dashboard) as client:
            future = client.compute(slow_arithmetic(delay=0.3))
            during = set(listening(everything())) - before
            assert future.result() == EXPECTED_RESULT
            web = client.scheduler_info()["services"]["dashboard"]
        # a scheduler, its web server and two workers at the least
        assert len(during) >= 4, during
        assert {ip for _, ip, _ in during} == {"127.0.0.1"}, during
        if processes:  # the worker processes listen too, each on loopback
            assert len({pid for pid, _, _ in during}) == 3, during
        assert web in {port for _, _, port in during}

    @pytest.mark.parametrize("dashboard", [True, False], ids=["dashboard", "no-dashboard"])
    def test_dashboard_only_when_asked(self, dashboard: bool, no_leaks: None) -> None:
        """The dashboard is served on 127.0.0.1 with dashboard=True, and not at all without."""
        with local_cluster(n_workers=1, processes=False, dashboard=dashboard) as client:
            port = client.scheduler_info()["services"]["dashboard"]
            assert port != 8787  # a free port, never Dask's fixed default
            status = http_status(f"http://127.0.0.1:{port}/status")
            assert http_status(f"http://127.0.0.1:{port}/health") == 200
        assert status == (200 if dashboard else 404)

    def test_leaves_dasks_config_as_it_was(self, no_leaks: None) -> None:
        """Starting a cluster with a dashboard changes nothing in Dask's configuration."""
        before = copy.deepcopy(dask.config.config)
        with local_cluster(n_workers=1, processes=False, dashboard=True):
            pass
        assert dask.config.config == before

    def test_compare_and_use_start_clusters_on_loopback(self, no_leaks: None) -> None:
        """The clusters compare() and use() start for themselves listen on 127.0.0.1 too."""
        before = set(listening(everything()))
        seen: set[tuple[int, str, int]] = set()
        with use("distributed", n_workers=2) as opened:
            future = opened.client.compute(slow_arithmetic(delay=0.2))
            seen |= set(listening(everything())) - before
            future.result()
        table = compare(slow_arithmetic(delay=0.01), [("distributed", {"n_workers": 1})], repeat=1)
        assert table["distributed"].runs[0].result == EXPECTED_RESULT
        assert seen and {ip for _, ip, _ in seen} == {"127.0.0.1"}, seen


def open_to_the_network(text: str) -> list[str]:
    """Return the lines of ``text`` that would start a cluster listening beyond 127.0.0.1.

    ``LocalCluster(...)`` and a bare ``Client()`` use Dask's defaults, whose
    dashboard listens on every interface (pages use ``schedtutor.local_cluster``
    instead).  A ``dask scheduler`` or ``dask worker`` command needs
    ``--dashboard-address 127.0.0.1:...`` as well as ``--host 127.0.0.1``: their
    web servers ignore ``--host``.  A bare name in inline code (`` `dask worker` ``),
    with no options, names the tool and starts nothing.
    """
    found = []
    for line in text.splitlines():
        if re.search(r"LocalCluster\(|Client\(\s*\)", line):
            found.append(line.strip())
        elif re.search(r"dask[ -](scheduler|worker)\b(?!`)", line) and not (
            "--host 127.0.0.1" in line and "--dashboard-address 127.0.0.1" in line
        ):
            found.append(line.strip())
    return found


class TestDocs:
    def test_docs_start_clusters_only_on_loopback(self) -> None:
        """No page shows code or a command that starts a cluster listening beyond 127.0.0.1."""
        offenders = {
            str(page.relative_to(ROOT)): open_to_the_network(page.read_text())
            for page in sorted((ROOT / "docs").rglob("*.md"))
        }
        assert not {page: lines for page, lines in offenders.items() if lines}

    def test_the_check_knows_an_open_dashboard(self) -> None:
        """The check flags Dask's defaults and --host alone, and passes a pinned dashboard."""
        text = (
            "$ dask scheduler --host 127.0.0.1\n"
            "client = Client()\n"
            "cluster = LocalCluster(n_workers=2)\n"
            "$ dask scheduler --host 127.0.0.1 --dashboard-address 127.0.0.1:8787\n"
            "with schedtutor.local_cluster(n_workers=2) as client:\n"
            "Dask's command-line tools, `dask scheduler` and `dask worker`, ...\n"
            "$ dask worker tcp://127.0.0.1:8786\n"
        )
        assert len(open_to_the_network(text)) == 4
