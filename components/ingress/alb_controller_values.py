"""Helm values of the AWS Load Balancer Controller (pure builder); its IRSA role's policy: `alb_controller_specs.py`.

Every key is checked against the chart's own values.yaml at the pinned version (tests/upstream_facts/chart_keys/
aws-load-balancer-controller-3.5.0.txt). The controller reaches AWS through IRSA only: node IMDS answers no pod
(hop limit 1), so `region` and `vpcId` are set instead of discovered.
Ref: https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v3.5.0/helm/aws-load-balancer-controller/values.yaml
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from components.mesh.namespace_specs import ALB_CONTROLLER_LABELS, ALB_CONTROLLER_WEBHOOK
from config.names import ALB_CONTROLLER_NAMESPACE

Values = dict[str, Any]

NAMESPACE: Final = ALB_CONTROLLER_NAMESPACE
SERVICE_ACCOUNT: Final = "aws-load-balancer-controller"
RELEASE: Final = "aws-load-balancer-controller"
INGRESS_CLASS: Final = "alb"
# Ports of the controller pod: admission webhook (chart default `webhookBindPort` 9443, set explicitly below so the
# NetworkPolicy and the pod agree), metrics (`metricsBindAddr` default :8080).
WEBHOOK_PORT: Final = ALB_CONTROLLER_WEBHOOK
# selectorLabels in templates/_helpers.tpl: app.kubernetes.io/name is the chart name (no nameOverride set).
POD_LABELS: Final = ALB_CONTROLLER_LABELS


@dataclass(frozen=True)
class AlbControllerValuesArgs:
    cluster_name: str
    region: str
    vpc_id: Any  # pulumi.Input[str]: the VPC id once it exists (a leaf Output is fine in Helm values)
    role_arn: Any  # pulumi.Input[str]: the IRSA role
    ha: bool
    tags: dict[str, str] = field(default_factory=dict)  # AWS tags on every ALB, target group and security group


def alb_controller_values(args: AlbControllerValuesArgs) -> Values:
    """HA: 2 replicas on different nodes and zones, a PDB; restricted Pod Security; webhook certs from cert-manager."""
    values: Values = {
        "clusterName": args.cluster_name,
        "region": args.region,
        "vpcId": args.vpc_id,
        "replicaCount": 2 if args.ha else 1,
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT,
                           "annotations": {"eks.amazonaws.com/role-arn": args.role_arn}},
        # The chart's defaults lack `capabilities.drop` and `seccompProfile`: the restricted profile rejects the pod.
        # Ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/ (Restricted)
        "podSecurityContext": {"fsGroup": 65534, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {"readOnlyRootFilesystem": True, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        # Webhook serving certificates from cert-manager (renewed) instead of the chart's one-off self-signed ones.
        "enableCertManager": True,
        # The Service mutator (on by default, failurePolicy Fail) intercepts every Service creation in the cluster;
        # the platform makes no NLB Services, so it would only be a way to block unrelated deployments.
        "enableServiceMutatorWebhook": False,
        "webhookBindPort": WEBHOOK_PORT,
        "ingressClass": INGRESS_CLASS,
        "createIngressClassResource": True,
        "defaultTags": dict(args.tags),
    }
    if args.ha:
        # templates/pdb.yaml renders the map under `spec` when replicaCount > 1.
        values["podDisruptionBudget"] = {"maxUnavailable": 1}
        # `configureDefaultAffinity` (default true) already prefers different nodes; zones come from the spread.
        values["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(POD_LABELS)}}]
    return values
