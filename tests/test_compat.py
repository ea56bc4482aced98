"""Tests for schedtutor._compat: every private Dask internal the library reads, checked.

Each test states one assumption ``schedtutor._compat`` makes about the installed
dask and distributed.  When an upgrade breaks one, this file fails and names it,
instead of a trace or a prediction going wrong somewhere deep.
"""

from __future__ import annotations

import operator
import time

import dask
import dask.array as da
import pytest
from dask.delayed import Delayed, delayed

from schedtutor import _compat, local_cluster, slow_arithmetic
from schedtutor.ops import EXPECTED_RESULT


class TestComputedGraph:
    def test_a_delayed_graph_computes_as_dask_does(self) -> None:
        """The graph has task-spec nodes and one output key that computes the result."""
        dsk, keys = _compat.computed_graph(slow_arithmetic(delay=0))
        assert all(isinstance(node, _compat.GraphNode) for node in dsk.values())
        assert len(keys) == 1
        assert dask.compute(Delayed(keys[0], dsk), scheduler="sync")[0] == EXPECTED_RESULT

    def test_an_array_graph_is_optimised_and_finalised(self) -> None:
        """An array's graph comes with its finalising task, as dask.compute builds it."""
        array = da.ones(8, chunks=2).sum()
        dsk, keys = _compat.computed_graph(array)
        assert len(keys) == 1 and keys[0] in dsk
        assert all(isinstance(node, _compat.GraphNode) for node in dsk.values())
        assert dask.compute(Delayed(keys[0], dsk), scheduler="sync")[0] == 8.0


class TestWithFunction:
    def test_the_slots_are_what_the_copy_relies_on(self) -> None:
        """A Task's state is its slots, and the derived caches are among them."""
        slots = set(_compat.Task.get_all_slots())
        assert {"key", "func", "args", "kwargs", "_data_producer", "_dependencies"} <= slots
        assert {"_token", "_repr", "_is_coro"} <= slots

    def test_a_copy_calls_the_new_function_with_the_same_arguments(self) -> None:
        """The copy keeps key, arguments and edges, and its caches are derived anew."""
        dsk, keys = _compat.computed_graph(delayed(operator.add)(delayed(abs)(-2), 3))
        node = dsk[keys[0]]
        calls: list[tuple[object, ...]] = []

        def spy(*args: object) -> object:
            calls.append(args)
            return operator.add(*args)  # type: ignore[call-overload]

        copy = _compat.with_function(node, spy)
        assert copy.key == node.key and copy.dependencies == node.dependencies
        assert copy.func is spy and node.func is operator.add
        assert copy._token is None and copy._repr is None and copy._is_coro is None
        graph = {**dsk, keys[0]: copy}
        assert dask.compute(Delayed(keys[0], graph), scheduler="sync")[0] == 5
        assert calls == [(2, 3)]


class TestFusedSubgraph:
    def test_blockwise_fusion_wraps_tasks_in_one_with_its_inner_graph(self) -> None:
        """Dask arrays fuse elementwise steps into a task whose first argument is their graph."""
        array = ((da.ones(4, chunks=2) + 1) * 2).sum()
        dsk, keys = _compat.computed_graph(array)
        inner = [_compat.fused_subgraph(node) for node in dsk.values()]
        fused = [graph for graph in inner if graph is not None]
        assert fused, dsk
        assert all(isinstance(n, _compat.GraphNode) for g in fused for n in g.values())
        assert dask.compute(Delayed(keys[0], dsk), scheduler="sync")[0] == 16.0

    def test_a_plain_task_has_no_inner_graph(self) -> None:
        """A task that was not fused is not mistaken for one."""
        dsk, _keys = _compat.computed_graph(slow_arithmetic(delay=0))
        assert all(_compat.fused_subgraph(node) is None for node in dsk.values())


class TestSchedulerState:
    def test_a_cluster_tells_what_it_has_learned(self) -> None:
        """n_tasks, prefix durations, worker hashes and the stealing interval can be read."""
        with local_cluster(n_workers=2, processes=False) as client:
            before = _compat.scheduler_state(client)
            client.submit(abs, -1, key="abs-1").result()
            after = _compat.scheduler_state(client)
        interval = dask.utils.parse_timedelta(
            dask.config.get("distributed.scheduler.work-stealing-interval")
        )
        assert before.tasks_placed == 0 and after.tasks_placed == 1
        assert "abs" in after.prefix_durations
        assert len(after.worker_hashes) == 2
        assert after.unknown_duration > 0
        assert after.steal_every == pytest.approx(interval)

    def test_when_stealing_runs_next_can_be_read(self) -> None:
        """The stealing balance's next run is within one interval, and comes round again.

        Read twice, a third of an interval apart: the second reading is a third
        of an interval earlier on the same clock, or one interval later if a run
        came in between.
        """
        with local_cluster(n_workers=2, processes=False) as client:
            first = _compat.scheduler_state(client)
            time.sleep(first.steal_every / 3)
            second = _compat.scheduler_state(client)
        every = first.steal_every
        assert first.steal_next is not None and second.steal_next is not None
        assert 0 <= first.steal_next <= every and 0 <= second.steal_next <= every
        moved = (first.steal_next - second.steal_next) % every
        assert moved == pytest.approx(every / 3, abs=0.05), (first, second)


class TestConnector:
    def test_a_tcp_address_gets_distributeds_tcp_connector(self) -> None:
        """The connector for a tcp:// address connects, and the address loses its scheme."""
        connector, location = _compat.connector_for("tcp://127.0.0.1:8786")
        assert location == "127.0.0.1:8786"
        assert callable(connector.connect)


class TestDaskFloor:
    def test_the_floor_is_pyproject_s(self) -> None:
        """The floor _compat enforces is pyproject.toml's, for dask and for distributed."""
        import tomllib
        from pathlib import Path

        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as file:
            dependencies = tomllib.load(file)["project"]["dependencies"]
        floor = ".".join(map(str, _compat.DASK_FLOOR))
        assert f"dask>={floor}" in dependencies and f"distributed>={floor}" in dependencies

    def test_an_older_dask_is_refused_in_one_line(self) -> None:
        """A dask below the floor raises one ImportError that says what to install."""
        with pytest.raises(ImportError) as raised:
            _compat.check_dask("2026.7.1")
        message = str(raised.value)
        assert "\n" not in message and "this is dask 2026.7.1" in message
        assert "pip install --upgrade 'dask>=2026.8.0' 'distributed>=2026.8.0'" in message
        _compat.check_dask(dask.__version__)  # the installed one passes
