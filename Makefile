# Funkel — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-load lint format bench bench-smoke clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setup.py compiles bot/core/_fastmatch.c (the fast matcher): editing it must reinstall.
$(VENV)/.installed: pyproject.toml setup.py bot/core/_fastmatch.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml setup.py bot/core/_fastmatch.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed  ## a scripted meetup night with 16 sample attendees (no chat account needed)
	$(BIN)/funkel demo

test: $(VENV)/.installed-dev lint  ## lint, type-check and run the whole test suite
	$(BIN)/python -m pytest

test-load: $(VENV)/.installed-dev  ## only the Matrix load scenario (part of make test): 200 attendees on a real Synapse
	$(BIN)/python -m pytest -s tests/matrix -k two_hundred

lint: $(VENV)/.installed-dev  ## ruff (lint + format check) and mypy on bot/
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy

format: $(VENV)/.installed-dev  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix bot tests bench
	$(BIN)/ruff format bot tests bench

$(VENV)/.installed-bench: pyproject.toml setup.py bot/core/_fastmatch.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.installed-bench  ## pairing benchmark vs random, greedy, exact and an LP bound (n up to 100,000; long)
	$(BIN)/python -m bench.pairing

bench-smoke: $(VENV)/.installed-bench  ## the same benchmark at n = 200 and 1,000 (under a minute)
	$(BIN)/python -m bench.pairing --smoke

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
