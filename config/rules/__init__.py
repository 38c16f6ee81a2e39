"""Cross-key rules over the merged stack configuration: one module per config group, assembled here in report order.

Types and shapes are pydantic's job (`config.schema.RawConfig`); these rules hold what a type cannot: CIDRs that
parse, fit and do not overlap, HA floors per environment, node counts that order, a Kubernetes version still in
EKS standard support. Each rule yields problems naming the config key it is about; `check` runs them all. The group
modules never import this package: the order below is the one place rules are listed (error output follows it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Final

from config.model import Problem, StackConfig
from config.rules import (
    alerts,
    autoscaling,
    backup,
    cluster,
    data,
    gitops,
    ingress,
    mesh,
    network,
    nodes,
    notifications,
    protection,
    rollout,
    services,
)
from config.rules.common import DatedRule, Rule


def _undated(fn: Rule) -> DatedRule:
    """A rule over the configuration alone, in the list of rules that are given the date."""
    def run(cfg: StackConfig, _today: date) -> Iterator[Problem]:
        return fn(cfg)
    return run


# In report order. Rules whose verdict depends on the date (support calendars) take `today`; none reads the clock.
RULES: Final[tuple[DatedRule, ...]] = (
    _undated(network.region_set),
    _undated(network.vpc_cidr),
    _undated(network.availability_zones),
    _undated(network.subnets),
    _undated(network.service_cidr),
    _undated(network.nat),
    _undated(cluster.log_retention),
    cluster.kubernetes_version,
    _undated(cluster.endpoint),
    _undated(cluster.principals),
    _undated(nodes.node_pools),
    _undated(data.data_services),
    _undated(protection.protection),
    _undated(mesh.mesh),
    _undated(rollout.canaries),
    _undated(notifications.notifications),
    _undated(backup.backup),
    _undated(alerts.alerts),
    _undated(gitops.gitops),
    _undated(rollout.image_pins),
    _undated(ingress.ingress),
    _undated(services.reserved_service_names),
    _undated(rollout.progressive),
    _undated(autoscaling.autoscaling),
    _undated(rollout.prod_digests),
    _undated(data.credentials),
    _undated(services.data_services_run),
)


def check(cfg: StackConfig, today: date) -> list[Problem]:
    """Every problem of every rule as of `today`, in rule order."""
    return [p for r in RULES for p in r(cfg, today)]
