# The two set-up commands of the README: `make demo` and `make test`. Both create the virtual
# environment on first use and reinstall only when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install demo test lint typecheck unit ui sandbox bench screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/freshcleo demo

lint: $(STAMP)
	$(BIN)/ruff check freshcleo_pipeline freshcleo_pipeline_tests benchmarks
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test: lint unit

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/freshcleo ui $(if $(PORT),--port $(PORT))

sandbox: $(STAMP)
	$(BIN)/freshcleo sandbox serve

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The README's images of the Dagster UI (docs/img), from a fresh demo in a temporary instance; needs Debian's chromium.
screenshots: $(STAMP)
	$(BIN)/python -m benchmarks.screenshots --out docs/img

clean:
	rm -rf $(VENV) .dagster_home .data
