"""Velero, when `backup.veleroEnabled` is on (sandbox only): its own bucket, IRSA role, namespace and Helm release.

Off by default everywhere; a config rule refuses it outside sandbox (the customer's brief declined it). The namespace is
restricted Pod Security with default-deny NetworkPolicies plus DNS, the Kubernetes API and AWS APIs (S3/STS) on 443.
Values and policy: `velero_values.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.backup import velero_specs
from components.backup import velero_values as vv
from components.cluster.cluster import Cluster
from components.mesh import namespace_specs as np
from components.mesh.platform_namespaces import network_policy
from components.shared.helm import release
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs
from config import versions


@dataclass(frozen=True)
class VeleroArgs:
    cluster: Cluster
    kms_key_arn: pulumi.Input[str]  # the platform's `data` key
    region: str
    networks: np.Networks
    retention_days: int  # noncurrent backup object versions
    access_log_bucket: pulumi.Input[str] | None = None


class Velero(pulumi.ComponentResource):
    """Bucket + IRSA role + namespace (restricted, default-deny) + Helm release."""

    def __init__(self, name: str, args: VeleroArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:backup:Velero", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = SecureBucket(f"{name}-bucket", SecureBucketArgs(
            kms_key_arn=args.kms_key_arn, protect=False, noncurrent_version_expiration_days=args.retention_days,
            access_log_bucket=args.access_log_bucket, log_prefix="velero/"), child)
        role = args.cluster.irsa_role(f"{name}-irsa", vv.NAMESPACE, vv.SERVICE_ACCOUNT, parent=self)
        policy = aws.iam.RolePolicy(f"{name}-irsa", role=role.id, policy=pulumi.Output.json_dumps(
            velero_specs.velero_policy(self.bucket.arn, args.kms_key_arn, args.region)),
            opts=pulumi.ResourceOptions(parent=role))
        namespace = k8s.core.v1.Namespace(
            name, metadata={"name": vv.NAMESPACE, "labels": np.pod_security_labels("restricted")}, opts=child)
        for policy_name, spec in {"default-deny": np.default_deny(), "allow-dns": np.allow_dns(),
                                  "allow-api-server": np.allow_api_server(args.networks),
                                  "allow-aws-apis": np.allow_aws_apis()}.items():
            network_policy(vv.NAMESPACE, policy_name, spec, namespace)
        role_arn = pulumi.Output.all(role.arn, policy.id).apply(lambda v: str(v[0]))
        self.release = release(
            "velero", "velero", versions.VELERO_CHART, versions.VELERO_REPOSITORY,
            namespace.metadata.apply(lambda m: str(m.name)),
            vv.velero_values(vv.VeleroValuesArgs(self.bucket.name, args.region, args.kms_key_arn, role_arn)),
            pulumi.ResourceOptions(parent=self))
        self.register_outputs({"bucket": self.bucket.name, "role_arn": role_arn})
