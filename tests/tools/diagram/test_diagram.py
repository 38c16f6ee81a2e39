"""Architecture diagram: the graph model per stack (zones, subnets, node groups, data services, trust chain, service
graph) and the rendered file for every stack."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STACKS, plan_of
from tools.diagram import diagram
from tools.diagram.build import build_model
from tools.engine.mock_engine import Plan, Registration

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


def reg(type_: str, name: str, inputs: dict[str, Any]) -> Registration:
    return Registration(type_, name, f"urn:pulumi:t::p::{type_}::{name}", "", True, inputs, dict(inputs), False,
                        False, False, [])


def test_prod_model_has_zones_subnets_node_groups_and_data_services() -> None:
    m = build_model(plan_of("prod"))
    assert sorted(g.label for g in m.groups_of("az")) == ZONES
    assert len(m.groups_of("subnet")) == 9
    assert {g.parent for g in m.groups_of("subnet")} == {f"az:{z}" for z in ZONES}
    assert len(m.nodes_of("nat")) == 3  # one per zone in prod
    pools = {n.label: n for n in m.nodes_of("nodegroup")}
    assert set(pools) == {"system: 3 x t3a.large on-demand", "spot: 3 x t3a.large spot"}
    assert all(list(n.zones) == ZONES and n.group == "cluster" for n in pools.values())
    assert {(e.src, e.dst) for e in m.edges if e.kind == "joins"} == {(n.id, "control-plane") for n in pools.values()}
    # Multi-AZ data services: primary and standby in two isolated subnets (messaging is SQS: no broker to draw).
    assert not m.nodes_of("mq")
    for kind in ("rds", "cache"):
        nodes = m.nodes_of(kind)
        assert len(nodes) == 2, kind
        assert [n.group for n in nodes] == ["subnet:isolated:us-east-1a", "subnet:isolated:us-east-1b"]
    tls = {m.nodes[e.dst].kind: e.label for e in m.edges if e.kind == "tls"}
    assert tls == {"rds": "TLS 5432", "cache": "TLS 6379"}


def test_sandbox_model_is_the_small_variant() -> None:
    m = build_model(plan_of("sandbox"))
    assert len(m.groups_of("az")) == 3
    assert [n.label for n in m.nodes_of("nat")] == ["NAT instance t4g.nano + EIP"]
    assert [n.label for n in m.nodes_of("nodegroup")] == ["system: 2 x t3a.medium spot"]
    assert [n.detail for n in m.nodes_of("rds")] == ["primary · 20 GB"]
    assert not [e for e in m.edges if e.kind == "replication"]


@pytest.mark.parametrize("stack", STACKS)
def test_trust_chain_matches_the_plan(stack: str) -> None:
    plan = plan_of(stack)
    m = build_model(plan)
    chain = m.nodes_of("trust")
    assert [n.id for n in chain] == ["trust:root", "trust:issuer", "trust:identity", "trust:linkerd",
                                     "trust:workloads"]
    signs = [(e.src, e.dst) for e in m.edges if e.kind == "signs"]
    assert signs == [(a.id, b.id) for a, b in itertools.pairwise(chain)]
    has_issuer = any("vault" in (r.inputs.get("spec") or {}) for r in
                     plan.of_type("kubernetes:cert-manager.io/v1:ClusterIssuer"))
    assert m.nodes["trust:issuer"].present == has_issuer


def test_service_graph_follows_linkerd_authorization() -> None:
    """orders may call payments (a Server, an AuthorizationPolicy, a MeshTLSAuthentication naming orders' account)."""
    def deployment(name: str) -> Registration:
        return reg("kubernetes:apps/v1:Deployment", name, {"metadata": {"name": name, "namespace": "shop"}, "spec": {
            "template": {"spec": {"serviceAccountName": name}}}})

    resources = [
        deployment("orders"), deployment("payments"), deployment("catalog"),
        reg("kubernetes:policy.linkerd.io/v1beta3:Server", "payments-grpc", {
            "metadata": {"name": "payments-grpc"}, "spec": {"podSelector": {"matchLabels": {"app": "payments"}}}}),
        reg("kubernetes:policy.linkerd.io/v1alpha1:MeshTLSAuthentication", "payments-callers", {
            "metadata": {"name": "payments-callers"},
            "spec": {"identityRefs": [{"kind": "ServiceAccount", "name": "orders"}]}}),
        reg("kubernetes:policy.linkerd.io/v1alpha1:AuthorizationPolicy", "payments-authz", {
            "metadata": {"name": "payments-authz"}, "spec": {
                "targetRef": {"group": "policy.linkerd.io", "kind": "Server", "name": "payments-grpc"},
                "requiredAuthenticationRefs": [{"kind": "MeshTLSAuthentication", "name": "payments-callers"}]}}),
        reg("kubernetes:networking.k8s.io/v1:Ingress", "public", {"metadata": {"name": "public"}, "spec": {
            "rules": [{"http": {"paths": [{"backend": {"service": {"name": "catalog", "port": {"number": 80}}}}]}}]}}),
    ]
    m = build_model(Plan("t", resources, {}, set()))
    assert {n.label for n in m.nodes_of("service")} == {"orders", "payments", "catalog", "ALB (HTTPS)"}
    assert {(e.src, e.dst, e.kind) for e in m.edges if e.kind in ("mtls", "public")} == {
        ("svc:orders", "svc:payments", "mtls"), ("svc:internet", "svc:catalog", "public")}
    assert m.nodes["trust:workloads"].present and not m.nodes["trust:root"].present


@pytest.mark.parametrize("stack", STACKS)
def test_renders_a_png_for_every_stack(stack: str, tmp_path: Path) -> None:
    out = diagram.render_diagram(plan_of(stack), tmp_path)
    assert out == tmp_path / f"diagram-{stack}.png"
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000


def test_svg_output_is_deterministic(tmp_path: Path) -> None:
    first = diagram.render_diagram(plan_of("prod"), tmp_path / "a", "svg").read_text()
    second = diagram.render_diagram(plan_of("prod"), tmp_path / "b", "svg").read_text()
    assert first.startswith("<?xml") and "VPC 10.10.0.0/16" in first
    assert first == second  # a regenerated docs/ file changes only when the plan does
