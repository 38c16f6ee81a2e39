"""Config rules of the `nodes` group: instance types that are EC2 types, node counts that order, a system node per
zone in HA environments, at least two spot types, a sane root disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from config.model import NodePoolShape, Problem, StackConfig
from config.schema import key

_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


@dataclass(frozen=True)
class _PoolKeys:
    """The config keys of one pool's settings, spelled out so that `grep nodes.systemMaxSize` finds this rule."""

    instance_types: str
    min_size: str
    desired_size: str
    max_size: str


_SYSTEM = _PoolKeys(key("nodes.systemInstanceTypes"), key("nodes.systemMinSize"), key("nodes.systemDesiredSize"),
                    key("nodes.systemMaxSize"))
_SPOT = _PoolKeys(key("nodes.spotInstanceTypes"), key("nodes.spotMinSize"), key("nodes.spotDesiredSize"),
                  key("nodes.spotMaxSize"))


def _pool(keys: _PoolKeys, pool: NodePoolShape) -> Iterator[Problem]:
    """The shape the node group is created with (`StackConfig.system_pool` / `spot_pool`)."""
    types, lo, want, hi = pool.instance_types, pool.min_size, pool.desired_size, pool.max_size
    if not types:
        yield Problem(keys.instance_types, "must list at least one instance type")
    for t in types:
        if not _INSTANCE_TYPE.match(t):
            yield Problem(keys.instance_types, f"{t!r} is not an EC2 instance type")
    if lo < 0 or hi < 1:
        yield Problem(keys.max_size, f"sizes must satisfy 0 <= min and max >= 1 (min {lo}, max {hi})")
    if lo > hi:
        yield Problem(keys.min_size, f"min {lo} is greater than max {hi}")
    elif not lo <= want <= hi:
        yield Problem(keys.desired_size, f"desired {want} must lie between min {lo} and max {hi}")


def node_pools(cfg: StackConfig) -> Iterator[Problem]:
    yield from _pool(_SYSTEM, cfg.system_pool)
    if cfg.is_ha and cfg.system_node_min_size < cfg.az_count:
        yield Problem(key("nodes.systemMinSize"),
            f"{cfg.environment} keeps at least one system node per zone ({cfg.az_count})")
    if cfg.system_node_capacity == "spot":
        if cfg.is_ha:
            yield Problem(key("nodes.systemCapacity"),
                f"{cfg.environment} keeps the platform on on-demand nodes (spot is for sandbox/dev)")
        if len(set(cfg.system_node_instance_types)) < 2:
            yield Problem(key("nodes.systemInstanceTypes"),
                "a spot system pool needs at least 2 instance types to survive reclaims")
    spot = cfg.spot_pool  # None unless nodes.spotEnabled
    if spot is not None:
        yield from _pool(_SPOT, spot)
        if len(set(cfg.spot_node_instance_types)) < 2:
            yield Problem(key("nodes.spotInstanceTypes"), "spot needs at least 2 instance types to survive reclaims")
    elif cfg.spot_for_all_services:
        yield Problem(key("nodes.spotForAllServices"), "needs nodes.spotEnabled: there is no spot pool to tolerate")
    if not 20 <= cfg.node_disk_size_gb <= 1000:
        yield Problem(key("nodes.diskSizeGb"), f"{cfg.node_disk_size_gb} must be between 20 and 1000 GiB")
