"""Small tables of results that show themselves well in a notebook, a page or a terminal.

A :class:`Table` is columns and rows of plain values.  It renders as Markdown
in Jupyter (and on the schedtutor site, which shows Markdown outputs as
styled tables) and as aligned text with ``print``.  Floats are shown with
``digits`` decimals; everything else with ``str``.

>>> t = Table(("scheduler", "seconds"), [("sync", 4.0123), ("threads", 3.0)])
>>> print(t)
scheduler  seconds
sync       4.01
threads    3.00
>>> print(t.to_markdown())
| scheduler | seconds |
|---|---|
| sync | 4.01 |
| threads | 3.00 |

:func:`table` builds one from a mapping (``{row name: value}`` or
``{row name: {column: value}}``), the shape most measurements already have.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Table", "table"]


def _cell(value: object, digits: int) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Table:
    """Columns and rows of values; floats shown with ``digits`` decimals."""

    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    digits: int = 2
    caption: str = ""

    def __init__(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[object]],
        digits: int = 2,
        caption: str = "",
    ) -> None:
        columns = tuple(str(c) for c in columns)
        rows = tuple(tuple(row) for row in rows)
        for row in rows:
            if len(row) != len(columns):
                raise ValueError(
                    f"each row needs {len(columns)} values ({', '.join(columns)}), "
                    f"got {len(row)}: {row!r}"
                )
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "digits", digits)
        object.__setattr__(self, "caption", caption)

    def cells(self) -> list[list[str]]:
        """Return the rows as the strings shown."""
        return [[_cell(value, self.digits) for value in row] for row in self.rows]

    def to_markdown(self) -> str:
        """Return the table as GitHub-flavoured Markdown (with its caption above, if any)."""

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        lines = [line(self.columns), "|" + "---|" * len(self.columns)]
        lines += [line(row) for row in self.cells()]
        caption = [self.caption, ""] if self.caption else []
        return "\n".join(caption + lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        rows = [list(self.columns), *self.cells()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(self.columns))]
        text = "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )
        return f"{self.caption}\n{text}" if self.caption else text


def table(
    data: Mapping[object, object],
    columns: Sequence[str] = ("", "value"),
    digits: int = 2,
    caption: str = "",
) -> Table:
    """Return a :class:`Table` of ``data``: one row per key.

    A value that is itself a mapping gives one column per key (the first
    column is ``columns[0]``, the row names); any other value one column,
    ``columns[1]``.

    >>> print(table({"sync": 4.0, "threads": 3.0}, ("scheduler", "seconds")))
    scheduler  seconds
    sync       4.00
    threads    3.00
    >>> print(table({"add": {"start": 0.0, "end": 1.0}}, ("task",)))
    task  start  end
    add   0.00   1.00
    """
    nested = {name: v for name, v in data.items() if isinstance(v, Mapping)}
    if data and len(nested) == len(data):
        inner = list(dict.fromkeys(k for v in nested.values() for k in v))
        return Table(
            (columns[0], *map(str, inner)),
            [(name, *(row.get(k) for k in inner)) for name, row in nested.items()],
            digits,
            caption,
        )
    if len(columns) != 2:
        raise ValueError(f"a mapping of single values makes two columns, got {columns!r}")
    return Table(columns, list(data.items()), digits, caption)
