"""The stamp every published timing carries: when, with what, on how many CPUs.

A timing means little without the machine and versions that produced it.
:func:`environment` collects them -- and, on purpose, nothing that identifies a
person or a host: no host name, no user name, no paths.
"""

from __future__ import annotations

import platform
import sysconfig
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from dask.system import CPU_COUNT

__all__ = ["Environment", "environment"]


@dataclass(frozen=True)
class Environment:
    """When and with what a measurement ran."""

    utc: str
    python: str
    free_threaded: bool
    dask: str
    distributed: str
    numpy: str
    cpu_count: int
    os: str

    def as_dict(self) -> dict[str, object]:
        """Return the stamp as a plain dict (for JSON)."""
        return asdict(self)

    def __str__(self) -> str:
        build = " (free-threaded)" if self.free_threaded else ""
        return (
            f"Ran {self.utc} with Python {self.python}{build}, dask {self.dask}, "
            f"distributed {self.distributed}, NumPy {self.numpy}, on {self.cpu_count} CPUs "
            f"({self.os})."
        )

    def _repr_markdown_(self) -> str:
        return f"*{self}*"


def environment() -> Environment:
    """Return the stamp of this run: UTC time, versions, CPU count and OS.

    The CPU count is the one Dask sizes its pools by (``dask.system.CPU_COUNT``,
    which respects CPU affinity and container limits).

    >>> stamp = environment()
    >>> stamp.cpu_count >= 1 and stamp.utc.endswith("Z")
    True
    """
    from importlib.metadata import version  # 40 ms: not worth paying in every spawned worker

    return Environment(
        utc=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        python=platform.python_version(),
        free_threaded=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        dask=version("dask"),
        distributed=version("distributed"),
        numpy=version("numpy"),
        cpu_count=int(CPU_COUNT),
        os=f"{platform.system()} {platform.machine()}",
    )
