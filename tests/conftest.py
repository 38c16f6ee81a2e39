"""Shared test plumbing: the repo root on sys.path and one cached offline plan per stack.

Every stack's real program runs once per test session on the mock engine (`tools.mock_engine.run_stack`, the same
runner `make plan` uses); tests then assert on the recorded registrations.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.mock_engine import Plan, run_stack  # noqa: E402

STACKS = ("sandbox", "dev", "staging", "prod")
HA = ("staging", "prod")
_PLANS: dict[str, Plan] = {}


def plan_of(stack: str) -> Plan:
    """The stack's offline plan, computed once per session."""
    if stack not in _PLANS:
        _PLANS[stack] = run_stack(stack)
    return _PLANS[stack]


@pytest.fixture(params=STACKS)
def stack_plan(request: pytest.FixtureRequest) -> Plan:
    return plan_of(request.param)


@pytest.fixture
def prod() -> Plan:
    return plan_of("prod")


@pytest.fixture
def sandbox() -> Plan:
    return plan_of("sandbox")


# The default catalog has public services, which need a domain and a certificate source (public entry): every
# hand-made stack config starts from these.
EXAMPLE_INGRESS: Final = {"domain": "shop.example.com", "hostedZoneId": "Z0EXAMPLE"}


def minimal_settings(env: str = "prod", **groups: Any) -> dict[str, str]:
    """The smallest valid raw stack config for `env` (Pulumi hands objects over JSON-encoded), plus `groups`."""
    base = {"aws:region": "us-east-1", "mtls-platform:environment": env,
            "mtls-platform:ingress": json.dumps(EXAMPLE_INGRESS)}
    return {**base, **{f"mtls-platform:{g}": json.dumps(v) for g, v in groups.items()}}
