"""Tests for schedtutor.sleeplock: the lock-holding sleep of the old lesson."""

from __future__ import annotations

import threading
import time

import cloudpickle
import pytest

from schedtutor import sleeplock
from schedtutor.sleeplock import sleep


class TestSleep:
    def test_holds_the_lock_while_sleeping(self) -> None:
        """Another thread sees the module lock held during a sleep."""
        seen = []
        sleeper = threading.Thread(target=sleep, args=(0.2,))
        sleeper.start()
        time.sleep(0.05)
        seen.append(sleeplock.lock.locked())
        sleeper.join()
        assert seen == [True]
        assert not sleeplock.lock.locked()

    def test_releases_the_lock_on_error(self) -> None:
        """A sleep that fails (bad argument) leaves the lock free."""
        with pytest.raises(ValueError):
            sleep(-1)
        assert not sleeplock.lock.locked()

    def test_two_threads_take_turns(self) -> None:
        """Two threads sleeping at once take twice as long as one: the lock serialises them."""
        started = time.perf_counter()
        sleepers = [threading.Thread(target=sleep, args=(0.1,)) for _ in range(2)]
        for thread in sleepers:
            thread.start()
        for thread in sleepers:
            thread.join()
        assert (time.perf_counter() - started) / 0.1 >= 1.9

    def test_lock_wait_counts_the_waiting(self) -> None:
        """The thread that waited for the lock records about one sleep of waiting."""
        waits: dict[str, float] = {}

        def second() -> None:
            before = sleeplock.lock_wait()
            sleep(0.01)
            waits["second"] = sleeplock.lock_wait() - before

        first = threading.Thread(target=sleep, args=(0.2,))
        first.start()
        time.sleep(0.05)
        other = threading.Thread(target=second)
        other.start()
        first.join()
        other.join()
        assert 0.1 <= waits["second"] <= 0.2

    def test_pickled_by_reference(self) -> None:
        """cloudpickle sends sleep by reference, so a worker process imports its own lock."""
        assert len(cloudpickle.dumps(sleep)) < 200
        assert cloudpickle.loads(cloudpickle.dumps(sleep)) is sleep
