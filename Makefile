# The two commands: `make demo` runs the pipeline on a simulated fleet, `make test` the tests.
# Both set up everything first: a virtualenv with the package, and the local services
# (PostgreSQL + TimescaleDB, Mosquitto) under ./.assetwatch, installing what is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup services browser demo test lint down clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

services: setup
	$(BIN)/assetwatch stack up

# Headless Chromium for the report's screenshot test (Debian's package, installed when missing).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium fonts-dejavu-core >/dev/null; \
	  else echo "chromium not found: the report screenshot test will be skipped"; fi; }

demo: services
	$(BIN)/assetwatch demo

test: services browser
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

down:
	$(BIN)/assetwatch stack down

clean: down
	rm -rf .assetwatch $(VENV)
