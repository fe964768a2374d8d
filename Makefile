# The two commands: `make demo` runs the pipeline on a simulated fleet, `make test` the tests.
# Both set up everything first: a virtualenv with the package, and the local services
# (PostgreSQL + TimescaleDB, Mosquitto) under ./.assetwatch, installing what is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup services demo test lint down clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

services: setup
	$(BIN)/assetwatch stack up

demo: services
	$(BIN)/assetwatch demo

test: services
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

down:
	$(BIN)/assetwatch stack down

clean: down
	rm -rf .assetwatch $(VENV)
