# The two commands of the README:  `make demo`  and  `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup demo test test-setup lint bench clean

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The main job on the embedded default: a local sandbox authorization server, a few accounts,
# tokens refreshed before they expire, a live table, a summary.
demo: setup
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
