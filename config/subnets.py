"""Pure subnet arithmetic: how a VPC CIDR is carved into public, private (nodes) and isolated (data) tiers.

The private tier gets three quarters of the VPC because the VPC CNI gives every pod a VPC address; the public
(load balancers, NAT) and isolated (RDS, MQ, cache) tiers share the last quarter in eighths of it.
"""

from __future__ import annotations

import ipaddress
from typing import Final

MAX_AZS: Final = 3


def carve_subnets(vpc_cidr: str, az_count: int) -> dict[str, tuple[str, ...]]:
    """Subnet CIDRs per tier, one per AZ. Empty tuples when the input is invalid (the rules report why)."""
    try:
        vpc = ipaddress.IPv4Network(vpc_cidr)
    except ValueError:
        return {"public": (), "private": (), "isolated": ()}
    if not 1 <= az_count <= MAX_AZS or vpc.prefixlen > 24:
        return {"public": (), "private": (), "isolated": ()}
    quarters = list(vpc.subnets(prefixlen_diff=2))
    eighths_of_last = list(quarters[3].subnets(prefixlen_diff=3))
    return {
        "private": tuple(str(q) for q in quarters[:az_count]),
        "public": tuple(str(s) for s in eighths_of_last[:az_count]),
        "isolated": tuple(str(s) for s in eighths_of_last[4 : 4 + az_count]),
    }
