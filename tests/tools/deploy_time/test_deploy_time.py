"""Deploy-time model: exact schedules on tiny synthetic plans, the SDK's waiting rules, findings, and real stacks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import STACKS, plan_of
from tools.deploy_time.deploy_time import model, render_deploy_time
from tools.deploy_time.durations import HELM_TIMEOUT_SECONDS
from tools.deploy_time.findings import value_flows
from tools.deploy_time.schedule import Step, predecessors
from tools.engine.mock_engine import Plan, Registration


class Builder:
    """A synthetic plan: registrations in program order, URNs derived from names."""

    def __init__(self) -> None:
        self.resources: list[Registration] = []

    def add(self, type_: str, name: str, *deps: Registration, parent: Registration | None = None,
            custom: bool = True, inputs: dict[str, Any] | None = None) -> Registration:
        inputs = inputs or {}
        r = Registration(type_, name, f"urn:pulumi:t::p::{type_}::{name}", parent.urn if parent else "", custom,
                         inputs, dict(inputs), False, False, False, [d.urn for d in deps])
        self.resources.append(r)
        return r

    def plan(self) -> Plan:
        return Plan("synthetic", self.resources, {}, set())


def names(path: tuple[Step, ...]) -> list[str]:
    return [s.name for s in path]


def test_tiny_plan_exact_critical_path_and_total() -> None:
    b = Builder()
    net = b.add("test:net:Network", "net", custom=False)
    vpc = b.add("aws:ec2/vpc:Vpc", "vpc", parent=net)  # 0-5 s
    subnet = b.add("aws:ec2/subnet:Subnet", "subnet", vpc, parent=vpc)  # 5-10
    b.add("aws:ec2/natGateway:NatGateway", "nat", subnet, parent=subnet)  # 10-115
    eks = b.add("aws:eks/cluster:Cluster", "eks", subnet, inputs={"subnetIds": ["subnet-id"]})  # 10-610
    pool = b.add("test:cluster:Pool", "pool", custom=False)
    # A slow sibling inside the same component: the node group must not wait for it.
    b.add("aws:rds/instance:Instance", "db", subnet, parent=pool)  # single-AZ: 10-370
    b.add("aws:eks/nodeGroup:NodeGroup", "ng", eks, parent=pool, inputs={"clusterName": "eks-id"})  # 610-760
    report = model(b.plan())
    assert report.total_seconds == 760
    assert names(report.critical_path) == ["vpc", "subnet", "eks", "ng"]
    assert [s.start for s in report.critical_path] == [0, 5, 10, 610]
    assert report.steps[subnet.urn].via == "dependency"
    assert report.findings == ()  # every wait carries a value: nothing serialises needlessly


def test_child_of_a_custom_resource_waits_for_its_parent() -> None:
    b = Builder()
    vpc = b.add("aws:ec2/vpc:Vpc", "vpc")
    nat = b.add("aws:ec2/natGateway:NatGateway", "nat")  # 0-105, no dependency on the VPC
    b.add("aws:ec2/routeTable:RouteTable", "rt", parent=nat)  # a custom parent is created first: 105-110
    b.add("aws:ec2/subnet:Subnet", "subnet", parent=vpc)
    report = model(b.plan())
    assert report.total_seconds == 110
    assert names(report.critical_path) == ["nat", "rt"]
    assert report.critical_path[-1].via == "parent"


def test_component_depends_on_gates_every_child_and_is_reported() -> None:
    b = Builder()
    vpc = b.add("aws:ec2/vpc:Vpc", "vpc")
    broker = b.add("aws:mq/broker:Broker", "mq", vpc, inputs={"deploymentMode": "ACTIVE_STANDBY_MULTI_AZ",
                                                              "subnetIds": ["vpc-id"]})  # 5-1205
    eks = b.add("aws:eks/cluster:Cluster", "eks", vpc, inputs={"vpcId": "vpc-id"})  # 5-605
    pool = b.add("test:cluster:Pool", "pool", broker, custom=False)  # registers when the broker exists: 1205
    b.add("aws:eks/nodeGroup:NodeGroup", "ng", eks, parent=pool, inputs={"clusterName": "eks-id"})  # 1205-1355
    report = model(b.plan())
    assert report.total_seconds == 1355
    assert names(report.critical_path) == ["vpc", "mq", "pool", "ng"]
    assert report.critical_path[-1].via == "parent"
    [gate] = report.findings
    assert gate.resource == "test:cluster:Pool pool" and gate.kind == "serialises"
    assert gate.cost_seconds == 1355 - 1205  # without the gate the path ends with the broker at 1205


def test_order_only_wait_on_the_critical_path_is_costed_unless_justified() -> None:
    b = Builder()
    vpc = b.add("aws:ec2/vpc:Vpc", "vpc", inputs={"cidrBlock": "10.0.0.0/16"})
    eks = b.add("aws:eks/cluster:Cluster", "eks", vpc, inputs={"vpcId": "vpc-id"})  # value flows: vpc's id
    db = b.add("aws:rds/instance:Instance", "db", eks)  # depends_on the cluster, no value: 605-965
    logs = b.add("aws:cloudwatch/logGroup:LogGroup", "logs")
    b.add("aws:rds/instance:Instance", "db2", logs)  # justified: RDS must find its log group
    report = model(b.plan())
    assert value_flows(eks, vpc)
    assert not value_flows(db, eks)
    serialising = [f for f in report.findings if f.kind == "serialises"]
    assert [f.resource for f in serialising] == ["aws:rds/instance:Instance db"]
    assert serialising[0].cost_seconds == 965 - 605


def test_kubernetes_resources_wait_for_their_provider_and_ordering_rules_fire() -> None:
    b = Builder()
    eks = b.add("aws:eks/cluster:Cluster", "eks")  # 0-600
    provider = b.add("pulumi:providers:kubernetes", "k8s", eks)
    ng = b.add("aws:eks/nodeGroup:NodeGroup", "ng", eks)  # 600-750
    ns = b.add("kubernetes:core/v1:Namespace", "ns-cm", inputs={"metadata": {"name": "cert-manager"}})
    cm = b.add("kubernetes:helm.sh/v3:Release", "cert-manager", ns, inputs={"chart": "cert-manager",
                                                                           "namespace": "cert-manager"})
    vault = b.add("kubernetes:helm.sh/v3:Release", "vault", ng, inputs={"chart": "vault", "namespace": "vault"})
    b.add("kubernetes:cert-manager.io/v1:ClusterIssuer", "issuer", inputs={"spec": {"vault": {"path": "pki"}}})
    report = model(b.plan())
    assert (provider.urn, "provider") in predecessors(b.plan())[ns.urn]
    assert report.steps[ns.urn].start == 600  # the provider resolves with the cluster's kubeconfig
    # Pods need a schedulable node even when the release does not say so: runtime wait, 750 + 90 s.
    assert report.steps[cm.urn].finish == 750 + 90
    assert report.steps[cm.urn].via == "runtime"
    found = {(f.kind, f.resource.split(" ", 1)[1], f.detail.split(":")[0]) for f in report.findings}
    assert ("missing", "issuer", "does not wait for kubernetes") in found  # ClusterIssuer before cert-manager
    assert ("missing", "cert-manager (chart cert-manager)", "waits for its pods but not for any node group") in found
    hangs = [f for f in report.findings if f.kind == "hangs"]
    assert len(hangs) == 1 and "skipAwait" in hangs[0].detail  # Vault's pods stay NotReady until init
    assert report.steps[vault.urn].seconds == HELM_TIMEOUT_SECONDS


@pytest.mark.parametrize("stack", STACKS)
def test_real_plans_schedule_every_resource(stack: str) -> None:
    plan = plan_of(stack)
    report = model(plan)
    assert set(report.steps) == {r.urn for r in plan.resources}
    assert report.total_seconds == max(s.finish for s in report.steps.values())
    assert report.critical_path[-1].finish == report.total_seconds
    assert report.limited_seconds >= report.total_seconds  # a parallelism limit can only lengthen it
    assert 10 * 60 < report.total_seconds < 45 * 60
    # No ordering defect: nothing serialises needlessly, hangs, or misses a wait it needs.
    assert [f"{f.kind} {f.resource}" for f in report.findings] == []


def test_prod_critical_path_and_the_cluster_chain() -> None:
    report = model(plan_of("prod"))
    # With SQS messaging (no 20-minute active/standby broker) prod waits on the chain through the cluster to the
    # public entry's DNS alias.
    assert report.critical_path[-1].type == "aws:route53/record:Record"
    assert "eks:index:Cluster" in [s.type for s in report.critical_path]
    assert report.total_seconds == pytest.approx(19 * 60 + 55)
    chain = report.cluster_chain()
    types = [s.type for s in chain]
    assert "eks:index:Cluster" in types
    assert types.index("eks:index:Cluster") < types.index("aws:eks/nodeGroup:NodeGroup")
    assert chain[-1].finish <= report.total_seconds
    # Every node group waits for the control plane, through a value (its name resolves only once it exists).
    for ng in plan_of("prod").of_type("aws:eks/nodeGroup:NodeGroup"):
        assert "eks:index:Cluster" in [s.type for s in report.path_to(ng.urn)]


def test_sandbox_critical_path_runs_through_the_cluster() -> None:
    report = model(plan_of("sandbox"))
    assert "eks:index:Cluster" in [s.type for s in report.critical_path]
    assert "aws:eks/nodeGroup:NodeGroup" in [s.type for s in report.critical_path]


def test_view_prints_total_path_and_findings() -> None:
    text = render_deploy_time(plan_of("prod"))
    assert "modelled wall time: 19:55" in text
    assert "critical path" in text and "aws:route53/record:Record public-entry-alias" in text
    # The critical path is itself the longest chain through the cluster, so it is not printed twice.
    assert "longest chain through the EKS cluster" not in text
    assert "eks:index:Cluster" in text
    assert "findings (" in text
