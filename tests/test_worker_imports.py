"""Tests for schedtutor._worker_imports: which modules a graph makes a worker import."""

from __future__ import annotations

import functools
import operator
from fractions import Fraction

import dask
import numpy as np

from schedtutor import ops
from schedtutor._worker_imports import named_modules


def graph_of(obj: object) -> dict[object, object]:
    return dict(obj.__dask_graph__())  # type: ignore[attr-defined]


def test_a_functions_module_and_an_arguments_are_named() -> None:
    """A task names its function's module and the modules of its arguments' types."""
    obj = dask.delayed(ops.add)(np.float64(1.0), 3)
    assert named_modules(graph_of(obj)) == {"schedtutor.ops", "numpy"}


def test_a_partial_names_the_function_inside() -> None:
    """functools.partial is the standard library's; the function it wraps is not."""
    obj = dask.delayed(functools.partial(ops.sub, delay=0))(2, 4)
    assert named_modules(graph_of(obj)) == {"schedtutor.ops"}


def test_what_every_worker_has_or_what_travels_by_value_is_not_named() -> None:
    """The standard library, Dask's own modules, ``__main__`` and nested functions: no question."""

    def local(x: int) -> int:
        return x

    def in_main(x: int) -> int:
        return x

    in_main.__module__, in_main.__qualname__ = "__main__", "in_main"
    obj = dask.delayed(sum)(
        [
            dask.delayed(operator.add)(Fraction(1, 2), 1),
            dask.delayed(local)(2),
            dask.delayed(in_main)(4),
            dask.delayed(lambda x: x)(3),
        ]
    )
    assert named_modules(graph_of(obj)) == set()
