"""Tests for the model of the distributed scheduler's work stealing.

Every ``work-stealing-interval`` the scheduler's balance asks a worker that
holds more tasks than threads to give one it has not started to an idle
worker.  The graph here is three leaves of 4, 1 and 2 delays and two
instant tasks combining them, on two one-thread workers: where the
scheduler sends the leaves depends on the order it reaches them (the keys'
hashes), so :func:`_stealable` makes graphs until the model places one
where an idle worker could take a waiting leaf -- the model's placement is
checked against the scheduler's in ``test_predict``.
"""

from __future__ import annotations

from typing import Any

import dask
import pytest
from dask.delayed import Delayed

from schedtutor import _distributed_model, _model, predict, trace
from schedtutor._simulate import Machine
from schedtutor.ops import add, mul
from schedtutor.predict import DEFAULT_COSTS, Prediction
from schedtutor.schedulers import local_cluster

TWO_BY_ONE: dict[str, Any] = {"n_workers": 2, "threads_per_worker": 1, "processes": False}
DELAY = 0.2


def _graph(salt: int) -> Delayed:
    leaves = [add(i, salt, delay=f * DELAY, work="sleep") for i, f in enumerate((4, 1, 2))]
    both = add(leaves[0], leaves[1], delay=0, work="sleep")
    return mul(both, leaves[2], delay=0, work="sleep")


def _stealable() -> tuple[Delayed, Prediction]:
    """Return the first graph whose leaves the model places so that a steal saves a third.

    That is the 2-delay leaf waiting behind the 4-delay one while the
    1-delay leaf's worker goes idle.
    """
    for salt in range(60):
        graph = _graph(salt)
        predicted = predict(graph, "distributed", **TWO_BY_ONE)
        if predicted.slowest > 1.3 * predicted.fastest:
            return graph, predicted
    raise AssertionError("no placement of the leaves leaves a worker idle beside a waiting leaf")


def _simulate(
    graph: Delayed, clock: _distributed_model.StealClock | None, same_hashes: bool = False
) -> Any:
    """Run the model once; ``same_hashes``: the scheduler's sets iterate as ours do."""
    jobs = _model.jobs(_model.graph(graph, "distributed"), None, _model.Kinds())
    return _distributed_model.run_distributed(
        jobs,
        Machine([0, 0], 2),
        [[0], [1]],
        DEFAULT_COSTS.distributed_start,
        DEFAULT_COSTS.distributed_hop,
        DEFAULT_COSTS.distributed_task,
        history=_distributed_model.History(same_hashes=same_hashes),
        clock=clock,
    )


class TestModel:
    def test_a_steal_moves_a_waiting_leaf_and_shortens_the_run(self) -> None:
        """A balance while one worker idles beside a waiting leaf moves it, if tried first."""
        graph, _ = _stealable()
        plain = _simulate(graph, None)
        assert plain.could_steal and plain.steals == 0
        runs = [
            _simulate(graph, _distributed_model.StealClock(0.3, 1.0, seed)) for seed in range(8)
        ]
        stolen = [run for run in runs if run.steals]
        refused = [run for run in runs if not run.steals]
        # the busy worker's two tasks are tried in a set's order: either may come first
        assert stolen and refused, [run.steals for run in runs]
        assert all(run.end < plain.end for run in stolen), (plain.end, stolen)
        assert all(run.end == pytest.approx(plain.end) for run in refused)

    def test_a_scheduler_in_this_process_tries_its_set_in_our_order(self) -> None:
        """Where the scheduler's sets hash as ours do, the order is known: one outcome.

        The busy worker's tasks are tried in the order of a set of their keys,
        filled as they were sent there (whether the waiting leaf or the running
        one comes first decides whether the balance steals): every shuffle seed
        gives the same run.
        """
        graph, _ = _stealable()
        runs = [
            _simulate(graph, _distributed_model.StealClock(0.3, 1.0, seed), same_hashes=True)
            for seed in range(8)
        ]
        assert len({(run.end, run.steals) for run in runs}) == 1, runs

    def test_no_balance_while_every_worker_is_busy(self) -> None:
        """A balance after the leaves have all started moves nothing."""
        graph, _ = _stealable()
        late = _simulate(graph, _distributed_model.StealClock(2.5, 10.0))
        assert late.steals == 0 and late.end == pytest.approx(_simulate(graph, None).end)

    def test_no_stealing_one_outcome(self) -> None:
        """With work stealing switched off the model has one answer."""
        graph, stealing = _stealable()
        with dask.config.set({"distributed.scheduler.work-stealing": False}):
            plain = predict(graph, "distributed", **TWO_BY_ONE)
        assert plain.outcomes == (plain.seconds,) == (plain.slowest,)
        assert stealing.fastest < stealing.seconds <= stealing.slowest == plain.seconds
        assert "as work stealing acts or not" in str(stealing)
        assert "work stealing" not in str(plain)

    def test_a_graph_that_never_waits_has_one_outcome(self) -> None:
        """The old lesson's graph leaves no task waiting beside an idle worker."""
        from schedtutor import slow_arithmetic

        predicted = predict(slow_arithmetic(delay=DELAY), "distributed", **TWO_BY_ONE)
        assert len(predicted.outcomes) == 1


class TestAgainstACluster:
    def test_frequent_balancing_steals_as_predicted(self, no_leaks: None) -> None:
        """With the balance every 20 ms a steal is all but certain, and the model says so.

        The prediction (read from the cluster, interval included) is the
        stolen run; the run without a steal -- what a model without stealing
        predicts -- is far slower, so this fails without it.
        """
        graph, every_second = _stealable()  # its slowest outcome: no steal
        interval = {"distributed.scheduler.work-stealing-interval": "20ms"}
        with dask.config.set(interval), local_cluster(**TWO_BY_ONE) as client:
            predicted = predict(graph, "distributed", client=client)
            traced = trace(graph, "distributed", client=client)
        assert abs(traced.seconds / predicted.seconds - 1) <= 0.10, (traced.seconds, predicted)
        assert abs(traced.seconds / every_second.slowest - 1) > 0.25, (traced.seconds, predicted)
        leaves = sorted((s for s in traced.spans if s.seconds > DELAY / 2), key=lambda s: s.start)
        predicted_leaves = sorted(
            (s for s in predicted.spans if s.seconds > DELAY / 2), key=lambda s: s.start
        )
        # the stolen leaf ran on the worker that had been idle: the leaves on two workers
        assert len({s.process for s in leaves}) == 2
        assert [round(s.seconds, 1) for s in leaves] == [
            round(s.seconds, 1) for s in predicted_leaves
        ]
