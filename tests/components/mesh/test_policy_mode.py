"""Mesh onboarding (`rollout.policyMode`): enforce everywhere by default, audit on request; zero-downtime
rollouts."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.mesh import policy_mode_specs
from config.model import ConfigError
from tests.conftest import STACKS, build_config, plan_of
from tests.helpers.variant_plans import sandbox_with
from tools.engine.mock_engine import Plan, load_stack_settings

INBOUND = "config.linkerd.io/default-inbound-policy"


def _app_namespace(plan: Plan) -> dict[str, str]:
    ns = plan.one("kubernetes:core/v1:Namespace", f"{plan.stack}-app")
    annotations: dict[str, str] = ns.inputs["metadata"]["annotations"]
    return annotations


def _server_policies(plan: Plan) -> list[str]:
    servers = (r for r in plan.resources if r.type.endswith("policy.linkerd.io/v1beta3:Server"))
    return [r.inputs["spec"]["accessPolicy"] for r in servers]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_enforces_by_default(stack: str) -> None:
    plan = plan_of(stack)
    assert _app_namespace(plan)[INBOUND] == "deny"
    policies = _server_policies(plan)
    assert policies and set(policies) == {"deny"}


def test_audit_admits_and_flags_instead_of_denying() -> None:
    plan, default = sandbox_with("addition", "audit"), plan_of("sandbox")
    assert _app_namespace(plan)[INBOUND] == "audit"
    assert set(_server_policies(plan)) == {"audit"}
    assert len(_server_policies(plan)) == len(_server_policies(default))
    (group,) = plan.of_type("kubernetes:yaml/v2:ConfigGroup")
    servers = [o for o in group.inputs["objs"] if o["kind"] == "Server"]
    assert len(servers) == 3 and {s["spec"]["accessPolicy"] for s in servers} == {"audit"}
    # The authorizations stay: audit only changes what happens to traffic no policy admits.
    authz = "kubernetes:policy.linkerd.io/v1alpha1:AuthorizationPolicy"
    assert len(plan.of_type(authz)) == len(default.of_type(authz)) > 0
    # Only the policy mode differs: the same resources are registered, plus the manifests' ConfigGroup.
    added = {r.urn for r in plan.resources} - {r.urn for r in default.resources}
    assert {u.rsplit("::", 1)[1] for u in added} == {"app-manifests", "app-manifests-objects"}
    assert len(plan.resources) == len(default.resources) + 2


def test_policy_mode_is_typed() -> None:
    config = {**load_stack_settings("prod"), "mtls-platform:rollout": json.dumps({"policyMode": "permissive"})}
    with pytest.raises(ConfigError, match=r"mtls-platform:rollout\.policyMode: must be 'audit' or 'enforce'"):
        build_config("prod", config)


@pytest.mark.parametrize("stack", STACKS)
def test_deployments_roll_without_losing_a_ready_pod_under_their_pdbs(stack: str) -> None:
    plan = plan_of(stack)
    deployments = plan.of_type("kubernetes:apps/v1:Deployment")
    pdbs = {r.inputs["metadata"]["name"] for r in plan.of_type("kubernetes:policy/v1:PodDisruptionBudget")}
    app = [d for d in deployments if d.inputs["metadata"].get("namespace") == f"{stack}-app"]
    # The 8 catalog services, the public edge (not in the sandbox: ingress.publicEntry false), and staging's
    # payment-gateway canary (under the stable one's PDB, whose selector is the service name:
    # tests/components/app/test_app_routes.py).
    assert len(app) == {"staging": 10, "sandbox": 8}.get(stack, 9)
    for d in app:
        strategy = d.inputs["spec"]["strategy"]
        assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
        assert d.inputs["metadata"]["name"].removesuffix("-canary") in pdbs


def test_transformation_touches_only_linkerd_servers() -> None:
    transform = policy_mode_specs.server_access_policy("audit")
    opts = pulumi.ResourceOptions()

    def run(props: dict[str, object]) -> pulumi.ResourceTransformationResult | None:
        return transform(pulumi.ResourceTransformationArgs(None, "t", "n", props, opts))  # type: ignore[arg-type]

    server = {"api_version": "policy.linkerd.io/v1beta3", "kind": "Server", "spec": {"port": "http",
                                                                                    "accessPolicy": "deny"}}
    result = run(server)
    assert result is not None and result.props["spec"] == {"port": "http", "accessPolicy": "audit"}
    assert server["spec"] == {"port": "http", "accessPolicy": "deny"}  # the caller's spec is not mutated
    assert run({"api_version": "v1", "kind": "Service", "spec": {}}) is None
    assert run({"api_version": "example.com/v1", "kind": "Server", "spec": {}}) is None
