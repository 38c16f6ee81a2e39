"""The AWS Load Balancer Controller: turns the public entry's Ingress into an ALB, target groups and security groups.

It runs in its own platform namespace (`aws-load-balancer-controller`, created with the others by
`PlatformNamespaces`) rather than kube-system, for the guard rails every platform namespace gets: the restricted
Pod Security level enforced, a default-deny NetworkPolicy with named allows (DNS, the Kubernetes API, AWS APIs on 443
through NAT, its admission webhook from the API server, Prometheus) and DevOps RBAC. kube-system holds CoreDNS,
kube-proxy and the VPC CNI, which would tolerate neither. Its AWS identity is an IRSA role only its service account
can assume, carrying the controller's upstream IAM policy for the pinned version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.cluster.cluster import Cluster
from components.ingress.alb_controller_specs import iam_policy
from components.ingress.alb_controller_values import (
    NAMESPACE,
    RELEASE,
    SERVICE_ACCOUNT,
    AlbControllerValuesArgs,
    alb_controller_values,
)
from components.shared.helm import release
from config import versions


@dataclass(frozen=True)
class AlbControllerArgs:
    cluster: Cluster  # OIDC provider (IRSA)
    namespace: pulumi.Input[str]  # the controller's namespace, once it exists
    cluster_name: str
    region: str
    vpc_id: pulumi.Input[str]
    ha: bool
    tags: dict[str, str]  # AWS tags the controller puts on what it creates
    cert_manager: pulumi.Resource  # the chart's webhook Issuer/Certificate need cert-manager's CRDs and controller
    depends_on: Sequence[pulumi.Resource] = ()  # nodes


class AlbController(pulumi.ComponentResource):
    """IRSA role with the upstream policy + the controller's Helm release."""

    def __init__(self, name: str, args: AlbControllerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:ingress:AlbController", name, None, opts)
        self.role = args.cluster.irsa_role(f"{name}-irsa", NAMESPACE, SERVICE_ACCOUNT, parent=self)
        # Ref: https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v3.5.0/docs/install/iam_policy.json
        # (5.2 kB minified: within an inline policy's 10,240-character limit).
        role_policy = aws.iam.RolePolicy(f"{name}-irsa", role=self.role.id,
                                         policy=json.dumps(iam_policy(), separators=(",", ":")),
                                         opts=pulumi.ResourceOptions(parent=self.role))
        # The role ARN reaches the chart only once its policy is attached (publish "ready" outputs).
        role_arn = pulumi.Output.all(self.role.arn, role_policy.id).apply(lambda v: str(v[0]))
        self.release = release(
            RELEASE, RELEASE, versions.AWS_LOAD_BALANCER_CONTROLLER_CHART,
            versions.AWS_LOAD_BALANCER_CONTROLLER_REPOSITORY, args.namespace,
            alb_controller_values(AlbControllerValuesArgs(
                cluster_name=args.cluster_name, region=args.region, vpc_id=args.vpc_id, role_arn=role_arn,
                ha=args.ha, tags=args.tags)),
            pulumi.ResourceOptions(parent=self, depends_on=[args.cert_manager, *args.depends_on]))
        self.register_outputs({"role_arn": self.role.arn, "status": self.release.status})
