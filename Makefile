PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config/feeds.yaml

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamp files re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/feedwatch -c $(CONFIG) run

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n auto

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(VENV)/.installed $(VENV)/.installed-dev $@

# Both benchmarks print side-by-side ratios measured in one run; see bench/*.py for options.
bench: $(VENV)/.installed-bench
	$(BIN)/python bench/summary_quality.py
	$(BIN)/python bench/poll.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
