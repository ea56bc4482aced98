"""Read the code cells of a MyST text notebook: what a reader sees, and what runs hidden."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

#: A code cell: its fence, its options (``:tags: [...]``), its code.
CELL = re.compile(
    r"^(?P<fence>`{3,})\{code-cell\}[^\n]*\n(?P<body>.*?)^(?P=fence)\s*$", re.S | re.M
)
TAGS = re.compile(r"^:tags:\s*\[(?P<tags>[^\]]*)\]\s*$", re.M)

#: Tags that hide a cell's code from the reader.
HIDDEN = {"remove-cell", "remove-input"}


@dataclass(frozen=True)
class Cell:
    """One code cell: its tags and its code."""

    tags: frozenset[str]
    code: str
    line: int

    @property
    def visible(self) -> bool:
        """Whether a reader sees the cell's code (collapsed or not)."""
        return not self.tags & HIDDEN

    @property
    def fails_on_purpose(self) -> bool:
        """Whether the cell shows an error on purpose."""
        return "raises-exception" in self.tags


def code_cells(text: str) -> list[Cell]:
    """Return the code cells of a MyST notebook's text, in order."""
    cells = []
    for match in CELL.finditer(text):
        body = match.group("body")
        options = [line for line in body.splitlines() if line.startswith(":")]
        tags: set[str] = set()
        for option in options:
            found = TAGS.match(option)
            if found:
                tags |= {t.strip() for t in found.group("tags").split(",") if t.strip()}
        code = "\n".join(line for line in body.splitlines() if not line.startswith(":"))
        line = text.count("\n", 0, match.start()) + 1
        cells.append(Cell(frozenset(tags), code.strip("\n"), line))
    return cells


def as_script(text: str) -> str:
    """Return a notebook's visible code, in order, as a script under a main guard.

    Cells that fail on purpose are left out.  The guard is what any script that
    starts worker processes needs: they re-import the main module.
    """
    body = "\n\n".join(c.code for c in code_cells(text) if c.visible and not c.fails_on_purpose)
    return 'if __name__ == "__main__":\n' + textwrap.indent(body or "pass", "    ") + "\n"
