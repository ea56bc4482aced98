# Two commands set everything up on a fresh machine:
#   make docs   build the site into _build/html (creates .venv, installs what it needs)
#   make test   run the test suite in the same environment
# Fast mode: SCHEDTUTOR_DELAY=0.2 make docs (two jobs).  Cache mode: SCHEDTUTOR_EXECUTION=cache make docs.
#   make free-threaded   a free-threaded CPython in .venv-ft, for lesson 3 (both targets use it)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SPHINXOPTS ?= -nW --keep-going
HTML   := _build/html

.PHONY: docs test lint bench clean dot chromium venv free-threaded free-threaded-for-docs

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "make: installing schedtutor[docs,test] into $(VENV) ..."
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[docs,test]'
	@rm -f $(VENV)/.installed-* && touch $@

# graphviz's `dot` draws the task graphs; install it with apt-get where we can.
dot:
	@command -v dot >/dev/null 2>&1 || ./.ci/install-system-packages graphviz || { \
	  echo "make: graphviz's 'dot' is missing: run 'sudo apt-get install graphviz' (Debian/Ubuntu) or 'brew install graphviz' (macOS), then try again" >&2; exit 1; }

# Debian's Chromium drives the browser test of the built site.
chromium:
	@command -v chromium >/dev/null 2>&1 || ./.ci/install-system-packages chromium || { \
	  echo "make: Chromium is missing: run 'sudo apt-get install chromium' for the browser test, then try again" >&2; exit 1; }

# Lesson 3 measures threads without the GIL in a second interpreter, .venv-ft's (conf.py
# points the notebooks at it): python3.14t/3.13t from PATH, or CPython 3.13 compiled with
# --disable-gil from Debian's source package (about 2.5 minutes, once).  Every target
# that builds the site needs it: lesson 3 checks what it measured there, and those
# checks fail without it.  `make docs` and `make bench` use the interpreter
# SCHEDTUTOR_FREE_THREADED_PYTHON names instead, when it is set.
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
# (and the prediction-accuracy table in benchmarks/prediction-accuracy.md).  About 25 minutes.
bench: $(STAMP) dot free-threaded-for-docs
	$(PY) benchmarks/bench.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf _build .jupyter_cache
