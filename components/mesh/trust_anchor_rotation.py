"""`TrustAnchorRotation`: the CronJob that rotates the trust anchor by itself, with its service account, RBAC, status
ConfigMap, Vault CA ConfigMap and the ECR repository of its image (components/mesh/anchor_rotation, README
"Trust-anchor rotation"). The Vault side (policy, role) is written by the bootstrap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.mesh import rotation_specs
from components.shared.rbac import bound_role
from components.vault.bootstrap.spec import BootstrapSpec
from config import versions


@dataclass(frozen=True)
class TrustAnchorRotationArgs:
    namespace: pulumi.Input[str]  # linkerd (the Namespace's name output: ordering)
    namespace_name: str
    meshed_namespaces: Sequence[pulumi.Input[str]]  # the app namespace(s), outputs of their Namespace resources
    meshed_namespace_names: tuple[str, ...]
    spec: BootstrapSpec
    vault_ca_pem: pulumi.Input[str]
    repository_name: str  # ECR repository of the rotation image
    kms_key_arn: pulumi.Input[str]
    schedule: str
    threshold_days: int
    stuck_hours: int
    prometheus_url: str
    protect: bool
    depends_on: Sequence[pulumi.Resource]  # the bootstrap (its role), the trust chain (the ConfigMap, Certificate)


class TrustAnchorRotation(pulumi.ComponentResource):
    """Image repository + SA + Roles/RoleBindings + status and CA ConfigMaps + CronJob."""

    def __init__(self, name: str, args: TrustAnchorRotationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:mesh:TrustAnchorRotation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec, sa = args.spec, args.spec.rotation_service_account
        self.repository = aws.ecr.Repository(
            f"{name}-image", name=args.repository_name, image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.kms_key_arn}],
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect))
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata={"name": sa, "namespace": args.namespace}, automount_service_account_token=False,
            opts=child)
        bindings: list[pulumi.Resource] = []
        for index, (namespace, rules) in enumerate([(args.namespace, rotation_specs.control_plane_rules()),
                                                    *((n, rotation_specs.meshed_rules())
                                                      for n in args.meshed_namespaces)]):
            suffix = "" if index == 0 else f"-meshed-{index}"
            bindings.append(bound_role(name, suffix, rotation_specs.JOB_NAME, namespace, rules, sa,
                                       args.namespace_name, self))
        self.status = k8s.core.v1.ConfigMap(
            f"{name}-status",
            metadata={"name": rotation_specs.STATUS_CONFIGMAP, "namespace": args.namespace},
            data=rotation_specs.initial_status(),
            # The CronJob (and a person's `request`) own the content after creation.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["data"]))
        ca = k8s.core.v1.ConfigMap(
            f"{name}-vault-ca",
            metadata={"name": rotation_specs.VAULT_CA_CONFIGMAP, "namespace": args.namespace},
            data={"ca.crt": args.vault_ca_pem}, opts=child)
        job = rotation_specs.RotationJobArgs(
            namespace=args.namespace_name, meshed_namespaces=args.meshed_namespace_names,
            image=f"{args.repository_name}:{versions.ANCHOR_ROTATION_IMAGE_TAG}", schedule=args.schedule,
            threshold_days=args.threshold_days, stuck_hours=args.stuck_hours, spec=spec,
            prometheus_url=args.prometheus_url)
        spec_args = rotation_specs.cronjob_spec(job)
        containers = spec_args["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        # The image the CronJob runs; deploy.yml builds and pushes it when the tag is not in the repository yet.
        self.image = pulumi.Output.concat(self.repository.repository_url, ":", versions.ANCHOR_ROTATION_IMAGE_TAG)
        containers[0]["image"] = self.image
        self.cronjob = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata={"name": rotation_specs.JOB_NAME, "namespace": args.namespace,
                      "labels": rotation_specs.POD_LABELS},
            spec=cast(k8s.batch.v1.CronJobSpecArgsDict, spec_args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, ca, self.status, *bindings,
                                                                 *args.depends_on]))
        self.register_outputs({"repository_url": self.repository.repository_url})
