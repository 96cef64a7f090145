# Every target creates and reuses .venv, so each works on a fresh clone with nothing done first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# GreenOps' Boavizta cross-check: boaviztapi pins an old FastAPI/pandas for its own server;
	# the library part sentier calls works with ours, so it comes without its pins.
	$(BIN)/python -m pip install --quiet --no-deps 'boaviztapi==2.5.0'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sentier demo up

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/catalog_ingest.py
	$(BIN)/python bench/events.py
	$(BIN)/python bench/kics_parity.py
	$(BIN)/python bench/iac_scan.py
	$(BIN)/python bench/loghub.py
	$(BIN)/python bench/nab.py
	$(BIN)/python bench/incidents.py
	$(BIN)/python bench/finops.py
	$(BIN)/python bench/carbon.py
	$(BIN)/python bench/conformance.py
	# Needs root and the local PostgreSQL (restarted once) and RabbitMQ: about 6 minutes.
	$(BIN)/python bench/soak.py

	$(BIN)/python bench/detect.py

clean:
	rm -rf $(VENV) .sentier .pytest_cache .mypy_cache .ruff_cache
