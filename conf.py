"""Sphinx configuration for the schedtutor site.

This file sits at the top of the repository; the sources are in ``docs/``.
Build with the conf dir and the source dir given apart::

    python -m sphinx -nW --keep-going -b html -d _build/doctrees -c . docs _build/html

(``make docs`` runs exactly that; Read the Docs runs it too, see
``.readthedocs.yaml``.)

The tutorials are MyST text notebooks that are executed on every build, so
every number, graph and table on them comes from this build:

* ``SCHEDTUTOR_EXECUTION`` -- unset or ``force`` (default): run every notebook
  on every build.  ``cache``: re-run a notebook only when its code cells
  changed.  The cache key is the code cells only -- a change to the library
  does *not* re-run the notebooks, so never publish from the cache.
* ``SCHEDTUTOR_DELAY`` -- seconds each slow op works (default 1.0); the
  notebooks read it through ``schedtutor.ops.default_delay()``, so
  ``SCHEDTUTOR_DELAY=0.2`` builds the whole site quickly.
* ``SCHEDTUTOR_FREE_THREADED_PYTHON`` -- a free-threaded Python (3.13t, 3.14t)
  with schedtutor installed, in which lesson 3 measures threads without the
  GIL; default: ``.venv-ft/bin/python`` when ``make free-threaded`` made it.

A cell that raises fails the build, except cells tagged ``raises-exception``
(they show an error on purpose).

There is no intersphinx: the build must not need the network.  References to
other projects' objects (``dask.delayed.Delayed``, ``collections.abc.Iterator``
...) therefore render as plain names and are excluded from the nitpicky check;
an unresolved reference to a ``schedtutor`` object is still an error.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from importlib.metadata import version as _version
from pathlib import Path

from sphinx.errors import ConfigError

from schedtutor import settings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "docs" / "_ext"))

# Workarounds for other packages' bugs, each gated to the versions it was written for,
# live in docs/_ext/workarounds/; this one must come before the extensions load.
from workarounds import autodoc_typehints_deprecation  # noqa: E402

autodoc_typehints_deprecation.apply()

# -- Project ------------------------------------------------------------------
project = "schedtutor"
author = "schedtutor developers"
copyright = f"2018-{datetime.now(UTC).year}, {author}"
release = _version("schedtutor")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_autodoc_typehints",  # after napoleon, so it sees NumPy sections
    "sphinx_copybutton",
    "sphinx_design",
    # docs/_ext: the CLI and API directives, .ipynb downloads, a one-line stop when
    # graphviz's `dot` is missing or a notebook fails
    "schedtutor_docs",
    # docs/_ext: in a parallel build (-j N), a notebook that times CPU-bound work runs
    # alone, and those that mostly sleep run side by side
    "parallel_notebooks",
    # docs/_ext: every sentence marked [...]{.claim:label} is backed by a check that
    # held in this build; the "What this build checked" page lists them all
    "claims",
    # docs/_ext: BokehJS, from the site's own _static, on pages with interactive timelines
    "bokeh_pages",
    # docs/_ext: a picture glued in one notebook, shown with a caption and alt text on
    # another page (the front page shows lesson 2's timelines)
    "pasted_figure",
]

exclude_patterns = ["_build", "_ext", "_static", "_conventions.md", "**/.ipynb_checkpoints"]

# -- MyST and notebook execution ---------------------------------------------
# attrs_inline: a claimed sentence is a span, [...]{.claim:label} (docs/_ext/claims.py)
myst_enable_extensions = ["attrs_inline", "colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# Notebooks run in a temporary folder, against the library as installed: on Read
# the Docs that is a wheel in site-packages, not this checkout.  The "How fast is
# this?" page reads the committed benchmark results, so tell it where they are
# (unless SCHEDTUTOR_BENCHMARKS already names another folder of results).
if not settings.benchmarks_folder(default="").parts:
    os.environ[settings.BENCHMARKS] = str(HERE / "benchmarks")

# Lesson 3 runs its four tasks once more in a free-threaded interpreter: the one
# SCHEDTUTOR_FREE_THREADED_PYTHON names, or else the one `make free-threaded` put in
# .venv-ft/.  With neither, the lesson says it had none to measure.
_FREE_THREADED_PYTHON = HERE / ".venv-ft" / "bin" / "python"
if not settings.free_threaded_python() and _FREE_THREADED_PYTHON.exists():
    os.environ[settings.FREE_THREADED_PYTHON] = str(_FREE_THREADED_PYTHON)

try:
    nb_execution_mode = settings.execution_mode()
except ValueError as error:
    raise ConfigError(str(error)) from None
nb_execution_raise_on_error = True  # a failing cell fails the build...
nb_execution_allow_errors = False  # ...unless it is tagged raises-exception
nb_execution_timeout = 900  # seconds per cell: the timing cells sleep a lot at 1 s per op
nb_execution_in_temp = True  # a notebook never writes files into docs/
nb_execution_show_tb = True
nb_merge_streams = True
nb_render_markdown_format = "gfm"  # Markdown outputs may hold tables

# -- API reference --------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
typehints_document_rtype = True
typehints_use_rtype = False
always_document_param_types = False

# No intersphinx (offline build): other projects' names stay plain text, and so
# do references to private modules (schedtutor._work ...), which are not documented.
nitpick_ignore_regex = [(r"py:.*", r"(?!schedtutor\b).*"), (r"py:.*", r"schedtutor\._.*")]

# -- HTML -------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "schedtutor"
# Without a default, a reader's first visit logs "Got invalid theme mode" to the console.
html_context = {"default_mode": "auto"}
html_theme_options = {
    "use_download_button": True,  # .md source and the executed .ipynb of each tutorial
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
}
# Read the Docs sets the canonical URL of the version it builds.
html_baseurl = os.environ.get("READTHEDOCS_CANONICAL_URL", "")

html_static_path = [str(HERE / "docs" / "_static")]

copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
