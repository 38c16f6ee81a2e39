# One command vocabulary for people and CI. Every target creates .venv from requirements*.txt on first use.
#   make plan STACK=prod      offline plan of a stack (mock engine: no Pulumi CLI, no AWS credentials)
#   make plan STACK=prod ARGS=--json
#   make test                 lint + types + the whole test suite (what .ci/run and CI run)
#   make audit STACK=prod     audit rules + checkov on the offline plan; exit 1 on a mandatory failure or an unaccepted
#                             checkov finding (ARGS="--json|--no-checkov"; checkov runs from .venv-audit, offline)
#   make cost STACK=prod      monthly estimate from pricing/prices.yaml (ARGS="--json|--budget 900 --fail-over-budget")
#   make deploy-time STACK=prod  modelled wall time of a fresh `pulumi up`, critical path, ordering findings
#   make diagram STACK=prod   writes docs/diagram-$(STACK).png (ARGS="--format svg")
#   make bench                offline plan time per stack vs. bare registrations on the mock engine
#   make bench-scale STACK=prod   offline plan time for the default catalog and 8/80/400 generated services
#   make charts               pull the pinned Helm charts into .charts/ for the render tests (ARGS="--only vault")
#   make verify STACK=prod    post-deploy checks of the live cluster (needs its kubeconfig; ARGS="--json --window 30m")
PYTHON ?= python3
VENV ?= .venv
# checkov's own virtualenv (requirements-audit.txt): its dependency pins conflict with the program's.
AUDIT_VENV ?= .venv-audit
PY := $(VENV)/bin/python
STACK ?= sandbox
ARGS ?=

.PHONY: plan test lint typecheck pytest bench clean audit cost deploy-time diagram

$(VENV)/.installed: requirements.txt requirements-dev.txt policy_pack/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(AUDIT_VENV)/.installed: requirements-audit.txt
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-audit.txt
	touch $@

plan: $(VENV)/.installed
	$(PY) -m tools.engine.plan --stack $(STACK) $(ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

pytest: $(VENV)/.installed $(AUDIT_VENV)/.installed
	$(PY) -m pytest -q -n 2

test: lint typecheck pytest

audit: $(VENV)/.installed $(AUDIT_VENV)/.installed
	$(PY) -m tools.audit_report --stack $(STACK) $(ARGS)

cost: $(VENV)/.installed
	$(PY) -m tools.cost --stack $(STACK) $(ARGS)

deploy-time: $(VENV)/.installed
	$(PY) -m tools.deploy_time --stack $(STACK) $(ARGS)

diagram: $(VENV)/.installed
	$(PY) -m tools.diagram --stack $(STACK) $(ARGS)

bench: $(VENV)/.installed
	$(PY) -m tools.engine.bench

clean:
	rm -rf $(VENV) $(AUDIT_VENV) .pytest_cache .mypy_cache .ruff_cache

# verify: trust chain, certificates, Vault, mesh coverage, mTLS edges, denials; exit 1 on a failure, 2 cannot connect.
.PHONY: verify bench-scale charts
verify: $(VENV)/.installed
	$(PY) -m tools.verify --stack $(STACK) $(ARGS)

bench-scale: $(VENV)/.installed
	$(PY) -m tools.engine.bench_scale --stack $(STACK) $(ARGS)

# charts: every chart config/versions.py pins, pulled once into .charts/ (the render tests' fallback when the upstream chart data is absent).
charts: $(VENV)/.installed
	$(PY) -m tools.charts $(ARGS)
