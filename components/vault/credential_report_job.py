"""`CredentialReportJob`: the CronJob in `vault` that writes every Vault-credentialed service's lease and rotation
state to the ConfigMap `vault/credential-report` (components/vault/credential_report, README "Application secrets
from Vault", Operations), with its service account, RBAC and status ConfigMap. The Vault side (policy, role) is
written by the bootstrap; the image is the trust-anchor rotation's (credential_report_specs.py says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_kubernetes as k8s

from components.shared.rbac import bound_role
from components.vault import credential_report_specs as specs
from components.vault.bootstrap.spec import BootstrapSpec
from components.vault.vault_tls import SECRET_NAME


@dataclass(frozen=True)
class CredentialReportJobArgs:
    namespace: pulumi.Input[str]  # vault (the Namespace's name output: ordering)
    app_namespace: pulumi.Input[str]  # the app namespace's name output (its Role lists pods there)
    app_namespace_name: str
    spec: BootstrapSpec
    app_secrets: pulumi.Input[str]  # the application secrets' spec as JSON (Vault's input, app_secrets.to_json)
    image: pulumi.Input[str]  # the trust-anchor rotation's image
    depends_on: Sequence[pulumi.Resource]  # the bootstrap (its role)


class CredentialReportJob(pulumi.ComponentResource):
    """SA + Roles/RoleBindings + status ConfigMap + CronJob."""

    def __init__(self, name: str, args: CredentialReportJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:vault:CredentialReportJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec, sa = args.spec, args.spec.report_service_account
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata={"name": sa, "namespace": args.namespace}, automount_service_account_token=False,
            opts=child)
        bindings: list[pulumi.Resource] = []
        for suffix, namespace, rules in (("", args.namespace, specs.report_rules()),
                                         ("-app", args.app_namespace, specs.app_rules())):
            bindings.append(bound_role(name, suffix, specs.JOB_NAME, namespace, rules, sa, spec.report_namespace,
                                       self))
        self.status = k8s.core.v1.ConfigMap(
            f"{name}-status", metadata={"name": specs.STATUS_CONFIGMAP, "namespace": args.namespace}, data={},
            # The CronJob owns the content after creation.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["data"]))
        settings = pulumi.Output.from_input(args.app_secrets).apply(
            lambda text: specs.report_settings(text, spec))
        job = specs.ReportJobArgs(image=args.image, spec=spec, app_namespace=args.app_namespace_name,
                                  settings=settings, ca_secret=SECRET_NAME)
        self.cronjob = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata={"name": specs.JOB_NAME, "namespace": args.namespace, "labels": specs.POD_LABELS},
            spec=cast(k8s.batch.v1.CronJobSpecArgsDict, specs.cronjob_spec(job)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, self.status, *bindings,
                                                                 *args.depends_on]))
        self.register_outputs({})
