# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
COVERAGE_FLOOR := $(shell cat .ci/coverage-floor 2>/dev/null || echo 0)

.PHONY: install run run-fresh test lint typecheck pytest coverage-ratchet bench chaos check-config lock clean

install: $(STAMP)

# Everything from the hash-checked lock files (the Dockerfile installs the same way).
$(STAMP): requirements.lock requirements-build.lock requirements-runtime.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet --require-hashes -r requirements-build.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# sim mode: embedded simulated exchange, no credentials; config/alchemiser.toml if present, else defaults.
run: $(STAMP)
	$(VENV)/bin/alchemiser run --mode sim

# sim mode from a new simulated account: the previous store and exchange state move to var/archive/.
run-fresh: $(STAMP)
	$(VENV)/bin/alchemiser run --mode sim --fresh

check-config: $(STAMP)
	$(VENV)/bin/alchemiser check-config

lint: $(STAMP)
	$(VENV)/bin/ruff check alchemiser tests benchmarks
	$(VENV)/bin/ruff format --check alchemiser tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest -q -p no:cacheprovider --cov=alchemiser --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR)

test: lint typecheck pytest

# Raise .ci/coverage-floor to the coverage of the last `make test` (never lowers it).
coverage-ratchet: $(STAMP)
	$(PY) .ci/ratchet_coverage.py

# Crash-point chaos: >= 100 randomised SIGKILLs of a real daemon against the sim exchange, invariants after each
# scenario; prints the seed (CHAOS_ARGS="--seed N" replays a run) and ends with "chaos: N crash points, ...".
CHAOS_ARGS ?= --points 100
chaos: $(STAMP)
	$(PY) -m tests.chaos $(CHAOS_ARGS)

bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Re-pin every lock after a dependency change in pyproject.toml (needs `uv`: `pip install uv`).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock
	uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements-runtime.lock
	printf 'setuptools>=68\nwheel>=0.43\n' | uv pip compile - --python-version 3.11 --generate-hashes -o requirements-build.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
