# One command vocabulary for people and CI. Every target bootstraps .venv from requirements*.txt on first use.
#   make plan STACK=prod      offline plan of a stack (mock engine: no Pulumi CLI, no AWS credentials)
#   make plan STACK=prod ARGS=--json
#   make test                 lint + types + the whole test suite (what .ci/run and CI run)
#   make bench                offline plan time per stack vs. bare registrations on the mock engine
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= sandbox
ARGS ?=

.PHONY: plan test lint typecheck pytest bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

plan: $(VENV)/.installed
	$(PY) -m tools.plan --stack $(STACK) $(ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

pytest: $(VENV)/.installed
	$(PY) -m pytest -q

test: lint typecheck pytest

bench: $(VENV)/.installed
	$(PY) -m tools.bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
