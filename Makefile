# The two commands: `make run` starts the whole shop on embedded defaults, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# Browser tests drive Debian's Chromium; the test set-up installs it (never a downloaded browser build).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test test-broker lint bench setup clean-var

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

$(CHROMIUM):
	$(SUDO) apt-get install -y chromium || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

setup: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo

## Start web, worker (and, as later issues add them, simulated machines and camera) on embedded defaults.
run: setup
	@echo "The shop is at http://$(HOST):$(PORT)/ (users and passwords: see README). Ctrl-C stops it."
	HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho -f Procfile start

## The whole suite on whatever DATABASE_URL / CELERY_BROKER_URL say (embedded defaults when unset).
test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Only the tests that talk to a real broker and worker (CI runs these against RabbitMQ too).
test-broker: $(STAMP)
	$(BIN)/python -m pytest -m broker $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean-var:
	rm -rf var
