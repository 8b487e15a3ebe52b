# The two commands of the README: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup tools test lint generate demo demo-stack bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

tools:
	scripts/ensure-tools.sh

lint: setup
	$(BIN)/ruff check .

# The alert rules and dashboards, from mixin/vocabulary.py (README.md, "Tuning alerts and dashboards").
generate:
	$(PYTHON) alerts/build.py
	$(PYTHON) dashboards/build.py

test: setup tools lint
	$(BIN)/pytest

demo: setup
	$(BIN)/azure-backup-exporter demo

demo-stack: setup tools
	$(BIN)/python scripts/demo-stack

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
