# The two commands of the README: `make demo` and `make test`. Both set themselves up.
# `make demo` installs only what the exporter needs; `make test` adds the test tools (pyproject's `test`
# extra) and the system tools the tests run for real (scripts/ensure-*.sh).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP    := $(VENV)/.installed-test

.PHONY: setup setup-runtime tools test lint generate demo demo-stack image lock bench clean

$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(TEST_STAMP): $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

setup-runtime: $(RUNTIME_STAMP)

setup: $(TEST_STAMP)

tools:
	scripts/ensure-tools.sh
	scripts/ensure-image-tools.sh

lint: setup
	$(BIN)/ruff check .

# The alert rules and dashboards, from mixin/vocabulary.py (README.md, "Tuning alerts and dashboards"),
# and the Kubernetes objects made from them (deploy/kubernetes/components/exporter/generated/).
generate:
	$(PYTHON) alerts/build.py
	$(PYTHON) dashboards/build.py
	$(PYTHON) deploy/build.py

# Includes building the image and running it (tests/packaging/test_image.py, via scripts/image-build.sh).
test: setup tools lint
	$(BIN)/pytest

# The container image, without a Docker engine (README.md, "Container image").
image: setup-runtime tools
	scripts/image-build.sh

# requirements.lock again, after a change of pyproject.toml's dependencies.
lock:
	scripts/lock.sh

demo: setup-runtime
	$(BIN)/azure-backup-exporter demo

FAST ?=
demo-stack: setup tools
	$(BIN)/python scripts/demo-stack $(if $(FAST),--fast)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache wheelhouse/*.whl
