"""Config rules of the `network` group, and of `aws:region`, which the zones and subnets are read against: CIDRs
that parse, fit the VPC and do not overlap, zone counts per environment, NAT per AZ in prod.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from itertools import combinations
from typing import Final

from config.model import Problem, StackConfig
from config.rules.common import REGION, parse_network
from config.schema import key
from config.subnets import MAX_AZS

_PRIVATE_RANGES: Final = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def region_set(cfg: StackConfig) -> Iterator[Problem]:
    if not REGION.match(cfg.region):
        yield Problem(key("aws:region"), f"must be an AWS region such as us-east-1 (got {cfg.region!r})")


def vpc_cidr(cfg: StackConfig) -> Iterator[Problem]:
    net = parse_network(cfg.vpc_cidr)
    if net is None:
        yield Problem(key("network.vpcCidr"), f"{cfg.vpc_cidr!r} is not a valid IPv4 network (e.g. 10.10.0.0/16)")
    elif not any(net.subnet_of(r) for r in _PRIVATE_RANGES):
        yield Problem(key("network.vpcCidr"), f"{net} must lie in an RFC 1918 private range")
    elif not 16 <= net.prefixlen <= 20:
        yield Problem(key("network.vpcCidr"), f"{net} must be between /16 and /20 (EKS gives every pod a VPC address)")


def availability_zones(cfg: StackConfig) -> Iterator[Problem]:
    floor = 3 if cfg.is_ha else 2
    if not floor <= cfg.az_count <= MAX_AZS:
        yield Problem(
            key("network.azCount"),
            f"{cfg.environment} needs {floor if floor == MAX_AZS else f'{floor} to {MAX_AZS}'} availability zones "
            f"(got {cfg.az_count}): EKS needs 2, HA environments one node and replica per zone of 3",
        )
    azs = cfg.availability_zones
    if azs is None:
        return
    if len(set(azs)) != len(azs):
        yield Problem(key("network.availabilityZones"), "must not repeat a zone")
    if len(azs) != cfg.az_count:
        yield Problem(key("network.availabilityZones"), f"lists {len(azs)} zones but azCount is {cfg.az_count}")
    for az in azs:
        if not (az.startswith(cfg.region) and len(az) == len(cfg.region) + 1):
            yield Problem(key("network.availabilityZones"), f"{az!r} is not a zone of region {cfg.region!r}")


def subnets(cfg: StackConfig) -> Iterator[Problem]:
    vpc = parse_network(cfg.vpc_cidr)
    tiers = (("public", key("network.publicSubnetCidrs"), cfg.public_subnet_cidrs),
             ("private", key("network.privateSubnetCidrs"), cfg.private_subnet_cidrs),
             ("isolated", key("network.isolatedSubnetCidrs"), cfg.isolated_subnet_cidrs))
    parsed: list[tuple[str, ipaddress.IPv4Network]] = []
    for tier, k, cidrs in tiers:
        if vpc is not None and len(cidrs) != cfg.az_count:
            yield Problem(k, f"needs one CIDR per availability zone ({cfg.az_count}), got {len(cidrs)}")
        for cidr in cidrs:
            net = parse_network(cidr)
            if net is None:
                yield Problem(k, f"{cidr!r} is not a valid IPv4 network")
            elif vpc is not None and not net.subnet_of(vpc):
                yield Problem(k, f"{net} is outside vpcCidr {vpc}")
            elif tier == "private" and net.num_addresses < 1024:
                yield Problem(k, f"{net} is smaller than /22: pods take VPC addresses, nodes would run out")
            else:
                parsed.append((k, net))
    for (k1, a), (k2, b) in combinations(parsed, 2):
        if a.overlaps(b):
            yield Problem(k2, f"{b} overlaps {a} ({k1})")


def service_cidr(cfg: StackConfig) -> Iterator[Problem]:
    k = key("network.kubernetesServiceCidr")
    net, vpc = parse_network(cfg.kubernetes_service_cidr), parse_network(cfg.vpc_cidr)
    # Ref: https://docs.aws.amazon.com/eks/latest/APIReference/API_KubernetesNetworkConfigRequest.html
    if net is None:
        yield Problem(k, f"{cfg.kubernetes_service_cidr!r} is not a valid IPv4 network")
    elif not (any(net.subnet_of(r) for r in _PRIVATE_RANGES) and 12 <= net.prefixlen <= 24):
        yield Problem(k, f"{net} must be an RFC 1918 block between /12 and /24 (EKS rule)")
    elif vpc is not None and net.overlaps(vpc):
        yield Problem(k, f"{net} overlaps vpcCidr {vpc}")


def nat(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.environment == "prod" and cfg.nat_gateways != "perAz":
        yield Problem(key("network.natGateways"), "prod must use perAz: one NAT gateway is a single point of failure")
    if cfg.is_ha and cfg.egress == "natInstance":
        yield Problem(key("network.egress"),
            f"{cfg.environment} must use natGateway: a NAT instance has no managed failover (sandbox/dev only)")
