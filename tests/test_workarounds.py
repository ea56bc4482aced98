"""The site build's workarounds (docs/_ext/workarounds/): gated, in one place, and still needed.

For each workaround two kinds of test tell a maintainer when to look at it again:

* ``TestGates`` fails when the locked version of a package (requirements/lock.txt,
  what the published build installs) leaves the versions its workaround was written
  for: then see whether the upstream behaviour is still there, and widen the
  versions or remove the workaround;
* one ``Test<Workaround>`` class per module runs the upstream package *without* the
  workaround and fails when the behaviour it works around has changed: the failure
  says what changed and that the workaround may go.

``TestNothingPatchedElsewhere`` checks that no other module of docs/_ext, nor
conf.py, patches a third-party package or holds code in a string.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXT = ROOT / "docs" / "_ext"
sys.path.insert(0, str(EXT))

import workarounds  # noqa: E402
from workarounds import (  # noqa: E402
    autodoc_typehints_deprecation,
    ipykernel_shutdown,
    jupyter_cache_tables,
    nbclient_unix_sockets,
    sphinx_parallel_chunks,
)

MODULES = (
    ipykernel_shutdown,
    nbclient_unix_sockets,
    sphinx_parallel_chunks,
    jupyter_cache_tables,
    autodoc_typehints_deprecation,
)


def locked_versions() -> dict[str, str]:
    """Return the lock's pins, by normalised package name."""
    text = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8")
    pins = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", text, flags=re.M)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


class TestGates:
    @pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.split(".")[-1])
    def test_the_locked_version_is_one_it_was_written_for(self, module: Any) -> None:
        """The published build's version of the package is inside the workaround's versions."""
        from packaging.specifiers import SpecifierSet

        record: workarounds.Workaround = module.WORKAROUND
        locked = locked_versions().get(record.package.lower())
        assert locked is not None, f"requirements/lock.txt pins no {record.package}"
        assert SpecifierSet(record.versions).contains(locked, prereleases=True), (
            f"the lock moved {record.package} to {locked}, outside {record.versions}, the "
            f"versions {record.module} was written for: run its test in this file; if the "
            "upstream behaviour is still there, widen WORKAROUND's versions, else remove it"
        )
        assert record.applies(), record.why_not()  # and this environment installed the lock's

    def test_every_workaround_is_listed_and_documented(self) -> None:
        """Each module has a record naming its own file, and says what it was written for and
        when it can go."""
        assert {m.WORKAROUND for m in MODULES} == set(workarounds.everything())
        files = {p.name for p in (EXT / "workarounds").glob("*.py")}
        assert files == {"__init__.py", "kernel_startup.py"} | {
            Path(str(m.__file__)).name for m in MODULES
        }, "a module of docs/_ext/workarounds/ is missing from this test"
        for module in MODULES:
            assert (ROOT / module.WORKAROUND.module) == Path(str(module.__file__))
            doc = module.__doc__ or ""
            assert "**Written for**" in doc and "When it can go" in doc, module.__name__

    def test_outside_its_versions_a_workaround_is_not_applied(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A workaround whose versions exclude the installed one does nothing and says why."""
        never = dataclasses.replace(jupyter_cache_tables.WORKAROUND, versions="<0.1")
        monkeypatch.setattr(jupyter_cache_tables, "WORKAROUND", never)
        assert not jupyter_cache_tables.create_before_fork(tmp_path / "cache")
        assert not (tmp_path / "cache").exists()
        reason = never.why_not()
        assert "\n" not in reason and "jupyter-cache<0.1" in reason
        assert "docs/_ext/workarounds/jupyter_cache_tables.py" in reason

    def test_a_missing_package_is_outside_every_version(self) -> None:
        """A workaround for a package that is not installed does not apply."""
        missing = workarounds.Workaround("x", "schedtutor-no-such-package", ">=0", "x.py")
        assert missing.installed() is None and not missing.applies()
        assert "no schedtutor-no-such-package" in missing.why_not()


#: Modules of docs/_ext (and conf.py) whose names they may assign attributes of: their own.
OWN = {"schedtutor", "workarounds", "parallel_notebooks", "schedtutor_docs", "claims"}


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def patches(path: Path) -> list[str]:
    """Return the places in ``path`` that assign to an attribute of an imported module or class.

    ``NotebookClient.x = ...``, ``setattr(NotebookClient, ...)``, ``nbclient.x = ...``
    where ``NotebookClient`` or ``nbclient`` came from an import of another package.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {
                (a.asname or a.name).split(".")[0]
                for a in node.names
                if a.name.split(".")[0] not in OWN
            }
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in OWN:
                imported |= {a.asname or a.name for a in node.names}
    imported -= {"os", "sys"}  # os.environ[...] and sys.path are configuration, not patches
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("setattr", "delattr")
            and node.args
        ):
            targets = [ast.Attribute(value=node.args[0], attr="?")]
        for target in targets:
            base = target
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(target, ast.Attribute) and isinstance(base, ast.Name):
                if base.id in imported:
                    found.append(f"{shown(path)}:{node.lineno}: {ast.unparse(node)}")
    return found


def code_in_strings(path: Path) -> list[str]:
    """Return string constants of ``path`` that are Python defining or patching something.

    A string that parses as Python and holds a ``def``, a ``class``, an import or an
    attribute assignment other than to ``c.`` (traitlets configuration, as in a
    kernel's ``ipython_kernel_config.py``) is code hidden from linters.
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if "\n" not in node.value.strip():
            continue
        try:
            inner = ast.parse(node.value)
        except SyntaxError:
            continue
        for statement in ast.walk(inner):
            config = (
                isinstance(statement, ast.Assign)
                and all(ast.unparse(t).startswith("c.") for t in statement.targets)
            )  # fmt: skip
            if isinstance(
                statement, ast.FunctionDef | ast.ClassDef | ast.Import | ast.ImportFrom
            ) or (isinstance(statement, ast.Assign) and not config):
                found.append(f"{shown(path)}:{node.lineno}: {node.value[:60]!r}")
                break
    return found


class TestNothingPatchedElsewhere:
    def sources(self) -> list[Path]:
        """conf.py and every module of docs/_ext outside docs/_ext/workarounds/."""
        return [ROOT / "conf.py", *sorted(EXT.glob("*.py"))]

    def test_no_third_party_patch_outside_the_workarounds(self) -> None:
        """No module of docs/_ext but the workarounds, nor conf.py, assigns into another package."""
        found = [place for path in self.sources() for place in patches(path)]
        assert not found, found

    def test_the_checks_find_what_they_look_for(self, tmp_path: Path) -> None:
        """A patch (the sockets workaround's) and code in a string are found; config is not."""
        sample = ROOT / "docs" / "_ext" / "workarounds" / "nbclient_unix_sockets.py"
        assert any("_kernel_manager_class_default" in p for p in patches(sample))
        example = tmp_path / "example.py"
        example.write_text(
            "import nbclient\n"
            "from nbclient import NotebookClient as N\n"
            "nbclient.x = 1\n"
            "N.y = 2\n"
            'CODE = """\ndef f():\n    pass\n"""\n'
            'CONFIG = """\nc.IPKernelApp.log_level = 1\nc.A.b = False\n"""\n',
            encoding="utf-8",
        )
        assert [p.split(": ", 1)[1] for p in patches(example)] == ["nbclient.x = 1", "N.y = 2"]
        assert [p.split(":")[1] for p in code_in_strings(example)] == ["5"]

    def test_no_code_in_strings(self) -> None:
        """No string of docs/_ext (workarounds included) or conf.py holds Python code."""
        paths = [*self.sources(), *sorted((EXT / "workarounds").glob("*.py"))]
        found = [place for path in paths for place in code_in_strings(path)]
        assert not found, found


# -- ipykernel_shutdown -------------------------------------------------------------------

#: Starts kernels with an isolated profile *without* the start-up file, one after the other;
#: each runs a cell that spawns a process and is asked to shut down.  Prints, per kernel,
#: how many seconds it took to exit by itself, or "never" (within the limit), and stops at
#: the first that never did.
KERNEL_WITHOUT_WORKAROUND = r"""
import os, sys, tempfile, time
from pathlib import Path
from jupyter_client.manager import start_new_kernel

folder = Path(tempfile.mkdtemp())
(folder / "profile_default").mkdir()
(folder / "profile_default" / "ipython_kernel_config.py").write_text(
    'c.IPKernelApp.log_level = "ERROR"\n')
os.environ["IPYTHONDIR"] = str(folder)
for _ in range(int(sys.argv[2])):
    km, kc = start_new_kernel(kernel_name="python3")
    kc.execute_interactive(
        "import multiprocessing, os\n"
        "p = multiprocessing.get_context('spawn').Process(target=os.getpid)\n"
        "p.start(); p.join()", timeout=60)
    kc.shutdown()
    asked = time.monotonic()
    while km.is_alive() and time.monotonic() - asked < float(sys.argv[1]):
        time.sleep(0.02)
    waited = km.is_alive()
    print("never" if waited else round(time.monotonic() - asked, 2), flush=True)
    km.shutdown_kernel(now=True)
    kc.stop_channels()
    if waited:
        break
"""


class TestIpykernelShutdown:
    def test_a_kernel_that_spawned_a_process_still_waits(self, tmp_path: Path) -> None:
        """Without the start-up file, a kernel that spawned a process does not exit when asked.

        It waits for multiprocessing's resource tracker, which ignores the SIGTERMs
        ipykernel sends its children.  Most kernels wait (all of eight in a row here),
        but not every one, so up to three are tried: the test passes at the first
        that waits.  When none does, ipykernel lets such a kernel go: the
        workaround's first half can go (check its race half with
        tests/test_notebook_kernels.py, the start-up file left out).
        """
        limit = 3.0  # Jupyter's own wait is 2.5 s
        done = subprocess.run(
            [sys.executable, "-c", KERNEL_WITHOUT_WORKAROUND, str(limit), "3"],
            capture_output=True, text=True, timeout=180, cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        exits = done.stdout.split()
        assert "never" in exits, (
            f"ipykernel {ipykernel_shutdown.WORKAROUND.installed()} let each of {len(exits)} "
            f"kernels that spawned a process exit by itself (in {', '.join(exits)} s): the "
            "resource-tracker half of docs/_ext/workarounds/ipykernel_shutdown.py is no "
            "longer needed"
        )

    def test_the_start_up_file_is_the_module(self, tmp_path: Path) -> None:
        """install() copies kernel_startup.py, byte for byte, into the profile's startup/."""
        assert ipykernel_shutdown.install(tmp_path)
        copied = tmp_path / "startup" / ipykernel_shutdown.STARTUP_NAME
        assert copied.read_bytes() == ipykernel_shutdown.STARTUP.read_bytes()

    def test_imported_the_start_up_module_patches_nothing(self) -> None:
        """Imported (not run as a start-up file), kernel_startup only defines its function."""
        from workarounds import kernel_startup

        assert callable(kernel_startup.shut_down_at_once)


# -- nbclient_unix_sockets -------------------------------------------------------------------


class TestNbclientUnixSockets:
    def test_the_private_default_is_where_it_is_replaced(self) -> None:
        """nbclient makes its kernel manager class from ``_kernel_manager_class_default``.

        When this fails, nbclient has changed how it picks the class, and
        docs/_ext/workarounds/nbclient_unix_sockets.py must change with it.
        """
        import nbformat
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient

        assert "_kernel_manager_class_default" in vars(NotebookClient)
        client = NotebookClient(nbformat.v4.new_notebook())
        assert client.kernel_manager_class is AsyncKernelManager
        assert AsyncKernelManager().transport == "tcp"

    def test_a_port_picked_for_a_kernel_can_still_be_taken_first(self, tmp_path: Path) -> None:
        """jupyter_client picks a kernel's TCP ports before the kernel binds them.

        Another process can take one in between, and the kernel then fails to start.
        When this fails, jupyter_client no longer hands out ports in advance (or the
        kernel survives it), and the workaround can go.
        """
        from jupyter_client import KernelManager

        manager = KernelManager(kernel_name="python3", connection_file=str(tmp_path / "k.json"))
        command, options = manager.pre_start_kernel()  # the ports are chosen and written
        chosen = json.loads((tmp_path / "k.json").read_text())
        assert chosen["transport"] == "tcp" and chosen["shell_port"] == manager.shell_port
        other = socket.socket()  # what another kernel or a Dask cluster might do
        try:
            other.bind((manager.ip, manager.shell_port))
            other.listen()
            kernel = subprocess.run(
                command, env=options.get("env"), cwd=tmp_path, capture_output=True, text=True,
                timeout=60,
            )  # fmt: skip
        finally:
            other.close()
            manager.cleanup_resources()
        assert kernel.returncode != 0 and "Address already in use" in kernel.stderr, (
            "a kernel whose port was taken before it started did not fail with 'Address "
            "already in use': docs/_ext/workarounds/nbclient_unix_sockets.py may go",
            kernel.stderr[-1000:],
        )


# -- sphinx_parallel_chunks ---------------------------------------------------------------------

#: A throwaway extension: reverses the pages to read, and logs the order and who read what.
RECORDER = """
import os
from pathlib import Path

LOG = Path(__file__).with_name("read.log")

def reverse(app, env, docnames):
    docnames.reverse()
    LOG.write_text(" ".join(docnames) + "\\n")

def record(app, docname, source):
    with LOG.open("a") as log:
        log.write(f"{os.getpid()} {docname}\\n")

def setup(app):
    app.connect("env-before-read-docs", reverse)
    app.connect("source-read", record)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
"""


class TestSphinxParallelChunks:
    def test_each_process_reads_one_contiguous_slice(self, tmp_path: Path) -> None:
        """A ``-j 2`` read gives each process one slice of the list, as make_chunks cuts it.

        When this fails, Sphinx hands pages to its processes another way: the order
        docs/_ext/workarounds/sphinx_parallel_chunks.py sets means nothing any more.
        """
        from sphinx.util.parallel import make_chunks

        source = tmp_path / "source"
        source.mkdir()
        (source / "recorder.py").write_text(RECORDER, encoding="utf-8")
        (source / "conf.py").write_text(
            "import sys; sys.path.insert(0, '.')\nextensions = ['recorder']\n", encoding="utf-8"
        )
        pages = [f"page{i:02}" for i in range(11)]  # and the index: two slices of six
        (source / "index.rst").write_text(
            "Index\n=====\n\n.. toctree::\n\n" + "".join(f"   {p}\n" for p in pages)
        )
        for page in pages:
            (source / f"{page}.rst").write_text(f"{page}\n{'=' * len(page)}\n\nText.\n")
        done = subprocess.run(
            [sys.executable, "-m", "sphinx", "-q", "-j", "2", "-b", "html", str(source),
             str(tmp_path / "html")],
            capture_output=True, text=True, timeout=300, cwd=source,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        order, *reads = (source / "read.log").read_text().splitlines()
        by_process: dict[str, list[str]] = {}
        for line in reads:
            pid, docname = line.split()
            by_process.setdefault(pid, []).append(docname)
        chunks = make_chunks(order.split(), 2)
        assert len(chunks) == 2 and order.split()[0] == "page10"  # the reorder took
        assert sorted(by_process.values()) == sorted(chunks), (by_process, chunks)
        assert str(os.getpid()) not in by_process

    def test_deal_spreads_the_first_pages_over_the_starting_slices(self) -> None:
        """Pages dealt out go to the slices that start first, each onto the least loaded."""
        docnames = [f"d{i}" for i in range(8)]
        first = ["d7", "d6", "d5"]
        weights = {"d7": 3.0, "d6": 2.0, "d5": 2.0}
        assert sphinx_parallel_chunks.deal(docnames, 2, first, lambda d: weights[d])
        assert sphinx_parallel_chunks.chunk_sizes(8, 2) == [4, 4]
        assert docnames[:4] == ["d7", "d0", "d1", "d2"]  # d7 alone, the heaviest
        assert docnames[4:] == ["d6", "d5", "d3", "d4"]
        assert sorted(docnames) == [f"d{i}" for i in range(8)]


# -- jupyter_cache_tables ----------------------------------------------------------------------


class TestJupyterCacheTables:
    def test_a_new_cache_creates_its_tables_unguarded(self, tmp_path: Path) -> None:
        """Opening a new cache runs plain CREATE TABLE statements, after a check of the file.

        Two processes that both find no database both create the tables, and the
        second fails.  When this fails (``IF NOT EXISTS``, or no table creation on
        open), the race is gone and docs/_ext/workarounds/jupyter_cache_tables.py may go.
        """
        from jupyter_cache import get_cache
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        statements: list[str] = []

        def keep(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(" ".join(statement.split()))

        event.listen(Engine, "before_cursor_execute", keep)
        try:
            get_cache(tmp_path / "cache").db.dispose()
        finally:
            event.remove(Engine, "before_cursor_execute", keep)
        creates = [s for s in statements if s.upper().startswith("CREATE TABLE")]
        assert creates, statements
        assert not [s for s in creates if "IF NOT EXISTS" in s.upper()], creates

    def test_the_tables_exist_before_any_process_starts(self, tmp_path: Path) -> None:
        """create_before_fork makes the database and its tables, and keeps no connection."""
        assert jupyter_cache_tables.create_before_fork(tmp_path / "cache")
        with sqlite3.connect(tmp_path / "cache" / "global.db") as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert {"settings", "nbcache", "nbproject"} <= tables, tables


# -- autodoc_typehints_deprecation ----------------------------------------------------------------


class TestAutodocTypehintsDeprecation:
    def test_the_package_still_calls_the_deprecated_api(self) -> None:
        """sphinx-autodoc-typehints still calls ``set_application`` on its snippet parser.

        When this fails it no longer does, its warnings are gone, and the workaround
        can go.
        """
        import inspect

        from sphinx_autodoc_typehints import _parser

        assert ".set_application(" in inspect.getsource(_parser.parse)

    def test_sphinx_warns_and_the_filter_matches(self) -> None:
        """Sphinx warns when it is called, in a message the workaround's filter matches."""
        import warnings
        from types import SimpleNamespace

        from sphinx_autodoc_typehints._parser import _RstSnippetParser

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _RstSnippetParser().set_application(SimpleNamespace(config=None, env=None))
        (warning,) = caught
        assert issubclass(warning.category, DeprecationWarning)
        assert re.match(autodoc_typehints_deprecation.MESSAGE, str(warning.message))
