"""Network rules: flow logs, security groups, subnets (audit list, section "Network").

Predicates follow checkov's for the same ids, applied to the arguments the program passes (pulumi_aws keeps the
Terraform provider's attribute names, camelCased by the engine).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from audit import kinds
from audit.model import (
    Context,
    Resource,
    Stack,
    Verdict,
    all_of,
    as_list,
    failed,
    not_applicable,
    passed,
    resource_rule,
    stack_rule,
    truthy,
)
from config.names import HA_ENVIRONMENTS

WORLD = frozenset({"0.0.0.0/0", "::/0"})
# pulumi_aws fills an omitted security group description with this; it says nothing to an auditor.
DEFAULT_DESCRIPTIONS = frozenset({"Managed by Pulumi", "Managed by Terraform"})


@stack_rule("vpc-flow-logs", "Every VPC has a flow log capturing ALL traffic", "CKV2_AWS_11", {kinds.VPC},
            also=("AWS Security Hub EC2.6",))
def vpc_flow_logs(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    logs = stack.of_type(kinds.FLOW_LOG)
    for vpc in stack.of_type(kinds.VPC):
        mine = [f for f in logs if vpc in stack.refs(f, "vpcId", {kinds.VPC})]
        all_traffic = [f for f in mine if f.get("trafficType") == "ALL"]
        if all_traffic:
            yield vpc, passed(f"flow log {all_traffic[0].name} (traffic type ALL)")
        elif mine:
            yield vpc, failed(f"flow log {mine[0].name} captures {mine[0].get('trafficType')!r}, not ALL")
        else:
            yield vpc, failed("no flow log for this VPC")


def _ingress_sources(r: Resource) -> Iterator[tuple[str, Any]]:
    """(where, CIDR) for every ingress source a security group resource opens."""
    if r.type == kinds.SECURITY_GROUP:
        for i, rule in enumerate(as_list(r.get("ingress"))):
            for cidr in as_list(rule.get("cidrBlocks")) + as_list(rule.get("ipv6CidrBlocks")):
                yield f"ingress[{i}]", cidr
    elif r.type == kinds.SECURITY_GROUP_RULE:
        if r.get("type") == "ingress":
            for cidr in as_list(r.get("cidrBlocks")) + as_list(r.get("ipv6CidrBlocks")):
                yield "rule", cidr
    elif r.type == kinds.INGRESS_RULE:
        for key in ("cidrIpv4", "cidrIpv6"):
            if r.get(key) is not None:
                yield key, r.get(key)


@resource_rule("sg-no-world-ingress", "No security group admits ingress from 0.0.0.0/0 or ::/0",
               "CKV_AWS_277/24/25/260", {kinds.SECURITY_GROUP, kinds.SECURITY_GROUP_RULE, kinds.INGRESS_RULE},
               also=("AWS Security Hub EC2.18", "EC2.19", "EC2.53", "EC2.54"))
def sg_no_world_ingress(r: Resource, ctx: Context) -> Verdict:
    if r.type == kinds.SECURITY_GROUP_RULE and r.get("type") != "ingress":
        return not_applicable("egress rule")
    open_to_world = [f"{where} {cidr}" for where, cidr in _ingress_sources(r) if cidr in WORLD]
    if open_to_world:
        return failed("ingress open to the internet: " + ", ".join(open_to_world))
    return passed("no world-open ingress")


def _described(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and value not in DEFAULT_DESCRIPTIONS


@resource_rule("sg-descriptions", "Every security group and rule has a meaningful description", "CKV_AWS_23",
               {kinds.SECURITY_GROUP, kinds.SECURITY_GROUP_RULE, kinds.INGRESS_RULE, kinds.EGRESS_RULE})
def sg_descriptions(r: Resource, ctx: Context) -> Verdict:
    checks = [(_described(r.get("description")), "no description (or the provider's default)")]
    if r.type == kinds.SECURITY_GROUP:
        for direction in ("ingress", "egress"):
            for i, rule in enumerate(as_list(r.get(direction))):
                checks.append((_described(rule.get("description")), f"{direction}[{i}] has no description"))
    return all_of(checks, "described")


@stack_rule("default-sg-closed", "The default security group of every VPC is adopted and allows nothing",
            "CKV2_AWS_12", {kinds.VPC}, also=("CIS AWS Foundations 5.4", "AWS Security Hub EC2.2"), listed=False)
def default_sg_closed(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    defaults = stack.of_type(kinds.DEFAULT_SECURITY_GROUP)
    for vpc in stack.of_type(kinds.VPC):
        mine = [d for d in defaults if vpc in stack.refs(d, "vpcId", {kinds.VPC})]
        if not mine:
            yield vpc, failed("default security group not managed: it allows all traffic between its members")
        elif as_list(mine[0].get("ingress")) or as_list(mine[0].get("egress")):
            yield vpc, failed(f"default security group {mine[0].name} still has rules")
        else:
            yield vpc, passed(f"default security group {mine[0].name} has no rules")


@resource_rule("subnet-no-public-ip", "No subnet assigns public IPs on launch (nodes, RDS, MQ, cache stay private)",
               "CKV_AWS_130, CIS 5.4.3", {kinds.SUBNET}, also=("AWS Security Hub EC2.15",))
def subnet_no_public_ip(r: Resource, ctx: Context) -> Verdict:
    if truthy(r.get("mapPublicIpOnLaunch", default=False)):
        return failed(f"{subnet_tier(r)} subnet sets mapPublicIpOnLaunch")
    return passed(f"{subnet_tier(r)} subnet, mapPublicIpOnLaunch false")


def subnet_tier(r: Resource) -> str:
    """public / private / isolated, from the tier tag, the load-balancer role tags or the name."""
    tags = r.get("tags", default={}) or {}
    tier = tags.get("tier") if isinstance(tags, dict) else None
    if isinstance(tier, str) and tier:
        return tier
    if isinstance(tags, dict) and "kubernetes.io/role/elb" in tags:
        return "public"
    if isinstance(tags, dict) and "kubernetes.io/role/internal-elb" in tags:
        return "private"
    for tier in ("public", "private", "isolated"):
        if tier in r.name:
            return tier
    return "unclassified"


def _internet_routed_tables(stack: Stack) -> set[str]:
    """URNs of route tables with a default route to an internet gateway (what makes a subnet public)."""
    tables = set()
    for table in stack.of_type(kinds.ROUTE_TABLE):
        for route in as_list(table.get("routes")):
            default_route = route.get("cidrBlock") in WORLD or route.get("ipv6CidrBlock") in WORLD
            if default_route and route.get("gatewayId"):
                tables.add(table.urn)
    for route in stack.of_type(kinds.ROUTE):
        if route.get("destinationCidrBlock") in WORLD and route.get("gatewayId"):
            tables.update(t.urn for t in stack.refs(route, "routeTableId", {kinds.ROUTE_TABLE}))
    return tables


def public_subnets(stack: Stack) -> set[str]:
    """URNs of the stack's public subnets: routed to an internet gateway, or tagged/named public."""
    routed = _internet_routed_tables(stack)
    public = {s.urn for s in stack.of_type(kinds.SUBNET) if subnet_tier(s) == "public"}
    for assoc in stack.of_type(kinds.ROUTE_TABLE_ASSOCIATION):
        if any(t.urn in routed for t in stack.refs(assoc, "routeTableId", {kinds.ROUTE_TABLE})):
            public.update(s.urn for s in stack.refs(assoc, "subnetId", {kinds.SUBNET}))
    return public


# Consumers whose subnets must be private: (type, the input that lists the subnets).
_SUBNET_CONSUMERS: tuple[tuple[str, str], ...] = (
    (kinds.NODE_GROUP, "subnetIds"), (kinds.RDS_SUBNET_GROUP, "subnetIds"),
    (kinds.CACHE_SUBNET_GROUP, "subnetIds"), (kinds.MQ_BROKER, "subnetIds"),
    (kinds.EKS_COMPONENT, "privateSubnetIds"), (kinds.EKS_MANAGED_NODE_GROUP, "subnetIds"),
)


@stack_rule("workload-subnets-private", "Nodes, RDS, MQ and cache live only in private subnets",
            "CKV_AWS_130, CIS 5.4.3", {t for t, _ in _SUBNET_CONSUMERS},
            also=("CKV_AWS_17 (private DB subnet group)", "EKS BPG: Networking - private subnets for nodes"))
def workload_subnets_private(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    public = public_subnets(stack)
    for type_, prop in _SUBNET_CONSUMERS:
        for consumer in stack.of_type(type_):
            subnets = stack.refs(consumer, prop, {kinds.SUBNET})
            if not subnets:
                yield consumer, not_applicable(f"{prop} are not subnets of this stack")
                continue
            exposed = sorted(s.name for s in subnets if s.urn in public)
            yield consumer, (failed("in public subnets: " + ", ".join(exposed)) if exposed
                             else passed(f"{len(subnets)} private subnet(s)"))


def distinct_zones(subnets: Iterable[Resource]) -> set[str]:
    return {z for z in (s.get("availabilityZone") for s in subnets) if isinstance(z, str)}


@stack_rule("nodegroup-multi-az", "Node groups span at least 3 availability zones", "BPG",
            {kinds.NODE_GROUP, kinds.EKS_MANAGED_NODE_GROUP}, mandatory_in=HA_ENVIRONMENTS,
            also=("EKS BPG: Reliability - spread worker nodes across AZs", "audit list: >= 3 AZs"))
def nodegroup_multi_az(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    for group in stack.of_type(kinds.NODE_GROUP, kinds.EKS_MANAGED_NODE_GROUP):
        zones = distinct_zones(stack.refs(group, "subnetIds", {kinds.SUBNET}))
        if not zones:
            yield group, not_applicable("subnets are not in this stack")
        else:
            yield group, (passed(f"{len(zones)} zones") if len(zones) >= 3
                          else failed(f"{len(zones)} zone(s): {', '.join(sorted(zones))}"))
