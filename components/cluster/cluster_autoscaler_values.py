"""Helm values of Cluster Autoscaler (pure builder): the autoscaler that resizes the managed node groups.

It discovers the node groups by the ASG tags `NodePool` sets (`k8s.io/cluster-autoscaler/enabled` and
`k8s.io/cluster-autoscaler/<cluster>`: the chart's default `autoDiscovery.tags`), reaches AWS through its IRSA role
(`Cluster._autoscaler_role`, which may resize only groups tagged as this cluster's), and runs the image of the
cluster's Kubernetes minor (config/versions.py). Every key is checked against the pinned chart's values.yaml
(tests/upstream_facts/chart_keys/cluster-autoscaler-9.59.0.txt) and rendered with the real Helm engine.
Ref: https://github.com/kubernetes/autoscaler/blob/cluster-autoscaler-chart-9.59.0/charts/cluster-autoscaler/
values.yaml ; https://github.com/kubernetes/autoscaler/blob/cluster-autoscaler-1.36.1/cluster-autoscaler/FAQ.md (flags)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from config.versions import CLUSTER_AUTOSCALER_IMAGE_TAG

Values = dict[str, Any]

NAMESPACE: Final = "kube-system"  # the IRSA role's trust names kube-system/cluster-autoscaler
SERVICE_ACCOUNT: Final = "cluster-autoscaler"
RELEASE: Final = "cluster-autoscaler"
# templates/_helpers.tpl cluster-autoscaler.instance-name: the pods' selector labels.
POD_LABELS: Final = {"app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/name": "aws-cluster-autoscaler"}
# Priority expander: a higher number wins among the node groups that can fit the pending pods. Only pods that
# tolerate the spot taint can go to the spot pool, so preferring it never moves a critical pod there.
# Ref: https://github.com/kubernetes/autoscaler/blob/cluster-autoscaler-1.36.1/cluster-autoscaler/expander/priority/readme.md
SPOT_PRIORITY: Final = 50
SYSTEM_PRIORITY: Final = 10


@dataclass(frozen=True)
class ClusterAutoscalerValuesArgs:
    cluster_name: str
    region: str
    role_arn: Any  # pulumi.Input[str]: the IRSA role, once its policy is attached
    ha: bool
    # {pool: regex matching that pool's ASG name}: a managed node group's ASG name contains the group's name.
    pool_patterns: dict[str, str]
    scale_down_utilization: float
    scale_down_unneeded_minutes: int
    expander: Literal["priority", "least-waste"]


def cluster_autoscaler_values(args: ClusterAutoscalerValuesArgs) -> Values:
    """HA: 2 replicas (leader election) on different nodes and zones with a PDB; restricted-level pod."""
    extra: Values = {
        # `priority` first; `least-waste` breaks ties between groups of equal priority (chained expanders).
        "expander": "priority,least-waste" if args.expander == "priority" else "least-waste",
        "scale-down-utilization-threshold": args.scale_down_utilization,
        "scale-down-unneeded-time": f"{args.scale_down_unneeded_minutes}m",
        # Node groups of one pool span the three zones as one ASG; balancing keeps zone-spread pods placeable.
        "balance-similar-node-groups": True,
        # kube-system pods without a PDB (CoreDNS has one, added by EKS) keep their node: the default, set explicitly.
        "skip-nodes-with-system-pods": True,
        # emptyDir is scratch space here (Linkerd's proxies, Prometheus's WAL is a PVC): draining may discard it.
        "skip-nodes-with-local-storage": False,
        "logtostderr": True,
        "stderrthreshold": "info",
        "v": 2,
    }
    values: Values = {
        "cloudProvider": "aws",
        "awsRegion": args.region,
        "autoDiscovery": {"clusterName": args.cluster_name},
        "image": {"tag": CLUSTER_AUTOSCALER_IMAGE_TAG},
        "replicaCount": 2 if args.ha else 1,
        "rbac": {"serviceAccount": {"create": True, "name": SERVICE_ACCOUNT,
                                    "annotations": {"eks.amazonaws.com/role-arn": args.role_arn}}},
        "extraArgs": extra,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                     "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"cpu": "500m", "memory": "600Mi"}},
    }
    if args.expander == "priority":
        priorities = {SPOT_PRIORITY: [args.pool_patterns["spot"]]} if "spot" in args.pool_patterns else {}
        # Keys are strings (Helm values are JSON); the template reads each with `int`.
        ranked = {**priorities, SYSTEM_PRIORITY: [args.pool_patterns["system"]]}
        values["expanderPriorities"] = {str(k): v for k, v in ranked.items()}
    if args.ha:
        values["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(POD_LABELS)}}]
        values["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": dict(POD_LABELS)}}]}}
    return values
