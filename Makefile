# drportal: `make run` (the product, embedded PostgreSQL and Redis, demo data) and `make test` (the suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
LINT_PACKAGES := drportal backups notifications scenarios outbox bench
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-10)

.PHONY: run test install system-deps lint audit bench clean-var validate fuzz

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

# Real peers for the tests: PowerDNS, Chromium and docker-compose (to validate docker-compose.yml) from Debian's packages (needs root; skipped otherwise).
system-deps:
	@bash .ci/system-deps

run: install
	PORT=$(PORT) $(PY) -m drportal.run

# Style, then the apps' layers and cycles ([tool.importlinter] in pyproject.toml), then no borrowed _names, then
# no function over 60 lines without a reason.
lint: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) .ci/private_names.py $(LINT_PACKAGES)
	$(PY) .ci/long_functions.py $(LINT_PACKAGES)

audit: install
	PY=$(PY) bash .ci/audit

validate: install

test: install system-deps lint audit
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py validate_scenarios
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install system-deps
	$(PY) -m bench

clean-var:
	$(PY) -m drportal.lib.standin_pg stop || true
	$(PY) -m drportal.lib.embedded stop || true
	rm -rf var

# The API contract fuzzed harder than in `make test` (README, "Fuzzing"): FUZZ_EXAMPLES per operation and phase.
FUZZ_EXAMPLES ?= 1000
fuzz: install
	CONTRACT_EXAMPLES=$(FUZZ_EXAMPLES) CONTRACT_SEED=$${CONTRACT_SEED:-$$RANDOM} $(PY) -m pytest tests/hostile/test_api_contract.py -q -s
