"""Network layer per stack: three tiers over three zones, NAT per environment, flow logs, locked default SG."""

from __future__ import annotations

import ipaddress
import json

import pytest

from tests.conftest import HA, STACKS, plan_of
from tools.engine.mock_engine import Plan, Registration

SUBNET = "aws:ec2/subnet:Subnet"


def subnets(plan: Plan, tier: str) -> list[Registration]:
    return [s for s in plan.of_type(SUBNET) if s.inputs["tags"]["tier"] == tier]


@pytest.mark.parametrize("stack", STACKS)
def test_three_tiers_spread_over_three_zones(stack: str) -> None:
    plan = plan_of(stack)
    vpc = ipaddress.IPv4Network(plan.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    nets = []
    for tier in ("public", "private", "isolated"):
        tier_subnets = subnets(plan, tier)
        assert sorted(s.inputs["availabilityZone"] for s in tier_subnets) == ["us-east-1a", "us-east-1b",
                                                                              "us-east-1c"]
        for s in tier_subnets:
            net = ipaddress.IPv4Network(s.inputs["cidrBlock"])
            assert net.subnet_of(vpc)
            nets.append(net)
            assert s.inputs["mapPublicIpOnLaunch"] is False  # CKV_AWS_130: not even public subnets
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    # Pods take VPC addresses: node subnets are the big ones.
    assert all(ipaddress.IPv4Network(s.inputs["cidrBlock"]).prefixlen <= 18 for s in subnets(plan, "private"))


def test_stacks_use_distinct_vpc_ranges() -> None:
    cidrs = [ipaddress.IPv4Network(plan_of(s).one("aws:ec2/vpc:Vpc").inputs["cidrBlock"]) for s in STACKS]
    assert all(not a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1:])  # peerable later


@pytest.mark.parametrize(("stack", "nats"), [("staging", 1), ("prod", 3)])
def test_nat_gateways_per_environment(stack: str, nats: int) -> None:
    plan = plan_of(stack)
    assert len(plan.of_type("aws:ec2/natGateway:NatGateway")) == nats
    assert len(plan.of_type("aws:ec2/eip:Eip")) == nats
    assert not plan.of_type("aws:ec2/instance:Instance")
    private_routes = [rt for rt in plan.of_type("aws:ec2/routeTable:RouteTable") if "private" in rt.name]
    assert len(private_routes) == 3
    assert len({rt.inputs["routes"][0]["natGatewayId"] for rt in private_routes}) == nats


@pytest.mark.parametrize("stack", ["sandbox", "dev"])
def test_nat_instance_replaces_the_gateway_in_non_ha_stacks(stack: str) -> None:
    """network.egress natInstance: one forwarding instance, the private subnets only, the stack's one Elastic IP."""
    plan = plan_of(stack)
    assert not plan.of_type("aws:ec2/natGateway:NatGateway")
    nat = plan.one("aws:ec2/instance:Instance", "network-nat-instance")
    i = nat.inputs
    assert i["sourceDestCheck"] is False and i["instanceType"] == "t4g.nano"
    assert i["subnetId"] == "network-public-us-east-1a-id" and not i.get("keyName")
    assert i["metadataOptions"]["httpTokens"] == "required" and i["rootBlockDevice"]["encrypted"] is True
    assert i["ami"] == "ami-0123456789abcdef0"  # from the mocked SSM public parameter lookup
    assert "MASQUERADE" in i["userData"] and "ip_forward = 1" in i["userData"]
    sg = plan.one("aws:ec2/securityGroup:SecurityGroup", "network-nat-sg").inputs
    private = [s.inputs["cidrBlock"] for s in plan.of_type("aws:ec2/subnet:Subnet") if "private" in s.name]
    # Sorted: the plan records the subnets in registration order, which varies under parallel load.
    assert [sorted(r["cidrBlocks"]) for r in sg["ingress"]] == [sorted(private)] and len(private) == 3
    assert i["vpcSecurityGroupIds"] == ["network-nat-sg-id"]
    eips = plan.of_type("aws:ec2/eip:Eip")
    assert [e.name for e in eips] == ["network-nat-us-east-1a"]  # the gateway's address, kept
    assoc = plan.one("aws:ec2/eipAssociation:EipAssociation", "network-nat-eip").inputs
    assert (assoc["allocationId"], assoc["instanceId"]) == ("network-nat-us-east-1a-id", "network-nat-instance-id")
    private_routes = [rt for rt in plan.of_type("aws:ec2/routeTable:RouteTable") if "private" in rt.name]
    assert len(private_routes) == 3
    assert {rt.inputs["routes"][0]["networkInterfaceId"] for rt in private_routes} == {"eni-network-nat-instance"}


def test_isolated_tier_has_no_route_out(prod: Plan) -> None:
    isolated = prod.one("aws:ec2/routeTable:RouteTable", "network-isolated")
    assert not isolated.inputs.get("routes")
    public_rt = prod.one("aws:ec2/routeTable:RouteTable", "network-public")
    assert public_rt.inputs["routes"][0]["gatewayId"] == "network-igw-id"


def test_load_balancer_discovery_tags(prod: Plan) -> None:
    for s in subnets(prod, "public"):
        assert s.inputs["tags"]["kubernetes.io/role/elb"] == "1"
        assert s.inputs["tags"]["kubernetes.io/cluster/mtls-platform-prod"] == "shared"
    for s in subnets(prod, "private"):
        assert s.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
    assert all("kubernetes.io/role/elb" not in s.inputs["tags"] for s in subnets(prod, "isolated"))


@pytest.mark.parametrize("stack", STACKS)
def test_flow_logs_capture_all_traffic_encrypted(stack: str) -> None:
    plan = plan_of(stack)
    flow = plan.one("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"  # CKV2_AWS_11
    group = plan.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert group.inputs["kmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/keys-logs"
    assert group.inputs["retentionInDays"] == (365 if stack in HA else {"sandbox": 30, "dev": 90}[stack])
    policy = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", "network-flow-logs").inputs["policy"])
    assert policy["Statement"][0]["Resource"] == [group.outputs["arn"] + ":*"]


def test_default_security_group_is_emptied(prod: Plan) -> None:
    default = prod.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default.inputs.get("ingress") and not default.inputs.get("egress")


@pytest.mark.parametrize("stack", STACKS)
def test_no_world_open_ingress_anywhere(stack: str) -> None:
    world = {"0.0.0.0/0", "::/0"}
    for r in plan_of(stack).resources:
        for rule in r.inputs.get("ingress") or []:
            assert not world & set(rule.get("cidrBlocks", []) + rule.get("ipv6CidrBlocks", [])), r.name
        assert r.inputs.get("cidrIpv4") not in world and r.inputs.get("cidrIpv6") not in world, r.name


def test_s3_gateway_endpoint_serves_private_and_isolated_tiers(prod: Plan) -> None:
    endpoint = prod.one("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert len(endpoint.inputs["routeTableIds"]) == 4
