"""Which fields `pulumi up` leaves to someone else: every `ignore_changes` the plans register, and why it is there.

Each one hands a field to a controller that owns it at run time; a missing one means the next `up` undoes that
controller's work, an extra one means Pulumi silently stops converging a field. So the list is exact per stack.
"""

from __future__ import annotations

import pytest

from components.mesh.mesh import vault_app_clients
from tests.conftest import STACKS, build_config, plan_of
from tools.engine.mock_engine import load_stack_settings


def _expected(stack: str) -> dict[tuple[str, str], list[str]]:
    cfg = build_config(stack, load_stack_settings(stack))
    expected = {
        # Cluster Autoscaler owns the groups' current size (components/cluster/node_pool.py).
        ("aws:eks/nodeGroup:NodeGroup", "cluster-system-ng"): ["scalingConfig.desiredSize"],
        # The trust-anchor rotation owns the bundle and its own status record (README "Trust-anchor rotation").
        ("kubernetes:core/v1:ConfigMap", "trust-chain-trust-roots"): ["data"],
        ("kubernetes:core/v1:ConfigMap", "trust-anchor-rotation-status"): ["data"],
    }
    if vault_app_clients(cfg):  # the credential report owns its status record (components/vault/credential_report)
        expected["kubernetes:core/v1:ConfigMap", "credential-report-status"] = ["data"]
    if cfg.egress == "natInstance":
        # A newer Amazon Linux image must not replace the only egress path by surprise (components/network/).
        expected["aws:ec2/instance:Instance", "network-nat-instance"] = ["ami"]
    if cfg.spot_nodes_enabled:
        expected["aws:eks/nodeGroup:NodeGroup", "cluster-spot-ng"] = ["scalingConfig.desiredSize"]
    # Flagger points each progressively delivered Service at its `-primary` pods.
    for name in cfg.progressive_services:
        expected["kubernetes:core/v1:Service", f"app-{name}-service"] = ["spec.selector"]
    return expected


@pytest.mark.parametrize("stack", STACKS)
def test_exactly_the_fields_a_controller_owns_are_ignored(stack: str) -> None:
    registered = {(r.type, r.name): r.ignore_changes for r in plan_of(stack).resources if r.ignore_changes}
    assert registered == _expected(stack)


def test_progressive_services_are_the_only_services_flagger_may_repoint() -> None:
    staging = {name for (kind, name), _ in _expected("staging").items() if kind == "kubernetes:core/v1:Service"}
    # Staging's payment-gateway keeps its manual canary (Pulumi.staging.yaml): Pulumi keeps owning its selector.
    assert "app-payment-gateway-service" not in staging and len(staging) == 7
    assert not [k for k in _expected("sandbox") if k[0] == "kubernetes:core/v1:Service"]  # no Prometheus, no Flagger
