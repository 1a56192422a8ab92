# The two commands: `make run` starts the whole shop on embedded defaults, `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Stamps keyed on the requirement files' checksums, so editing either file re-installs: the runtime
# (requirements.txt, for `make run`) and the development tools on top of it (requirements-dev.txt).
RUN_STAMP := $(VENV)/.installed-run-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# Third-party protocol peers (OctoPrint's virtual printer...) live in a virtualenv of their own: their
# dependencies would clash with the project's pins. Keyed on requirements-peer.txt like the stamps above.
PEER_VENV := .venv-peer
PEER_STAMP := $(PEER_VENV)/.installed-peer-$(shell cat requirements-peer.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# Browser tests drive Debian's Chromium; the test set-up installs it (never a downloaded browser build).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test test-broker test-peers peer-venv lint bench setup clean-var

$(RUN_STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-run-* && touch $(RUN_STAMP)

# requirements-dev.txt starts with `-r requirements.txt`, so this installs the runtime too.
$(DEV_STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-run-* $(VENV)/.installed-dev-* && touch $(RUN_STAMP) $(DEV_STAMP)

$(PEER_STAMP): requirements-peer.txt
	test -x $(PEER_VENV)/bin/python || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEER_VENV)/bin/python -m pip install --quiet -r requirements-peer.txt
	rm -f $(PEER_VENV)/.installed-peer-* && touch $(PEER_STAMP)

## The separate virtualenv of third-party protocol peers (tests/peers/ scripts run in it).
peer-venv: $(PEER_STAMP)

$(CHROMIUM):
	$(SUDO) apt-get install -y chromium || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

setup: $(RUN_STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo

## Start web, worker (and, as later issues add them, simulated machines and camera) on embedded defaults.
run: setup
	@echo "The shop is at http://$(HOST):$(PORT)/ (users and passwords: see README). Ctrl-C stops it."
	@# honcho gives every process its own PORT (base + 100 per process type): the camera gets the web port.
	HOST=$(HOST) PORT=$(PORT) WEB_PORT=$(PORT) $(BIN)/honcho -f Procfile start

## The whole suite on whatever DATABASE_URL / CELERY_BROKER_URL say (embedded defaults when unset).
test: $(DEV_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Only the tests that talk to a real broker and worker (CI runs these against RabbitMQ too).
test-broker: $(DEV_STAMP)
	$(BIN)/python -m pytest -m broker $(PYTEST_ARGS)

## Only the tests against third-party peers (marked `peer`); a missing peer fails them here, never skips.
test-peers: $(DEV_STAMP) $(PEER_STAMP)
	MES_REQUIRE_PEERS=1 $(BIN)/python -m pytest -m peer $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean-var:
	rm -rf var
