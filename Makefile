# MDM Desktop - developer and user entry points.
# Every target creates the virtual environment (.venv) on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= .demo
DEMO_DEVICES ?= 2000
PYTEST_ARGS ?=

.PHONY: run demo test lint format bench clean venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

## Open the console on the embedded SQLite store in your user data folder.
run: $(STAMP)
	$(BIN)/mdm-desktop

## Build a fresh demo clinic (DEMO_DEVICES devices) in $(DEMO_DIR)/ and open the console on it.
demo: $(STAMP)
	@rm -f $(DEMO_DIR)/demo.sqlite3 $(DEMO_DIR)/demo.sqlite3-wal $(DEMO_DIR)/demo.sqlite3-shm
	@mkdir -p $(DEMO_DIR)
	$(BIN)/mdm-desktop demo --db $(DEMO_DIR)/demo.sqlite3 --key-file $(DEMO_DIR)/kek.json --devices $(DEMO_DEVICES)
	$(BIN)/mdm-desktop --db $(DEMO_DIR)/demo.sqlite3 --key-file $(DEMO_DIR)/kek.json

## Run the whole test suite (GUI tests offscreen). PostgreSQL cases run when MDM_TEST_POSTGRES_URL is set.
test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -n 2 --dist loadfile -q -rfEs $(PYTEST_ARGS)

## ruff (lint + format check), mypy --strict, import-linter layer contracts.
lint: $(STAMP)
	$(BIN)/ruff check mdm_desktop tests benchmarks
	$(BIN)/ruff format --check mdm_desktop tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format mdm_desktop tests benchmarks
	$(BIN)/ruff check --fix mdm_desktop tests benchmarks

## Performance figures at realistic scale (100,000 devices).
bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache $(DEMO_DIR)
