"""Keep a local cluster's log lines out of the user's output after it closes, too.

:func:`schedtutor.local_cluster` starts ``LocalCluster(silence_logs=50)``:
while the cluster is open, the stream handlers of the ``distributed`` logger
pass only CRITICAL records.  Closing the cluster puts their levels back (the
last step of ``SpecCluster._close``), yet a comm of the closed cluster can log
after that, when a coroutine of its still runs once more on the event loop --
for example ``distributed.batched - INFO - Batched Comm Closed <TCP (closed)
local=tcp://127.0.0.1:40835 ...>`` with a traceback.  It lands in whatever
output is current: in a notebook, the stderr of the cell that runs next,
with the paths of this machine's Python in it.

So :func:`quiet_after_close` records the ports a cluster's scheduler, workers
and nannies listen on, and a filter on the ``distributed`` handlers drops the
records below CRITICAL that name one of those ports on 127.0.0.1 (the only
host :func:`~schedtutor.local_cluster` uses): the cluster's silence lasts as
long as anything of it can still talk.  Records about any other address pass
as before.

Read in distributed 2026.8.  The filter can go when ``SpecCluster._close``
puts the log levels back only once the cluster's comms have finished (read
``distributed/deploy/spec.py``), or when ``schedtutor.local_cluster`` stops
passing ``silence_logs``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_ADDRESS = re.compile(r"127\.0\.0\.1:(\d+)")


class _AboutQuietClusters(logging.Filter):
    """Drop records below CRITICAL that name a port of a silenced local cluster."""

    def __init__(self) -> None:
        super().__init__()
        self.ports: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL or not self.ports:
            return True
        named = _ADDRESS.findall(record.getMessage())
        return not self.ports.intersection(named)


_FILTER = _AboutQuietClusters()


def quiet_after_close(cluster: Any) -> None:
    """Keep ``cluster``'s records below CRITICAL out of the ``distributed`` handlers for good."""
    addresses = [cluster.scheduler_address]
    for worker in cluster.workers.values():  # a Nanny (and its worker's address) or a Worker
        addresses += [str(worker.address), str(getattr(worker, "worker_address", ""))]
    for address in addresses:
        _FILTER.ports.update(_ADDRESS.findall(address))
    for handler in logging.getLogger("distributed").handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
