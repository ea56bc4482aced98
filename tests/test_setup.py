"""Setting up: the lock, the one-line stops when something is missing, and a build without root.

* The lock (requirements/lock.txt) pins every requirement of pyproject.toml, for the
  Python Read the Docs builds with, and this environment holds exactly its versions.
* When a system package is missing, ``make`` stops with one line naming it and the
  commands that install it on Debian/Ubuntu and macOS: a Python without ``ensurepip``
  (Debian's python3-venv), a C compiler for the free-threaded CPython, a
  free-threaded interpreter without ``ssl`` (its headers), graphviz, Chromium.
  Each is made missing for real -- an interpreter whose standard library lacks the
  module, a ``PATH`` without the program -- never by a stand-in that prints the message.
* ``SCHEDTUTOR_DELAY=0.2 make docs`` succeeds for a user who is not root, in a copy of
  the checkout: when the tests run as root, as a user they create
  (``schedtutor-builder``, kept for the next run, with its pip cache in
  ``/var/tmp/schedtutor-builder-cache``).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from schedtutor import environment
from tests.conftest import FAST_DOCS_DELAY, ROOT, path_without

LOCK = ROOT / "requirements" / "lock.txt"

#: The user the non-root build runs as, when the tests run as root.
BUILDER = "schedtutor-builder"

#: Its pip cache, kept between runs so that only the first downloads the lock's wheels.
BUILDER_CACHE = Path("/var/tmp/schedtutor-builder-cache")


def normal(name: str) -> str:
    """A package name as pip compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    """The lock's pins, by normalised name."""
    pins = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", LOCK.read_text(encoding="utf-8"), re.M)
    return {normal(name): pin for name, pin in pins}


def requirements() -> list[Requirement]:
    """Every requirement of pyproject.toml: the dependencies and the docs and test extras."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in [*project["dependencies"], *extras["docs"], *extras["test"]]]


class TestLock:
    def test_every_requirement_is_pinned_within_its_range(self) -> None:
        """Each requirement of pyproject.toml has a pin in the lock that satisfies it."""
        pins = locked()
        stale = [
            f"{r} (lock: {pins.get(normal(r.name), 'none')})"
            for r in requirements()
            if normal(r.name) not in pins or not r.specifier.contains(pins[normal(r.name)], True)
        ]
        assert not stale, f"requirements/lock.txt is stale, run `make lock`: {stale}"

    def test_the_lock_is_for_the_makefile_s_python_on_linux(self) -> None:
        """The lock was resolved for Linux and the Python the Makefile and Read the Docs name."""
        header = LOCK.read_text(encoding="utf-8")[:600]
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        python = re.search(r"^LOCK_PYTHON := (\S+)$", makefile, re.M)
        assert python and f"--python-version {python[1]}" in header, header
        assert "--python-platform linux" in header and "-o requirements/lock.txt" in header
        assert not re.search(r"(?<![\w.])/(?:home|root|tmp|work|Users|var)/", LOCK.read_text())

    def test_this_environment_is_the_lock(self) -> None:
        """Every package the lock pins is installed here at that version, as make installs it.

        The stamp on each page reads the same versions.
        """
        pins = locked()
        wrong = {}
        for name, pin in pins.items():
            try:
                found = version(name)
            except Exception:
                found = "missing"
            if found != pin:
                wrong[name] = (pin, found)
        assert not wrong, f"not the lock's versions (lock, installed): {wrong}"
        stamp = environment()
        assert (stamp.dask, stamp.distributed, stamp.numpy) == (
            pins["dask"],
            pins["distributed"],
            pins["numpy"],
        )


# -- the one-line stops ---------------------------------------------------------------------


def python_without(folder: Path, *modules: str, python: str = sys.executable) -> Path:
    """A real copy of the interpreter ``python`` whose standard library lacks ``modules``.

    The interpreter is copied and every entry of its standard library (and of
    ``lib-dynload``) is linked, except the modules named: what Debian's python3
    is without python3-venv (``ensurepip``), or a CPython built without the
    OpenSSL headers (``_ssl``).
    """
    where = subprocess.run(
        [python, "-c", "import json, os, sys, sysconfig; print(json.dumps([os.path.realpath("
         "getattr(sys, '_base_executable', sys.executable)), sysconfig.get_paths("
         "vars={'base': sys.base_prefix, 'installed_base': sys.base_prefix})['stdlib']]))"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    base, stdlib = (Path(p) for p in json.loads(where.stdout))
    dynload = stdlib / "lib-dynload"
    lib = folder / "lib" / stdlib.name
    (folder / "bin").mkdir(parents=True)
    (lib / "lib-dynload").mkdir(parents=True)
    shutil.copy2(base, folder / "bin" / base.name)
    for entry in stdlib.iterdir():
        if entry.name not in ("lib-dynload", "site-packages") and entry.stem not in modules:
            (lib / entry.name).symlink_to(entry)
    for entry in dynload.iterdir() if dynload.is_dir() else []:
        if entry.name.split(".")[0] not in modules:
            (lib / "lib-dynload" / entry.name).symlink_to(entry)
    copy = folder / "bin" / base.name
    check = subprocess.run([str(copy), "-c", "import os"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.fail(f"the copy of {base} does not start: {check.stderr[-500:]}")
    return copy


def copy_checkout(destination: Path) -> Path:
    """Copy the checkout's files (tracked, and new ones git does not ignore) to ``destination``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def one_line(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not make's own ``make: *** [...] Error`` report."""
    return [line for line in stderr.splitlines() if line and not MAKE_ERROR.match(line)]


#: make's own report of a failed recipe (``make[1]:`` when make runs make).
MAKE_ERROR = re.compile(r"make(\[\d+\])?: \*\*\* ")


def outside_make() -> dict[str, str]:
    """This environment without what ``make test`` passes down to a make it runs.

    A make run from inside another reports as ``make[1]:`` and announces the
    folders it enters, as a user's own ``make`` would not.
    """
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


class TestOneLineStops:
    def test_a_python_without_venv_support(self, tmp_path: Path) -> None:
        """A Python whose venv cannot work (no ensurepip) stops make in one line: python3-venv."""
        python = python_without(tmp_path / "python", "ensurepip")
        done = subprocess.run(
            ["make", "venv", f"PYTHON={python}", f"VENV={tmp_path / 'venv'}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=outside_make(),
        )  # fmt: skip
        assert done.returncode != 0
        (line,) = one_line(done.stderr)
        assert "venv module has no ensurepip" in line
        assert "sudo apt-get install python3-venv" in line and "brew install python" in line
        assert not (tmp_path / "venv").exists(), "a half-made environment was left behind"

    def test_a_free_threaded_python_without_ssl_is_refused(self, tmp_path: Path) -> None:
        """An interpreter without ``ssl`` is refused in one line before anything is installed."""
        found = sorted((ROOT / ".venv-ft").glob(".installed-*"))
        assert found, "no .venv-ft: run `make free-threaded` first (make test does)"
        free_threaded = found[0].read_text().strip()
        python = python_without(tmp_path / "python", "_ssl", python=free_threaded)
        copy = copy_checkout(tmp_path / "checkout")
        refused = subprocess.run(
            ["./.ci/install-free-threaded-python"], cwd=copy, capture_output=True, text=True,
            env={**os.environ, "FREE_THREADED_PYTHON": str(python)}, timeout=120,
        )  # fmt: skip
        assert refused.returncode == 1
        (line,) = refused.stderr.splitlines()
        assert "has no ssl or zlib module" in line, line
        assert not (copy / ".venv-ft").exists()

    def test_no_compiler_for_the_free_threaded_python(self, tmp_path: Path) -> None:
        """Without a free-threaded Python, uv or a C compiler: one line naming gcc and Xcode."""
        copy = copy_checkout(tmp_path / "checkout")
        hidden = ("cc", "gcc", "uv", "python3.13t", "python3.14t")
        path = path_without(tmp_path / "bin", *hidden)
        done = subprocess.run(
            ["./.ci/install-free-threaded-python"], cwd=copy, capture_output=True, text=True,
            env={**os.environ, "PATH": path, "FREE_THREADED_PYTHON": ""}, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1
        (line,) = done.stderr.splitlines()
        assert "needs a C compiler" in line and "sudo apt-get install gcc" in line, line
        assert "xcode-select --install" in line


# -- a build without root -------------------------------------------------------------------


def as_builder(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as the non-root builder (this user, when it is not root)."""
    if os.getuid() != 0:
        return subprocess.run(command, cwd=cwd, env={**outside_make(), **env},
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
    home = pwd.getpwnam(BUILDER).pw_dir
    clean = {
        "HOME": home, "USER": BUILDER, "LOGNAME": BUILDER, "LANG": "C.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin:/bin", "PIP_CACHE_DIR": str(BUILDER_CACHE / "pip"),
        **env,
    }  # fmt: skip
    return subprocess.run(
        ["runuser", "-u", BUILDER, "--", "env", "-i", *(f"{k}={v}" for k, v in clean.items()),
         *command],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def builder_checkout() -> Iterator[Path]:
    """A copy of the checkout owned by the non-root builder (made when we are root)."""
    if os.getuid() == 0:
        try:
            pwd.getpwnam(BUILDER)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", BUILDER], check=True)
        BUILDER_CACHE.mkdir(exist_ok=True)
        shutil.chown(BUILDER_CACHE, BUILDER, BUILDER)
    folder = Path(tempfile.mkdtemp(prefix="schedtutor-builder-"))
    try:
        copy = copy_checkout(folder / "schedtutor")
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", f"{BUILDER}:{BUILDER}", str(folder)], check=True)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def shared_free_threaded_python(user: str) -> str:
    """The free-threaded interpreter .venv-ft was made from, when ``user`` can run it."""
    found = sorted((ROOT / ".venv-ft").glob(".installed-*"))
    assert found, "no .venv-ft: run `make free-threaded` first (make test does)"
    interpreter = found[0].read_text().strip()
    check = as_builder([interpreter, "-c", "import ssl, zlib"], Path("/"), {}, 60)
    assert check.returncode == 0, (
        f"{user} cannot run the free-threaded {interpreter} (is it under a private home?): "
        f"{check.stderr[-500:]}"
    )
    return interpreter


@pytest.mark.docs
class TestWithoutRoot:
    def test_make_docs_in_fast_mode(self, builder_checkout: Path) -> None:
        """``SCHEDTUTOR_DELAY=0.2 make docs`` builds the site from the lock, without root."""
        user = BUILDER if os.getuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
        env = {
            "SCHEDTUTOR_DELAY": FAST_DOCS_DELAY,
            "FREE_THREADED_PYTHON": shared_free_threaded_python(user),
            "SCHEDTUTOR_UNVERIFIED": "mark",  # a local rebuild (on a busy machine, too)
        }
        done = as_builder(["make", "docs"], builder_checkout, env, timeout=1800)
        assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        assert done.stdout.splitlines()[-1] == "make: the site is in _build/html/index.html"
        assert "installing the locked versions (requirements/lock.txt)" in done.stdout
        site = builder_checkout / "_build" / "html" / "index.html"
        assert site.exists()
        if os.getuid() == 0:
            assert site.stat().st_uid == pwd.getpwnam(BUILDER).pw_uid
        venv = builder_checkout / ".venv" / "bin" / "python"
        versions = subprocess.run(
            [str(venv), "-c", "import json, schedtutor; print(json.dumps("
             "schedtutor.environment().as_dict()))"],
            capture_output=True, text=True, timeout=120, cwd=builder_checkout,
        )  # fmt: skip
        stamp = json.loads(versions.stdout)
        pins = locked()
        assert (stamp["dask"], stamp["numpy"]) == (pins["dask"], pins["numpy"])

    def test_missing_graphviz_and_chromium_stop_in_one_line(self, builder_checkout: Path) -> None:
        """Without root, a missing dot or Chromium stops make with the commands to install it."""
        hidden = ("dot", "chromium", "chromium-browser", "google-chrome")
        folder = Path(tempfile.mkdtemp(prefix="schedtutor-path-"))
        path = path_without(folder / "bin", *hidden)
        try:
            folder.chmod(0o755)
            for target, wanted in (("dot", "brew install graphviz"), ("chromium", "chromium")):
                done = as_builder(["make", target], builder_checkout, {"PATH": path}, 600)
                assert done.returncode != 0, done.stdout
                (line,) = one_line(done.stderr)
                assert "sudo apt-get install" in line and wanted in line, line
                assert "(macOS)" in line, line
        finally:
            shutil.rmtree(folder, ignore_errors=True)
