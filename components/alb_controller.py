"""The AWS Load Balancer Controller: turns the public entry's Ingress into an ALB, target groups and security groups.

It runs in its own namespace rather than kube-system, for the same guard rails as every platform namespace: the
restricted Pod Security level enforced and a default-deny NetworkPolicy with named allows (kube-system holds
CoreDNS, kube-proxy and the VPC CNI, which neither would tolerate). Its AWS identity is an IRSA role only its
service account can assume, carrying the controller's upstream IAM policy for the pinned version.
Allows: DNS; the Kubernetes API; AWS APIs (ELB, EC2, ACM, WAF, Shield, STS) on 443 through NAT; the admission
webhook called by the API server; Prometheus scraping.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import namespace_policies as np
from components import versions
from components.cluster import DEVOPS_GROUP, Cluster
from components.helm import release
from components.platform_namespaces import network_policy
from components.values_alb_controller import (
    NAMESPACE,
    POD_LABELS,
    RELEASE,
    SERVICE_ACCOUNT,
    WEBHOOK_PORT,
    AlbControllerValuesArgs,
    alb_controller_values,
    iam_policy,
)


@dataclass(frozen=True)
class AlbControllerArgs:
    cluster: Cluster  # OIDC provider (IRSA), nodes to schedule on
    cluster_name: str
    region: str
    vpc_id: pulumi.Input[str]
    networks: np.Networks  # the VPC and service CIDRs (API server, webhook caller)
    ha: bool
    tags: dict[str, str]  # AWS tags the controller puts on what it creates
    cert_manager: pulumi.Resource  # the chart's webhook Issuer/Certificate need cert-manager's CRDs and controller
    depends_on: Sequence[pulumi.Resource] = ()  # nodes


def policies_for(net: np.Networks) -> dict[str, np.Spec]:
    """The controller namespace's NetworkPolicies, by name (default-deny first)."""
    return {
        "default-deny": np.default_deny(),
        "allow-dns": np.allow_dns(),
        "allow-api-server": np.allow_api_server(net),
        "allow-aws-apis": np.allow_aws_apis(),
        "allow-webhook": np.allow_webhook_from_api_server(net, (WEBHOOK_PORT,), dict(POD_LABELS)),
        "allow-monitoring": np.allow_scraping_from("monitoring"),
    }


class AlbController(pulumi.ComponentResource):
    """Namespace + NetworkPolicies + DevOps RBAC + IRSA role + the controller's Helm release."""

    def __init__(self, name: str, args: AlbControllerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:ingress:AlbController", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.namespace = k8s.core.v1.Namespace(
            NAMESPACE, metadata={"name": NAMESPACE, "labels": np.pod_security_labels("restricted")}, opts=child)
        for policy, spec in policies_for(args.networks).items():
            network_policy(NAMESPACE, policy, spec, self.namespace)
        k8s.rbac.v1.RoleBinding(
            f"{NAMESPACE}-devops-admin", metadata={"name": "platform-devops-admin", "namespace": NAMESPACE},
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            subjects=[{"api_group": "rbac.authorization.k8s.io", "kind": "Group", "name": DEVOPS_GROUP}],
            opts=pulumi.ResourceOptions(parent=self.namespace))

        self.role = args.cluster.irsa_role(f"{name}-irsa", NAMESPACE, SERVICE_ACCOUNT, parent=self)
        # Ref: https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v3.5.0/docs/install/iam_policy.json
        # (5.2 kB minified: fits an inline policy's 10,240-character limit).
        role_policy = aws.iam.RolePolicy(f"{name}-irsa", role=self.role.id,
                                         policy=json.dumps(iam_policy(), separators=(",", ":")),
                                         opts=pulumi.ResourceOptions(parent=self.role))
        # The role ARN is handed to the chart only once the policy is attached (publish "ready" outputs).
        role_arn = pulumi.Output.all(self.role.arn, role_policy.id).apply(lambda v: str(v[0]))
        namespace_name = self.namespace.metadata.apply(lambda m: str(m["name"]) if isinstance(m, dict) else str(m.name))
        self.release = release(
            RELEASE, RELEASE, versions.AWS_LOAD_BALANCER_CONTROLLER_CHART,
            versions.AWS_LOAD_BALANCER_CONTROLLER_REPOSITORY, namespace_name,
            alb_controller_values(AlbControllerValuesArgs(
                cluster_name=args.cluster_name, region=args.region, vpc_id=args.vpc_id, role_arn=role_arn,
                ha=args.ha, tags=args.tags)),
            pulumi.ResourceOptions(parent=self, depends_on=[args.cert_manager, *args.depends_on]))
        self.register_outputs({"role_arn": self.role.arn, "status": self.release.status})

