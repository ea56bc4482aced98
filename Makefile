# Two commands set everything up on a fresh machine:
#   make docs   build the site into _build/html (creates .venv, installs what it needs)
#   make test   run the test suite in the same environment
# Fast mode: SCHEDTUTOR_DELAY=0.2 make docs (two jobs).  Cache mode: SCHEDTUTOR_EXECUTION=cache make docs.
#   make free-threaded   a free-threaded CPython in .venv-ft, for lesson 3 (both targets use it)
#   make lock            refresh requirements/lock.txt, the exact versions every build installs
#   make floors          the library's tests with every dependency at its floor, in .venv-floors
#   make busy            the fast build and the timing tests 5 times beside one busy CPU
# Neither target needs root when graphviz (and, for make test, Chromium) is installed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The exact versions of everything the docs and test extras need, for Python 3.11 on
# Linux (what Read the Docs builds with: .readthedocs.yaml installs the same file).
LOCK   := requirements/lock.txt
LOCK_PYTHON := 3.11
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
SPHINXOPTS ?= -nW --keep-going
HTML   := _build/html

.PHONY: docs test lint bench busy clean dot chromium venv free-threaded free-threaded-for-docs lock floors

venv: $(STAMP)

# The lock's versions, then schedtutor itself without its dependencies: the environment
# holds what the lock says, and nothing newer that pip would otherwise pick.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || ./.ci/make-venv "$(PYTHON)" $(VENV)
	@$(PY) -c 'import sys; sys.version.startswith("$(LOCK_PYTHON).") or print("make: note: $(LOCK) holds the versions for Python $(LOCK_PYTHON), and $(VENV) has Python " + sys.version.split()[0] + ": if they do not install, make $(VENV) with a Python $(LOCK_PYTHON) (rm -rf $(VENV); make PYTHON=python$(LOCK_PYTHON) ...)", file=sys.stderr)'
	@echo "make: installing the locked versions ($(LOCK)) and schedtutor into $(VENV) ..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -r $(LOCK)
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

# Refresh the lock: the newest versions that pyproject.toml allows, for Python $(LOCK_PYTHON)
# on Linux, with uv (from the lock itself).  Run it after changing a dependency in
# pyproject.toml, or to move the published build to newer versions; then make test, and
# commit requirements/lock.txt.  `make lock UPGRADE=` keeps every pin that still fits and
# only adds or changes what pyproject.toml's change needs.
UPGRADE ?= --upgrade
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --extra docs --extra test $(UPGRADE) \
	  --python-version $(LOCK_PYTHON) --python-platform linux --quiet -o $(LOCK)
	@echo "make: $(LOCK) written; 'git diff $(LOCK)' shows what changed"

# The library's own tests with every direct dependency at its floor in pyproject.toml,
# in a fresh .venv-floors/ (about 4 minutes).
floors:
	@PYTHON="$(PYTHON)" ./.ci/check-floors

# graphviz's `dot` draws the task graphs; install it with apt-get where we can.
dot:
	@command -v dot >/dev/null 2>&1 || ./.ci/install-system-packages graphviz || { \
	  echo "make: graphviz's 'dot' is missing: run 'sudo apt-get install graphviz' (Debian/Ubuntu) or 'brew install graphviz' (macOS), then try again" >&2; exit 1; }

# A Chromium (or Chrome) drives the browser test of the built site: the one
# SCHEDTUTOR_BROWSER names, else chromium, chromium-browser or google-chrome on PATH
# (schedtutor.settings.browser); Debian's is installed with apt-get where we can.
chromium: $(STAMP)
	@$(PY) -c 'from schedtutor.settings import browser; browser() or exit(3)' 2>/dev/null \
	  || ./.ci/install-system-packages chromium || { \
	  echo "make: no Chromium or Chrome for the browser test (SCHEDTUTOR_BROWSER, or chromium, chromium-browser or google-chrome on PATH): run 'sudo apt-get install chromium' (Debian/Ubuntu) or 'brew install --cask chromium' (macOS), or set SCHEDTUTOR_BROWSER to one, then try again" >&2; exit 1; }

# Lesson 3 measures threads without the GIL in a second interpreter, .venv-ft's (conf.py
# points the notebooks at it): python3.14t/3.13t from PATH, one uv downloads, or CPython
# 3.13 compiled with --disable-gil from Debian's source package (about 2.5 minutes, once;
# see .ci/install-free-threaded-python).  Every target that builds the site needs it:
# lesson 3 checks what it measured there, and those checks fail without it.  `make docs`
# and `make bench` use the interpreter SCHEDTUTOR_FREE_THREADED_PYTHON names instead,
# when it is set.
free-threaded:
	@./.ci/install-free-threaded-python

free-threaded-for-docs:
	@test -n "$$SCHEDTUTOR_FREE_THREADED_PYTHON" || ./.ci/install-free-threaded-python

# -E (force mode, the default): read every page on every build, so every notebook
# runs again and no page keeps numbers from an older build.  Cache mode leaves -E out:
# Sphinx re-reads only changed pages and myst-nb re-runs only notebooks whose code
# changed, so a rebuild with nothing changed reads nothing.
# JOBS: how many processes read the pages and run the notebooks (sphinx-build -j N).
# 1 by default; 2 in fast mode (SCHEDTUTOR_DELAY below 0.5 s: schedtutor.ops.fast_mode).
# In parallel a notebook that times CPU-bound work still runs alone, while the others
# run side by side and share the CPUs (docs/_ext/parallel_notebooks.py): publish from
# a serial build.  The recipe's first line asks Python once; the others reuse the answer.
JOBS  ?= $(shell $(PY) -c 'from schedtutor.ops import fast_mode; print(2 if fast_mode() else 1)' 2>/dev/null || echo 1)
FRESH := $(if $(filter cache,$(shell echo '$(SCHEDTUTOR_EXECUTION)' | tr A-Z a-z)),,-E)
docs: $(STAMP) dot free-threaded-for-docs
	$(eval JOBS := $(JOBS))
	@echo "make: building the site: $${SCHEDTUTOR_DELAY:-1.0} s per slow op, notebooks executed in '$${SCHEDTUTOR_EXECUTION:-force}' mode, $(JOBS) job(s)"
	$(PY) -m sphinx $(FRESH) -j $(JOBS) $(SPHINXOPTS) -b html -d _build/doctrees -c . docs $(HTML)
	@echo "make: notebook run times and status: $(HTML)/reference/execution.html"
	@echo "make: the site is in $(HTML)/index.html"

test: $(STAMP) dot chromium free-threaded
	$(PY) -m pytest

# Benchmarks: ratios measured side by side, with targets; results in benchmarks/last-run.json
# (and the prediction-accuracy table in benchmarks/prediction-accuracy.md).  About an hour.
bench: $(STAMP) dot free-threaded-for-docs
	$(PY) benchmarks/bench.py

# The fast build and the timing tests, five times each, beside a busy loop that keeps one
# CPU busy (benchmarks/busy_machine.py; about 45 minutes): how the site holds on a busy
# laptop.  RUNS=N changes the count; IDLE=1 runs them without the loop.
RUNS ?= 5
busy: $(STAMP) dot free-threaded
	$(PY) benchmarks/busy_machine.py --runs $(RUNS) $(if $(IDLE),--idle)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf _build .jupyter_cache .venv-floors
