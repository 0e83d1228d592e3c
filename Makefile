# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint install clean bench readme chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: install, then serve the HTTP API on SQLite (./var/escalation.db) with the bundled example
##      trial loaded (idempotently) on port $(PORT) (`make run PORT=8080`); prints the URL and a demo
##      key with the src role; Ctrl-C stops
run: $(STAMP)
	$(BIN)/escalation serve --demo examples/lcar_aio_example.json --port $(PORT)

## lint: ruff (lint and format check) and mypy (strict on the core)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## chromium: Debian's Chromium for the browser tests of the committee's pages (Playwright drives
##           it; no browser is downloaded by Playwright); installed with apt-get when missing
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing chromium (apt-get) for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo -n ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null || \
		echo "could not install chromium: the browser tests will skip (fail under CI=true)"; \
	fi

## test: install, lint, then the whole test suite (browser tests included)
test: lint chromium
	$(BIN)/python -m pytest

## readme: rewrite README.md's console examples with the commands' real output (review the diff)
readme: $(STAMP)
	$(BIN)/python -m tests.test_readme

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
