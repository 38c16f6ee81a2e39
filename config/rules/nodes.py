"""Config rules of the `nodes` group: instance types that are EC2 types, node counts that order, a system node per
zone in HA environments, at least two spot types, a sane root disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from config.model import Problem, StackConfig
from config.schema import key

_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


def _pool(prefix: str, types: tuple[str, ...], lo: int, want: int, hi: int) -> Iterator[Problem]:
    if not types:
        yield Problem(key(f"{prefix}InstanceTypes"), "must list at least one instance type")
    for t in types:
        if not _INSTANCE_TYPE.match(t):
            yield Problem(key(f"{prefix}InstanceTypes"), f"{t!r} is not an EC2 instance type")
    if lo < 0 or hi < 1:
        yield Problem(key(f"{prefix}MaxSize"), f"sizes must satisfy 0 <= min and max >= 1 (min {lo}, max {hi})")
    if lo > hi:
        yield Problem(key(f"{prefix}MinSize"), f"min {lo} is greater than max {hi}")
    elif not lo <= want <= hi:
        yield Problem(key(f"{prefix}DesiredSize"), f"desired {want} must lie between min {lo} and max {hi}")


def node_pools(cfg: StackConfig) -> Iterator[Problem]:
    yield from _pool("system", cfg.system_node_instance_types, cfg.system_node_min_size,
                     cfg.system_node_desired_size, cfg.system_node_max_size)
    if cfg.is_ha and cfg.system_node_min_size < cfg.az_count:
        yield Problem(key("systemMinSize"),
                      f"{cfg.environment} keeps at least one system node per zone ({cfg.az_count})")
    if cfg.spot_nodes_enabled:
        yield from _pool("spot", cfg.spot_node_instance_types, cfg.spot_node_min_size,
                         cfg.spot_node_desired_size, cfg.spot_node_max_size)
        if len(set(cfg.spot_node_instance_types)) < 2:
            yield Problem(key("spotInstanceTypes"), "spot needs at least 2 instance types to survive reclaims")
    if not 20 <= cfg.node_disk_size_gb <= 1000:
        yield Problem(key("diskSizeGb"), f"{cfg.node_disk_size_gb} must be between 20 and 1000 GiB")
