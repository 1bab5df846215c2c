# Developer entry points. `make test` works on a fresh machine: it installs what it needs.
PYTHON ?= python3
VENV ?= .venv
CHECKOV_VENV ?= .venv-checkov
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint bench clean

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

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	terraform fmt -check -recursive infra

bench: install
	$(BIN)/python bench/bench_cli.py
	$(BIN)/python -m tests.terraform.bench_plan
	$(BIN)/python tests/local/bench_local.py
	$(BIN)/python bench/bench_backup.py
	$(BIN)/python bench/bench_server.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache
