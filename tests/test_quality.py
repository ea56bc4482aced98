"""The code stays lint-clean and strictly typed: ruff and mypy run as part of the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a tool from this environment in the repository root."""
    return subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True,
                          text=True)  # fmt: skip


def test_ruff_check() -> None:
    """ruff finds nothing to report in the repository."""
    done = tool("ruff", "check", ".")
    assert done.returncode == 0, done.stdout


def test_ruff_format() -> None:
    """Every Python file is formatted as ruff formats it."""
    done = tool("ruff", "format", "--check", ".")
    assert done.returncode == 0, done.stdout


def test_mypy_strict() -> None:
    """The library type-checks under mypy --strict."""
    done = tool("mypy")
    assert done.returncode == 0, done.stdout
