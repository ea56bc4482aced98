"""Workaround: sphinx-autodoc-typehints' deprecation warnings stay out of the build log.

sphinx-autodoc-typehints 3.6 (the last release for Python 3.11) parses each
docstring snippet with a parser on which it calls ``set_application``, which
Sphinx 9 deprecates (it goes in Sphinx 10): every documented function then
prints a ``RemovedInSphinx10Warning`` naming ``sphinx_autodoc_typehints``, dozens
of lines in every build log, about code that is not ours.  :func:`apply` has
Python ignore exactly those warnings: a ``DeprecationWarning`` whose message
starts with ``'sphinx_autodoc_typehints.``.

**Written for** sphinx-autodoc-typehints 3.6.  **When it can go:**
``tests/test_workarounds.py::TestAutodocTypehintsDeprecation`` checks that
the package still calls ``set_application`` and that Sphinx still warns about
it; when either stops, so do the warnings, and this workaround can go.
"""

from __future__ import annotations

import warnings

from . import record

WORKAROUND = record(
    "autodoc-typehints-deprecation", "sphinx-autodoc-typehints", ">=3.6,<3.7", __file__
)

#: The start of the warnings' message: the deprecated name, in the package's own module.
MESSAGE = r"'sphinx_autodoc_typehints\."


def apply() -> bool:
    """Ignore sphinx-autodoc-typehints' deprecation warnings, if the gate allows; return whether."""
    if not WORKAROUND.gate():
        return False
    warnings.filterwarnings("ignore", message=MESSAGE, category=DeprecationWarning)
    return True
