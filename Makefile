# One front door: `make serve`, `make test`, `make lint`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/ansinh db upgrade
	$(BIN)/ansinh serve

# Two workers (the machine's two cores), each with its own embedded PostgreSQL; a test file stays on one worker.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check app ledger reconciliation reports migrations tests bench
	$(BIN)/mypy app ledger reconciliation reports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
