"""Tie a sentence to the check that backs it: how this site keeps its prose true.

Every sentence of the schedtutor site that states a measured fact, or a fact
about how Dask behaves, is *marked* in the page's source and *checked* by a
hidden cell of an executed page, during every build.  The mark is a MyST span
whose class names the claim::

    [The threaded run took as long as the single-threaded one.]{.claim:threads-as-slow}

and the check is one call, right after the measurement::

    check("threads-as-slow", abs(t_threads - t_sync) < 0.5 * DELAY,
          {"threads, s": t_threads, "sync, s": t_sync}, "they differ by < half a delay")

The docs build (``docs/_ext/claims.py``) collects both.  It stops with one
line per problem, and publishes nothing, when a marked sentence has no check,
a check backs no sentence, or a check fails.  Otherwise each marked sentence
gets a small ✓ whose tooltip shows the evidence, and the reference page "What
this build checked" lists every claim with its evidence.

Some claims need the machine to themselves: that two threads of NumPy work
run twice as fast as one needs two free CPUs.  Such a check passes the
:class:`~schedtutor.load.Load` measured while the experiment ran and the
free CPUs the claim needs; when the claim does not hold *and* other programs
left fewer CPUs free than that, its status is ``unverified`` rather than
``failed``: the machine could not show it.  The site's published build refuses
an unverified claim like a failed one; a local rebuild may mark it "not
verified on this build" instead (``SCHEDTUTOR_UNVERIFIED=mark``, see
:func:`schedtutor.settings.unverified_claims`).

Every check records a load: the one it is given, or else the load other
programs put on the machine since the previous check (or since this module
was imported) -- the stretch in which the claim's measurement ran; checks that
follow each other at once (one cell's) share it.  So a claim
that fails on a busy machine says so in its one line.

:func:`check` returns a :class:`Check` and, in a Jupyter kernel that has
myst-nb, hands it to the build by *gluing* it under ``claim:<label>``; anywhere
else it only returns it, so a check runs unchanged in a plain script.

>>> result = check("add-and-sub-overlap", 0.19 > 0.1, {"overlap, s": 0.19}, "> 0.1 s")
>>> result.status, result.evidence
('passed', {'overlap, s': '0.19'})
>>> print(result)  # doctest: +ELLIPSIS
✓ add-and-sub-overlap: overlap, s 0.19; held to > 0.1 s; ... CPUs...
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from schedtutor.load import Load, LoadMeter

__all__ = ["GLUE_PREFIX", "LABEL", "STATUSES", "Check", "check"]

GLUE_PREFIX = "claim:"
"""The prefix of the glue key a check is stored under: ``claim:<label>``."""

LABEL = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
"""What a claim's label looks like: lower-case words joined by hyphens."""

STATUSES = ("passed", "failed", "unverified")
"""What a check can come to: its claim held, it did not, or the machine was too busy to tell."""

_SYMBOL = {"passed": "✓", "failed": "✗", "unverified": "?"}

_SINCE_LAST_CHECK = LoadMeter().start()
"""Measures the others' load from one check to the next: a check's default load."""

SAME_STRETCH = 0.5
"""Checks less than this many seconds after the previous one (the same cell's) share its load."""

_last_load: list[Load] = []


def _load_since_last_check() -> Load:
    """The others' load since the previous check; that check's, if it came just before."""
    since = _SINCE_LAST_CHECK.stop()
    _SINCE_LAST_CHECK.start()
    if since.seconds < SAME_STRETCH and _last_load:
        return _last_load[0]
    _last_load[:] = [since]
    return since


def _shown(value: object) -> str:
    """Format one piece of evidence: floats to three significant figures."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


@dataclass(frozen=True)
class Check:
    """One checked claim: its label, whether it held, and the evidence it was held to."""

    label: str
    status: str
    evidence: dict[str, str] = field(default_factory=dict)
    bound: str = ""
    load: str = ""
    """The machine's load while the claim was measured, in words (when it was measured)."""

    @property
    def passed(self) -> bool:
        """Whether the claim held."""
        return self.status == "passed"

    def summary(self) -> str:
        """Return the evidence, the bound and the load in one line (the page's tooltip)."""
        measured = "; ".join(f"{name} {value}" for name, value in self.evidence.items())
        held = f"held to {self.bound}" if self.bound else ""
        return "; ".join(part for part in (measured, held, self.load) if part)

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain JSON-ready data."""
        return asdict(self)

    def __str__(self) -> str:
        return f"{_SYMBOL[self.status]} {self.label}: {self.summary()}"


def check(
    label: str,
    holds: bool,
    evidence: Mapping[str, object] | None = None,
    bound: str = "",
    *,
    load: Load | None = None,
    needs_free_cpus: float | None = None,
) -> Check:
    """Check the claim ``label``: ``holds`` says whether it held, on ``evidence``.

    ``evidence`` names the measured values the claim rests on (floats are shown
    to three significant figures); ``bound`` says in words what they were held
    to.  ``load`` is the machine's load while it was measured
    (:class:`~schedtutor.load.LoadMeter`; by default, the load since the
    previous check); a claim that did not hold while
    other programs left fewer than ``needs_free_cpus`` CPUs free is
    ``unverified``, not ``failed``.  In a Jupyter kernel with myst-nb the
    result is glued for the docs build as ``claim:<label>``.

    >>> from schedtutor.load import Load, LoadMeter
    >>> busy = Load(others=1.9, cpus=2, seconds=3.0)
    >>> check("numpy-threads-faster", False, {"speed-up": 1.1}, "> 1.5",
    ...       load=busy, needs_free_cpus=2).status
    'unverified'

    >>> check("Threads", True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: a claim's label is lower-case words joined by hyphens, ...; got 'Threads'
    """
    if not isinstance(label, str) or not LABEL.match(label):
        raise ValueError(
            "a claim's label is lower-case words joined by hyphens, such as "
            f"'threads-as-slow'; got {label!r}"
        )
    load = load if load is not None else _load_since_last_check()
    if bool(holds):
        status = "passed"
    elif load is not None and needs_free_cpus is not None and load.free < needs_free_cpus:
        status = "unverified"
    else:
        status = "failed"
    described = str(load)
    if needs_free_cpus is not None:
        described += f" (the claim needs {needs_free_cpus:g} free)"
    result = Check(
        label,
        status,
        {str(name): _shown(value) for name, value in (evidence or {}).items()},
        bound,
        described,
    )
    _hand_to_the_build(result)
    return result


def _hand_to_the_build(result: Check) -> None:
    """Glue ``result`` for the docs build, when running in a kernel that can."""
    try:
        from IPython import get_ipython
        from myst_nb import glue
    except ImportError:  # a plain script, or no docs tools installed: nothing to hand on
        return
    if get_ipython() is None:
        return
    glue(GLUE_PREFIX + result.label, _JSON(result.to_dict()), display=False)


class _JSON:
    """Data whose ``text/plain`` form is its JSON: what a notebook output can carry."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __repr__(self) -> str:
        return json.dumps(self.data, ensure_ascii=False)
