"""Draw a task graph to a PNG or SVG file with graphviz.

A thin layer over Dask's own ``visualize`` that fails with one clear line when
the file name or the graphviz ``dot`` program is wrong, instead of a long
traceback from inside graphviz.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePath
from typing import Any

from schedtutor._base import check_collection

__all__ = ["COLORS", "FORMATS", "draw_graph"]

FORMATS = ("png", "svg")
"""The image formats :func:`draw_graph` writes."""

COLORS = ("order",)
"""Ways to colour the nodes besides the plain drawing (``order``: the rank ``dask.order`` gives)."""

MISSING_DOT = (
    "graphviz's `dot` program is not installed; install it with "
    "`sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) "
    "or `conda install graphviz`"
)


def check_graph_file(filename: str | Path) -> Path:
    """Return ``filename`` as a Path if it ends in a supported image format."""
    if not isinstance(filename, str | PurePath):
        raise TypeError(
            f"filename must be a str or a Path ending in .png or .svg, "
            f"got {type(filename).__name__}: {filename!r}"
        )
    path = Path(filename)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(
            f"cannot draw a graph to {str(filename)!r}: unknown extension "
            f"{path.suffix or '(none)'!r}; expected one of {', '.join('.' + f for f in FORMATS)}"
        )
    if not path.parent.is_dir():
        raise ValueError(
            f"cannot write {str(filename)!r}: {str(path.parent)!r} is not an existing folder; "
            "give a file name in a folder you can write"
        )
    if path.is_dir():
        raise ValueError(
            f"cannot write {str(filename)!r}: it is a folder; give a file name such as graph.svg"
        )
    return path


def draw_graph(obj: Any, filename: str | Path, color: str | None = None) -> Path:
    """Write the task graph of ``obj`` to ``filename`` (``.png`` or ``.svg``) and return its path.

    ``color="order"`` colours and numbers each task by its rank in
    ``dask.order``: the priority by which Dask's local schedulers choose among
    tasks that become ready at the same moment.  (The order they run in can
    differ: a task made ready later goes first.)

    >>> import tempfile, pathlib
    >>> from schedtutor import slow_arithmetic
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> draw_graph(slow_arithmetic(delay=0), folder / "graph.svg").stat().st_size > 0
    True
    """
    check_collection(obj)
    path = check_graph_file(filename)
    if color is not None and color not in COLORS:
        raise ValueError(f"unknown color {color!r}; expected one of {', '.join(COLORS)} or None")
    if shutil.which("dot") is None:
        raise RuntimeError(MISSING_DOT)
    options: dict[str, Any] = {"color": color} if color else {}
    try:
        obj.visualize(filename=str(path), **options)
    except OSError as error:  # permission denied, read-only file system, ...
        reason = error.strerror or type(error).__name__
        raise ValueError(
            f"cannot write {str(filename)!r}: {reason.lower()}; "
            "give a file name in a folder you can write"
        ) from None
    return path
