"""Tests for schedtutor.ops: the slow delayed arithmetic and its settings."""

from __future__ import annotations

import math

import pytest

from schedtutor import ops
from schedtutor.ops import EXPECTED_RESULT, slow_arithmetic
from schedtutor.timing import fastest, run


class TestSlowArithmetic:
    def test_result_is_the_old_lessons_value(self) -> None:
        """(1 + 3) * (2 - 4) / 3.5 computes to -2.2857142857142856."""
        assert slow_arithmetic(delay=0).compute(scheduler="sync") == -2.2857142857142856
        assert EXPECTED_RESULT == -2.2857142857142856

    def test_graph_has_four_named_tasks(self) -> None:
        """The graph holds one add, sub, mul and div task, keyed by the op's name."""
        keys = dict(slow_arithmetic(delay=0).__dask_graph__())
        assert sorted(str(k).split("-")[0] for k in keys) == ["add", "div", "mul", "sub"]

    def test_settings_travel_in_the_tasks(self) -> None:
        """The delay and work kind are task arguments, not globals of the parent."""
        graph = dict(slow_arithmetic(delay=0.25, work="sleep").__dask_graph__())
        for task in graph.values():
            assert task.args[-2:] == (0.25, "sleep")

    @pytest.mark.parametrize("work", list(ops.WORK_KINDS))
    def test_each_kind_takes_about_the_delay(self, work: str) -> None:
        """Each kind of work takes about ``delay`` seconds in one thread.

        The fastest of up to three runs: another program, or the machine pausing
        this one, can only make a run slower (an idle CI run once read 0.29 s).
        """
        graph = ops.add(1, 3, delay=0.1, work=work)
        timed = fastest(lambda: run(graph, "sync"), at_most=3, good_enough=2 * 0.1)
        assert timed.result == 4
        assert 0.9 <= timed.seconds / 0.1 <= 2.0, timed

    def test_individual_ops(self) -> None:
        """Each op does its arithmetic after its work."""
        assert ops.sub(2, 4, delay=0).compute(scheduler="sync") == -2
        assert ops.mul(4, -2, delay=0).compute(scheduler="sync") == -8
        assert ops.div(-8, 4, delay=0).compute(scheduler="sync") == -2


class TestDelay:
    def test_environment_variable_sets_the_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SCHEDTUTOR_DELAY changes the default delay carried by new tasks."""
        monkeypatch.setenv("SCHEDTUTOR_DELAY", "0.05")
        assert ops.default_delay() == 0.05
        task = next(iter(dict(slow_arithmetic().__dask_graph__()).values()))
        assert task.args[-2] == 0.05

    def test_default_is_one_second(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without SCHEDTUTOR_DELAY the default is 1 s."""
        monkeypatch.delenv("SCHEDTUTOR_DELAY", raising=False)
        assert ops.default_delay() == 1.0

    @pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf"])
    def test_bad_environment_variable(self, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
        """A bad SCHEDTUTOR_DELAY is named in the error."""
        monkeypatch.setenv("SCHEDTUTOR_DELAY", value)
        with pytest.raises(ValueError, match="SCHEDTUTOR_DELAY"):
            ops.default_delay()

    @pytest.mark.parametrize("delay", [-0.1, math.nan, math.inf, "1", True])
    def test_bad_delays(self, delay: object) -> None:
        """Negative, NaN, infinite and non-numeric delays are refused with what is accepted."""
        with pytest.raises(ValueError, match="finite number of seconds >= 0"):
            slow_arithmetic(delay=delay)  # type: ignore[arg-type]

    def test_unknown_work_kind(self) -> None:
        """An unknown kind of work is refused, listing the known kinds."""
        with pytest.raises(ValueError, match="sleeplock, sleep, python, numpy"):
            slow_arithmetic(delay=0, work="gpu")
