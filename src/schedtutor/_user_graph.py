"""Load your own graph for the command line: ``--graph PATH.py:NAME`` or ``package.module:NAME``.

:func:`load` imports the file or module, looks ``NAME`` up in it and returns
the Dask collection it names: ``NAME`` is a collection itself, or a function
of no arguments that returns one (called once).  Whatever goes wrong -- no
such file, a module that fails to import, no such name, something that is not
a collection, a function that raises -- is one :class:`GraphSpecError` (a
``ValueError``) whose message is one line naming what was given and what is
accepted; the command prints it and exits with status 2.  An import error
is reported by its exception's last line (``ZeroDivisionError: division by
zero``), as Python would end its traceback.

Where Python looks
==================

A file is imported as ``python PATH.py`` would run it, except that its
``if __name__ == "__main__":`` block does not run: its folder is put first on
``sys.path``, so it can import the modules beside it.  A module is imported
as ``python -m`` would find it: the current folder is put first on
``sys.path`` (the installed ``schedtutor`` command does not have it there).
Anything the file or the function prints while loading goes to stderr, so
``--json`` keeps stdout to itself.

How its functions reach worker processes
========================================

The processes and distributed schedulers pickle every task.  A function from
an importable module is pickled *by reference* -- its module's name and its
own -- and the worker imports the module again; a function from a module
that is not importable is pickled *by value*, its code and the globals it
uses (cloudpickle does that for functions defined in a script's
``__main__`` or a notebook).  A file named on the command line is not a
module a worker can import, so its functions must travel by value.

cloudpickle's ``register_pickle_by_value(module)`` asks for exactly that, but
distributed does not honour it: ``distributed.protocol.pickle.dumps`` tries
the standard ``pickle`` first and only falls back to cloudpickle when that
fails or the pickle mentions ``__main__`` (dask/distributed issue 2268), so
the functions of a registered module still travel by reference and every
worker fails with ``ModuleNotFoundError``.  Instead, as :func:`runpy.run_path`
does, the file's module is in ``sys.modules`` only while it is imported, and
under a name no import can find (``<my_graph.py>``): the standard ``pickle``
then refuses its functions, distributed falls back to cloudpickle, and
cloudpickle -- which pickles by value whatever it cannot find in
``sys.modules`` -- sends them by value, under processes (which always uses
cloudpickle) and distributed alike.  A ``package.module`` is importable, so
its functions travel by reference, as they would from any Python code: a
worker started on this machine finds it on the same ``sys.path``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import reprlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from dask.base import is_dask_collection

__all__ = ["FORMS", "GraphSpecError", "last_line", "load"]

FORMS = "PATH.py:NAME or package.module:NAME"
"""The two forms ``--graph`` accepts, as the error messages name them."""

_COLLECTION = "a Dask collection (a Delayed, dask array, dataframe or bag)"


class GraphSpecError(ValueError):
    """A ``--graph`` that names no usable graph; the message is one line."""


def load(spec: str) -> Any:
    """Return the Dask collection ``spec`` (``PATH.py:NAME`` or ``package.module:NAME``) names.

    >>> load("no/such/graph.py:make")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    schedtutor._user_graph.GraphSpecError: --graph 'no/such/graph.py:make': no file ...
    >>> load("math:pi")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    schedtutor._user_graph.GraphSpecError: --graph 'math:pi' is float 3.14..., not a Dask ...
    """
    where, _, name = spec.rpartition(":")
    if not where or not name.strip():
        raise GraphSpecError(f"--graph {spec!r} names no object; give {FORMS}")
    with contextlib.redirect_stdout(sys.stderr):
        module = _import(spec, where)
        found = _lookup(spec, module, name.strip())
        return _collection(spec, found)


def _is_file(where: str) -> bool:
    return where.endswith(".py") or os.sep in where or "/" in where


def _import(spec: str, where: str) -> ModuleType:
    if _is_file(where):
        return _import_file(spec, Path(where))
    if not all(part.isidentifier() for part in where.split(".")):
        raise GraphSpecError(f"--graph {spec!r}: {where!r} is neither a .py file nor a module name")
    _first_on_path(os.getcwd())
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as error:
        if error.name is not None and (where == error.name or where.startswith(error.name + ".")):
            raise GraphSpecError(
                f"--graph {spec!r}: no module named {error.name!r} in the current folder or on "
                f"the Python path; give {FORMS}"
            ) from None
        raise GraphSpecError(
            f"--graph {spec!r}: importing {where} failed: {last_line(error)}"
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SyntaxError, SystemExit ... all one line
        raise GraphSpecError(
            f"--graph {spec!r}: importing {where} failed: {last_line(error)}"
        ) from None


def _import_file(spec: str, path: Path) -> ModuleType:
    if not path.is_file():
        what = f"{str(path)!r} is a folder" if path.is_dir() else f"no file {str(path)!r}"
        raise GraphSpecError(f"--graph {spec!r}: {what}; give {FORMS}")
    if path.suffix != ".py":
        raise GraphSpecError(f"--graph {spec!r}: {str(path)!r} is not a .py file; give {FORMS}")
    name = f"<{path.name}>"  # no import can find this name: see "How its functions reach ..."
    loader_spec = importlib.util.spec_from_file_location(name, path)
    assert loader_spec is not None and loader_spec.loader is not None  # a .py file always has one
    module = importlib.util.module_from_spec(loader_spec)
    _first_on_path(str(path.resolve().parent))
    sys.modules[name] = module  # while it runs, as for any import (dataclasses look it up)
    try:
        loader_spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        raise GraphSpecError(
            f"--graph {spec!r}: importing {path} failed: {last_line(error)}"
        ) from None
    finally:
        sys.modules.pop(name, None)
    return module


def _first_on_path(folder: str) -> None:
    if folder not in sys.path and not (folder == os.getcwd() and "" in sys.path):
        sys.path.insert(0, folder)


def _lookup(spec: str, module: ModuleType, name: str) -> Any:
    try:
        return getattr(module, name)
    except AttributeError:
        public = sorted(n for n in vars(module) if not n.startswith("_"))
        shorter = reprlib.Repr()
        shorter.maxlist = 8
        have = shorter.repr(public) if public else "nothing public"
        raise GraphSpecError(
            f"--graph {spec!r}: {module.__name__.strip('<>')} has no name {name!r} (it has {have})"
        ) from None


def _collection(spec: str, found: Any) -> Any:
    if is_dask_collection(found):  # before callable(): a Delayed is callable too
        return found
    if not callable(found):
        raise GraphSpecError(
            f"--graph {spec!r} is {type(found).__name__} {reprlib.repr(found)}, not "
            f"{_COLLECTION} or a function returning one"
        )
    name = getattr(found, "__name__", type(found).__name__)
    needed = _required_parameters(found)
    if needed:
        raise GraphSpecError(
            f"--graph {spec!r}: {name}() needs arguments ({', '.join(needed)}); NAME must be a "
            "Dask collection or a function of no arguments returning one"
        )
    try:
        made = found()
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        raise GraphSpecError(
            f"--graph {spec!r}: calling {name}() raised {last_line(error)}"
        ) from None
    if not is_dask_collection(made):
        raise GraphSpecError(
            f"--graph {spec!r}: {name}() returned {type(made).__name__} {reprlib.repr(made)}, "
            f"not {_COLLECTION}"
        )
    return made


def _required_parameters(function: Any) -> list[str]:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: just call it
        return []
    required = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty
        and (p.kind in required or p.kind is inspect.Parameter.KEYWORD_ONLY)
    ]


def last_line(error: BaseException) -> str:
    """Return what a traceback's last line says: ``ZeroDivisionError: division by zero``.

    A SyntaxError's message carries its file and line (``invalid syntax (g.py, line 3)``);
    a message of several lines is cut to its first.
    """
    kind = type(error).__name__
    text = str(error).strip()
    if isinstance(error, SystemExit) and not isinstance(error.code, str):
        text = f"exit status {error.code}"
    first = text.splitlines()[0] if text else ""
    return f"{kind}: {first}" if first else kind
