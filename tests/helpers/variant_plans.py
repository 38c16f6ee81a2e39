"""Offline plans of the sandbox stack with extra settings (manifests, rollout mode), each computed once per session.

The sandbox is the cheapest stack to plan; its stack file plus the given groups is exactly what a `pulumi config
set --path` on that stack would produce.
"""

from __future__ import annotations

import json
from functools import cache

from tools.engine.mock_engine import Plan, load_stack_settings, run_stack

EXAMPLE = "manifests/example"


@cache
def sandbox_with(manifests_mode: str = "", policy_mode: str = "") -> Plan:
    """The sandbox plan with `manifests/example` in `manifests_mode` ("" = none) and `policy_mode` ("" = default)."""
    config = load_stack_settings("sandbox")
    if manifests_mode:
        config["mtls-platform:manifests"] = json.dumps({"directory": EXAMPLE, "mode": manifests_mode})
    if policy_mode:
        config["mtls-platform:rollout"] = json.dumps({"policyMode": policy_mode})
    return run_stack("sandbox", config=config)

