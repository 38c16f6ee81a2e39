"""Per-type facts of the deploy-time view: how long creating each kind of resource takes, and which waits it needs.

`DURATIONS` holds typical creation times from public apply logs (each with its source; Helm releases by chart in
`HELM_CHARTS`), and `duration()` answers for any registration: a local component only registers, providers and
`random`/`tls` resources make no API call, anything unlisted takes `DEFAULT_SECONDS`. The ordering tables say which
order-only waits are justified (`JUSTIFIED`), which API groups need a chart's CRDs (`CRD_CHARTS`) and which releases
must follow another (`RELEASE_AFTER`); `tools.deploy_time.findings` checks the plan against them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from tools.engine.mock_engine import Plan, Registration
from tools.engine.plan_facts import dig, helm_chart

DEFAULT_SECONDS: Final = 5.0  # "everything else a few seconds" (IAM, KMS, S3, subnets, security groups, ...)
REMOTE_COMPONENT_SECONDS: Final = 60.0  # a multi-language component not listed in DURATIONS
HELM_TIMEOUT_SECONDS: Final = 300.0  # kubernetes:helm.sh/v3:Release default `timeout`
Duration = Callable[[Registration], tuple[float, str]]


def _fixed(seconds: float, basis: str) -> Duration:
    return lambda r: (seconds, basis)


# Sources: terraform-provider-aws default create timeouts (each resource page's "Timeouts" section) and durations
# reported in public apply logs. Ref: https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/eks_cluster
DURATIONS: Final[dict[str, Duration]] = {
    "aws:eks/cluster:Cluster": _fixed(600, "EKS control plane: 8m21s-11m23s typical"),
    # pulumi-eks also creates the OIDC provider, the access entries and the VPC CNI settings inside the component.
    "eks:index:Cluster": _fixed(645, "EKS control plane 10 min + 45 s for OIDC provider, access entries, VPC CNI"),
    "aws:eks/nodeGroup:NodeGroup": _fixed(150, "managed node group: 1m28s-3m21s typical"),
    "eks:index:ManagedNodeGroup": _fixed(150, "managed node group: 1m28s-3m21s typical"),
    "aws:rds/instance:Instance": lambda r: (1080, "RDS Multi-AZ: 15-20 min") if r.inputs.get("multiAz")
    else (360, "RDS single-AZ: ~6 min"),
    "aws:mq/broker:Broker": lambda r: (480, "Amazon MQ single instance: >5 min (assumed 8)")
    if (r.inputs.get("deploymentMode") or "SINGLE_INSTANCE") == "SINGLE_INSTANCE"
    else (1200, "Amazon MQ active/standby: assumed 20 min (single >5 min, can exceed 30)"),
    "aws:elasticache/replicationGroup:ReplicationGroup": lambda r: (900, "ElastiCache multi-AZ: assumed 15 min")
    if r.inputs.get("multiAzEnabled") else (480, "ElastiCache: 6-9 min"),
    "aws:elasticache/cluster:Cluster": _fixed(480, "ElastiCache: 6-9 min"),
    "aws:ec2/natGateway:NatGateway": _fixed(105, "NAT gateway: 1m25s-2m5s"),
    "aws:eks/addon:Addon": _fixed(60, "EKS add-on to ACTIVE: assumed 1 min"),
    "aws:lb/loadBalancer:LoadBalancer": _fixed(180, "load balancer to active: assumed 3 min"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": lambda r: (120, "interface endpoint: assumed 2 min")
    if r.inputs.get("vpcEndpointType") == "Interface" else (10, "gateway endpoint: assumed 10 s"),
    "kubernetes:core/v1:Namespace": _fixed(2, "namespace: seconds"),
    "kubernetes:apps/v1:Deployment": _fixed(60, "Deployment rollout awaited: assumed 1 min"),
    "kubernetes:apps/v1:StatefulSet": _fixed(90, "StatefulSet rollout awaited: assumed 1.5 min"),
    "kubernetes:batch/v1:Job": _fixed(60, "Job completion awaited: assumed 1 min"),
    "kubernetes:networking.k8s.io/v1:Ingress": _fixed(180, "Ingress awaits its ALB address: assumed 3 min"),
    # Public entry. ACM: terraform-provider-aws waits up to 75 min (acm/certificate_validation.go create timeout);
    # aws-cdk raised its DNS-validation waiter from 5 to 9.5 min after timeouts (aws/aws-cdk#2914): 5 min assumed.
    "aws:acm/certificateValidation:CertificateValidation": _fixed(300, "ACM DNS validation: assumed 5 min "
                                                                       "(CDK waiter 5 -> 9.5 min, aws-cdk#2914)"),
    # The provider waits for the change to reach INSYNC (Route 53: usually within 60 s).
    "aws:route53/record:Record": _fixed(60, "Route 53 change to INSYNC: assumed 1 min"),
    "kubernetes:core/v1:Service": lambda r: (150, "Service LoadBalancer awaits its NLB: assumed 2.5 min")
    if dig(r.inputs, "spec.type") == "LoadBalancer" else (2, "Service: seconds"),
}
# Helm releases by chart, from public apply logs (cert-manager 20 s-2m11s; Vault 12-48 s, then pods stay NotReady
# until `vault operator init`, hashicorp/vault-helm#17 and #375); the others are assumptions.
HELM_CHARTS: Final[dict[str, tuple[float, str]]] = {
    "cert-manager": (90, "Helm cert-manager: 20 s-2m11s"),
    "vault": (30, "Helm Vault: 12-48 s (pods NotReady until initialised)"),
    "linkerd-crds": (15, "Helm linkerd-crds: CRDs only, assumed 15 s"),
    "linkerd-control-plane": (120, "Helm linkerd-control-plane: assumed 2 min"),
    "aws-load-balancer-controller": (60, "Helm AWS Load Balancer Controller: assumed 1 min"),
    # Ten CRDs, the operator, then Prometheus and Alertmanager StatefulSets waiting for their EBS volumes to attach.
    "kube-prometheus-stack": (180, "Helm kube-prometheus-stack: CRDs + operator + PVC-backed pods, assumed 3 min"),
    "linkerd-viz": (90, "Helm linkerd-viz: meshed pods wait for proxy identity, assumed 1.5 min"),
    # One small Deployment each, no volumes or webhooks to wait for (prometheus-adapter waits for its certificate).
    "cluster-autoscaler": (30, "Helm cluster-autoscaler: one Deployment, assumed 30 s"),
    "prometheus-adapter": (45, "Helm prometheus-adapter: cert-manager certificate + Deployment, assumed 45 s"),
    "flagger": (30, "Helm flagger: CRDs + one Deployment, assumed 30 s"),
}
HELM_DEFAULT: Final = (60.0, "Helm release: assumed 1 min")


def duration(r: Registration, local_component: bool = False) -> tuple[float, str]:
    """Seconds to create `r`, and where the figure comes from; a local component only registers."""
    if local_component:
        return 0.0, "component: registers at once"
    rule = DURATIONS.get(r.type)
    if rule is not None:
        return rule(r)
    if r.type.startswith("pulumi:providers:") or r.type.startswith(("random:", "tls:")):
        return 0.0, "local: no API call"
    if r.type.startswith("kubernetes:helm.sh/"):
        seconds, basis = HELM_CHARTS.get(helm_chart(r), HELM_DEFAULT)
        if helm_waits(r) and helm_chart(r) == "vault":
            timeout = float(r.inputs.get("timeout") or HELM_TIMEOUT_SECONDS)
            return timeout, f"Helm Vault waits for pods NotReady until init: hangs to its {timeout:g} s timeout"
        return seconds, basis
    if r.type == "pulumi-python:dynamic:Resource":
        return 60.0, "dynamic resource (Vault bootstrap: init, PKI, auth): assumed 1 min"
    if r.type.startswith("kubernetes:"):
        return 3.0, "Kubernetes object: seconds (custom resources are not awaited)"
    if not r.custom:
        return REMOTE_COMPONENT_SECONDS, "remote component: assumed 1 min"
    return DEFAULT_SECONDS, "default: a few seconds"


def helm_waits(r: Registration) -> bool:
    """Whether a Helm release waits for its resources to become ready (the default, unless `skipAwait`)."""
    return not r.inputs.get("skipAwait")


def durations_of(plan: Plan) -> dict[str, tuple[float, str]]:
    """Each registration's duration; components with children in the plan are local and take no time."""
    parents = {r.parent for r in plan.resources}
    return {r.urn: duration(r, local_component=not r.custom and r.urn in parents) for r in plan.resources}


NODE_GROUP_TYPES: Final = frozenset({"aws:eks/nodeGroup:NodeGroup", "eks:index:ManagedNodeGroup"})
WORKLOAD_TYPES: Final = frozenset({"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet",
                                   "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:Job"})
CRD_ONLY_CHARTS: Final = frozenset({"linkerd-crds"})  # no pods: nothing to schedule
PVC_CHARTS: Final = frozenset({"vault", "kube-prometheus-stack"})  # volumeClaimTemplates on EBS


# --- ordering rules ---------------------------------------------------------------------------------------------------

# Order-only waits that are needed although no value flows: (dependent type, dependency type) -> why.
JUSTIFIED: Final[dict[tuple[str, str], str]] = {
    ("eks:index:Cluster", "aws:cloudwatch/logGroup:LogGroup"): "EKS would create the group unencrypted, no retention",
    ("aws:eks/cluster:Cluster", "aws:cloudwatch/logGroup:LogGroup"): "EKS would create the group itself",
    ("aws:rds/instance:Instance", "aws:cloudwatch/logGroup:LogGroup"): "RDS would create its log groups itself",
    ("aws:rds/instance:Instance", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        "enhanced monitoring role must carry its policy first",
    ("aws:mq/broker:Broker", "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"):
        "Amazon MQ publishes no logs unless the policy exists first",
    ("aws:ec2/natGateway:NatGateway", "aws:ec2/internetGateway:InternetGateway"):
        "a public NAT gateway needs the internet gateway attached",
    ("aws:eks/addon:Addon", "aws:eks/nodeGroup:NodeGroup"): "the add-on's pods need nodes to become ACTIVE",
    ("kubernetes:helm.sh/v3:Release", "aws:eks/nodeGroup:NodeGroup"):
        "a chart's pods need a schedulable node before the release's readiness wait can pass",
    # The mesh: Kubernetes objects find each other by name, so these order-only waits carry the design.
    ("pulumi-python:dynamic:Resource", "kubernetes:helm.sh/v3:Release"): "Vault must run before it is initialised",
    ("kubernetes:cert-manager.io/v1:ClusterIssuer", "pulumi-python:dynamic:Resource"):
        "Vault's PKI role and Kubernetes auth must exist first",
    ("kubernetes:cert-manager.io/v1:Certificate", "kubernetes:cert-manager.io/v1:ClusterIssuer"):
        "cert-manager signs only with a ready issuer",
    ("kubernetes:cert-manager.io/v1:Certificate", "kubernetes:cert-manager.io/v1:Issuer"):
        "cert-manager signs only with a ready issuer",
    ("kubernetes:cert-manager.io/v1:Issuer", "kubernetes:cert-manager.io/v1:Certificate"):
        "a CA issuer reads the Secret its Certificate creates",
    ("kubernetes:helm.sh/v3:Release", "kubernetes:cert-manager.io/v1:Certificate"):
        "the chart mounts the Secret the Certificate creates",
    ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Release"): "CRDs, CNI or webhooks from the earlier chart",
    ("kubernetes:helm.sh/v3:Release", "aws:eks/addon:Addon"):
        "Vault's PVCs bind only once the EBS CSI driver runs (on the sandbox's critical path without a public entry)",
    # Public entry.
    ("kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:helm.sh/v3:Release"):
        "the IngressClass `alb` and the controller's validating webhook come with the controller's chart",
    ("aws:route53/record:Record", "kubernetes:networking.k8s.io/v1:Ingress"):
        "the alias target is the ALB hostname from the Ingress status (a nested output this check does not read)",
}

# Custom resources of these API groups need their CRDs, which these charts install.
CRD_CHARTS: Final = {"cert-manager.io": "cert-manager", "acme.cert-manager.io": "cert-manager",
                     "policy.linkerd.io": "linkerd-crds", "linkerd.io": "linkerd-crds",
                     "monitoring.coreos.com": "kube-prometheus-stack", "flagger.app": "flagger"}
# Helm releases that must come after another release.
RELEASE_AFTER: Final = {"linkerd-control-plane": ("linkerd-crds",),
                         # its webhook Issuer/Certificate (enableCertManager) need cert-manager's CRDs and webhook
                         "aws-load-balancer-controller": ("cert-manager",),
                         # its serving Issuer/Certificate need cert-manager's CRDs and webhook
                         "prometheus-adapter": ("cert-manager",)}
