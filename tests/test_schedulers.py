"""Tests for schedtutor.schedulers: names, options, and opening and closing schedulers."""

from __future__ import annotations

import subprocess
import sys

import dask
import pytest
from dask.base import named_schedulers

from schedtutor import aliases, local_cluster, resolve, slow_arithmetic, use
from schedtutor.schedulers import CANONICAL, check_options, open_scheduler


def in_fresh_python(script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter (distributed not yet imported); it must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


class TestResolve:
    @pytest.mark.parametrize("name", sorted(named_schedulers))
    def test_every_dask_alias_resolves(self, name: str) -> None:
        """Every name in Dask's own table resolves to a canonical name that runs the same get."""
        canonical = resolve(name)
        assert canonical in CANONICAL
        assert named_schedulers[canonical] is named_schedulers[name]

    def test_table_is_dasks_plus_distributed(self) -> None:
        """The accepted names are exactly Dask's table plus the two distributed names."""
        assert set(aliases()) == set(named_schedulers) | {"distributed", "dask.distributed"}

    @pytest.mark.parametrize(
        ("name", "expected"),
        [("SYNC", "sync"), (" Threading ", "threads"), ("dask.distributed", "distributed")],
    )
    def test_case_and_spaces_are_ignored(self, name: str, expected: str) -> None:
        """Names are matched case-insensitively, as Dask lower-cases them."""
        assert resolve(name) == expected

    @pytest.mark.parametrize("name", ["thread", "process", "dask", ""])
    def test_unknown_names_list_every_accepted_name(self, name: str) -> None:
        """An unknown name is refused with the whole list of accepted names."""
        with pytest.raises(ValueError) as error:
            resolve(name)
        for accepted in aliases():
            assert accepted in str(error.value)


class TestOptions:
    def test_chunksize_only_for_pools(self) -> None:
        """chunksize is refused by the sync and distributed schedulers."""
        check_options("processes", {"chunksize": 1})
        for name in ("sync", "distributed"):
            with pytest.raises(ValueError, match="does not apply"):
                check_options(name, {"chunksize": 1})

    @pytest.mark.parametrize("value", [0, -1, 1.5, "2", True])
    def test_chunksize_must_be_positive_whole(self, value: object) -> None:
        """chunksize <= 0 (Dask crashes on -1) and non-integers are refused."""
        with pytest.raises(ValueError, match="chunksize must be a whole number >= 1"):
            check_options("processes", {"chunksize": value})

    def test_cluster_and_address_are_exclusive(self) -> None:
        """A cluster to start and an address to use cannot be given together."""
        with pytest.raises(ValueError, match="not address and n_workers"):
            check_options("distributed", {"address": "tcp://127.0.0.1:8786", "n_workers": 2})

    @pytest.mark.parametrize("address", ["localhost", "tcp://127.0.0.1", "http://x:1", 8786])
    def test_malformed_addresses(self, address: object) -> None:
        """An address that is not host:port is refused before any connection is tried."""
        with pytest.raises(ValueError, match="malformed scheduler address"):
            check_options("distributed", {"address": address})


class TestUse:
    def test_sets_and_restores_dasks_default(self) -> None:
        """Inside the block Dask's configured scheduler is the chosen one; after, it is not."""
        before = dask.config.get("scheduler", None)
        with use("multiprocessing", chunksize=1):
            assert dask.config.get("scheduler") == "processes"
            assert dask.config.get("chunksize") == 1
        assert dask.config.get("scheduler", None) == before

    def test_distributed_starts_and_closes_a_cluster(self, no_leaks: None) -> None:
        """use('distributed') computes on a local cluster and closes it afterwards."""
        with use("distributed", n_workers=1, processes=False) as opened:
            assert slow_arithmetic(delay=0).compute() == -2.2857142857142856
            assert opened.client.status == "running"
        assert opened.client.status == "closed"


class TestLocalCluster:
    def test_binds_loopback_and_closes(self, no_leaks: None) -> None:
        """The cluster's scheduler and workers listen on 127.0.0.1, and all close at the end."""
        with local_cluster(n_workers=2, threads_per_worker=1) as client:
            assert client.scheduler.address.startswith("tcp://127.0.0.1:")
            workers = client.nthreads()
            assert len(workers) == 2
            assert all(w.startswith("tcp://127.0.0.1:") for w in workers)
        assert client.status == "closed"

    def test_existing_client_is_used_not_closed(self, no_leaks: None) -> None:
        """open_scheduler with client= computes there and leaves the client open."""
        with local_cluster(n_workers=1, processes=False) as client:
            with open_scheduler("distributed", client=client) as opened:
                assert opened.compute(slow_arithmetic(delay=0)) == -2.2857142857142856
            assert client.status == "running"

    def test_a_closed_clusters_late_log_lines_stay_silent(self) -> None:
        """What Dask logs about a closed local cluster prints nothing; about others, it prints.

        A comm of a closed cluster can log once more after the cluster put the
        log levels back (lesson 5 once published ``distributed.batched - INFO -
        Batched Comm Closed <TCP (closed) local=tcp://127.0.0.1:...>`` with a
        traceback).  The race is rare, so the late line is logged here by hand,
        through distributed's own handler, in a fresh interpreter.
        """
        script = (
            "import logging, schedtutor\n"
            "with schedtutor.local_cluster(n_workers=1, processes=False) as client:\n"
            "    ours = [client.scheduler.address, *client.scheduler_info()['workers']]\n"
            "late = logging.getLogger('distributed.batched')\n"
            "for address in ours:\n"
            "    late.info('Batched Comm Closed <TCP (closed) local=%s>', address)\n"
            "late.info('Batched Comm Closed <TCP (closed) local=tcp://127.0.0.1:1>')\n"
            "late.critical('about %s', ours[0])\n"
        )
        lines = in_fresh_python(script).stderr.strip().splitlines()
        assert len(lines) == 2, lines  # the other address, and the critical one
        assert lines[0].endswith("local=tcp://127.0.0.1:1>"), lines
        assert "CRITICAL - about tcp://127.0.0.1:" in lines[1], lines

    def test_starts_after_a_config_block_that_first_imported_distributed(self) -> None:
        """A ``dask.config.set`` block that first imported distributed drops its defaults.

        Leaving the block restores Dask's config without a ``distributed``
        section (Dask's behaviour); the next cluster must start all the same,
        not fail with ``KeyError: 'distributed'``, and so must one inside a
        second block, whose section holds only the setting it sets.  A fresh
        interpreter, so that distributed is not imported yet.
        """
        script = (
            "import dask, schedtutor\n"
            "with dask.config.set({'distributed.comm.timeouts.connect': '5s'}):\n"
            "    with schedtutor.local_cluster(n_workers=1, processes=False):\n"
            "        pass\n"
            "assert 'distributed' not in dask.config.config  # the premise\n"
            "with dask.config.set({'distributed.scheduler.work-stealing': False}):\n"
            "    assert list(dask.config.config['distributed']) == ['scheduler']  # the premise\n"
            "    with schedtutor.local_cluster(n_workers=1, processes=False) as client:\n"
            "        stealing = client.run_on_scheduler(\n"
            "            lambda dask_scheduler: 'stealing' in dask_scheduler.extensions)\n"
            "    assert stealing is False, 'the block said no work stealing'\n"
            "print(schedtutor.run(schedtutor.slow_arithmetic(delay=0), 'distributed',"
            " n_workers=1, processes=False).result)\n"
        )
        done = in_fresh_python(script)
        assert done.stdout.strip() == "-2.2857142857142856", done.stdout
