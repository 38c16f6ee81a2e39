"""Cluster Autoscaler: the controller that grows the managed node groups when pods cannot be placed and drains
nodes that stay under-used, within each group's min/max (docs/autoscaling.md).

Runs in kube-system as the service account the IRSA role trusts; the role reaches the chart only once its policy is
attached. Values: `cluster_autoscaler_values`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.cluster.cluster_autoscaler_values import (
    NAMESPACE,
    RELEASE,
    ClusterAutoscalerValuesArgs,
    cluster_autoscaler_values,
)
from components.shared.helm import release
from config import versions


@dataclass(frozen=True)
class ClusterAutoscalerArgs:
    values: ClusterAutoscalerValuesArgs
    depends_on: Sequence[pulumi.Resource] = ()  # the node groups: the chart's pod needs a node


class ClusterAutoscaler(pulumi.ComponentResource):
    """The Cluster Autoscaler Helm release."""

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:cluster:ClusterAutoscaler", name, None, opts)
        self.release = release(
            RELEASE, RELEASE, versions.CLUSTER_AUTOSCALER_CHART, versions.CLUSTER_AUTOSCALER_REPOSITORY, NAMESPACE,
            cluster_autoscaler_values(args.values),
            pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)))
        self.register_outputs({"status": self.release.status})
