# The two commands: `make demo` runs the pipeline on a simulated fleet, `make test` the tests.
# Both set up everything first: a virtualenv with the package, and the local services
# (PostgreSQL + TimescaleDB, Mosquitto) under ./.assetwatch, installing what is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Test processes side by side (pytest-xdist); a test file's tests run in one, so module-scoped
# set-ups (a private cluster, a demo run) are made once.
TEST_WORKERS ?= 2

.PHONY: setup services test-tools demo test lint down clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

services: setup
	$(BIN)/assetwatch stack up

# Tools some tests drive, Debian's packages, installed when missing: headless Chromium (the
# report's screenshot test), docker-compose (validates docker-compose.yml; no engine needed),
# openssl (the edge agent's TLS test makes its certificates) and Debian's own Mosquitto 2.0
# (the broker configuration test for ASSETWATCH_MOSQUITTO=debian).
TEST_TOOLS := chromium:chromium docker-compose:docker-compose openssl:openssl \
              /usr/sbin/mosquitto:mosquitto
test-tools:
	@missing=""; for pair in $(TEST_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $$missing fonts-dejavu-core >/dev/null; \
	  else echo "not installed:$$missing (the tests that need them will be skipped)"; fi; fi

demo: services
	$(BIN)/assetwatch demo

test: services test-tools
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(BIN)/ruff check .

down:
	$(BIN)/assetwatch stack down

clean: down
	rm -rf .assetwatch $(VENV)
