# Developer entry points. `make test` works on a fresh machine: it installs what it needs.
PYTHON ?= python3
VENV ?= .venv
CHECKOV_VENV ?= .venv-checkov
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint docs bench clean

install: $(STAMP) $(CHECKOV_VENV)/bin/checkov

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,local,client]'
	touch $@

# checkov pins an HCL parser that clashes with ours, so it lives in its own virtualenv.
$(CHECKOV_VENV)/bin/checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet checkov

test: install
	$(BIN)/pytest -n 2 -q

LINTED := src tests bench tools

lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy src
	terraform fmt -check -recursive infra
	$(BIN)/python tools/tfdocs.py --check

# Rewrites the input/output tables of infra/modules/*/README.md.
docs: install
	$(BIN)/python tools/tfdocs.py

bench: install
	$(BIN)/python bench/bench_cli.py
	$(BIN)/python -m tests.terraform.bench_plan
	$(BIN)/python tests/local/bench_local.py
	$(BIN)/python bench/bench_backup.py
	$(BIN)/python bench/bench_server.py
	$(BIN)/python -m tests.server.bench_cloudrun_start
	$(BIN)/python -m tests.server.bench_artifacts

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache
