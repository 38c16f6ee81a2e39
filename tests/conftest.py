"""Shared test plumbing: the repo root on sys.path and one cached offline plan per stack.

Every stack's real program runs once per test session on the mock engine (`tools.engine.mock_engine.run_stack`, the same
runner `make plan` uses); tests then assert on the recorded registrations.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import uuid
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Final

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.catalog import default_catalog  # noqa: E402
from config.load import TODAY_VARIABLE, build_stack_config  # noqa: E402
from config.model import StackConfig  # noqa: E402
from tests.helpers.shared_cache import remove_run_directory, shared  # noqa: E402
from tools.engine.mock_engine import Plan, run_stack  # noqa: E402

FACTS: Final = ROOT / "tests" / "upstream_facts"  # upstream facts the tests read (chart keys, CRD fields, metrics)
FIXTURES: Final = ROOT / "tests" / "fixtures"
# The date every test evaluates support calendars at: no test depends on the day it runs. Move it forward together
# with the pins (config/versions.py), never to date.today().
TODAY: Final = date(2026, 12, 1)
# Every offline plan a test runs (in this process or a subprocess it starts) reads the calendars at TODAY.
os.environ[TODAY_VARIABLE] = TODAY.isoformat()
STACKS = ("sandbox", "dev", "staging", "prod")
HA = ("staging", "prod")
_PLANS: dict[str, Plan] = {}


def plan_of(stack: str) -> Plan:
    """The offline plan of a stack, once per test run (xdist workers share it: tests/helpers/shared_cache.py)."""
    if stack not in _PLANS:
        others = [(f"plan-{other}", functools.partial(run_stack, other)) for other in STACKS if other != stack]
        _PLANS[stack] = shared(f"plan-{stack}", functools.partial(run_stack, stack), also=others)
    return _PLANS[stack]


def pytest_configure(config: pytest.Config) -> None:
    # The controller of an xdist run names the run, so that it can remove the workers' shared values at the end.
    if not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None):
        config.option.testrunuid = config.option.testrunuid or uuid.uuid4().hex


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and getattr(config.option, "testrunuid", None):
        remove_run_directory(config.option.testrunuid)


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


# staging/prod name who may assume the cluster roles (config rule cluster.principals); prod pins images by digest
# (rollout.prod_digests). Hand-made HA configs get these unless a test sets the keys itself.
EXAMPLE_PRINCIPALS: Final = {"adminPrincipalArns": ["arn:aws:iam::123456789012:role/platform-admin"],
                             "devopsPrincipalArns": ["arn:aws:iam::123456789012:role/platform-devops"]}
EXAMPLE_DIGEST: Final = "sha256:" + "ab" * 32


def example_digests(services: Any = None) -> dict[str, dict[str, str]]:
    """`rollout.images` pinning every service of the default catalog (or `services`) by digest."""
    names = list(services) if services else [s.name for s in default_catalog("prod")]
    return {name: {"digest": EXAMPLE_DIGEST} for name in names}


def with_ha_defaults(env: str, settings: dict[str, str]) -> dict[str, str]:
    """`settings` plus the principals (staging/prod) and image digests (prod) a test did not set itself."""
    out = dict(settings)
    if env in ("staging", "prod"):
        cluster = json.loads(out.get("mtls-platform:cluster", "{}"))
        out["mtls-platform:cluster"] = json.dumps({**EXAMPLE_PRINCIPALS, **cluster})
    if env == "prod":
        rollout = json.loads(out.get("mtls-platform:rollout", "{}"))
        raw_services = json.loads(out.get("mtls-platform:services", "{}") or "{}")
        services = raw_services if isinstance(raw_services, dict) and raw_services else None
        rollout["images"] = {**example_digests(services), **rollout.get("images", {})}
        out["mtls-platform:rollout"] = json.dumps(rollout)
    return out


def minimal_settings(env: str = "prod", **groups: Any) -> dict[str, str]:
    """The smallest valid raw stack config for `env` (Pulumi hands objects over JSON-encoded), plus `groups`."""
    base = {"aws:region": "us-east-1", "mtls-platform:environment": env,
            "mtls-platform:ingress": json.dumps(EXAMPLE_INGRESS)}
    return with_ha_defaults(env, {**base, **{f"mtls-platform:{g}": json.dumps(v) for g, v in groups.items()}})


def build_config(stack: str, settings: Mapping[str, str]) -> StackConfig:
    """`build_stack_config` as of the suite's fixed date."""
    return build_stack_config(stack, settings, today=TODAY)
