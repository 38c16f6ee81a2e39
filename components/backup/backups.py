"""Operations: Vault's raft snapshot backups, wired together.

`BackupAws` gives the job its write-only IRSA role (and replicates the bucket to the DR region where configured);
here the job's service account and the CronJob itself (`snapshot_specs.cronjob_spec`) are created in `vault`, after
the bootstrap has written the Vault policy and Kubernetes auth role the job logs in with. Velero, optional and
sandbox-only, joins when `backup.veleroEnabled` is on. Restore runbook: docs/vault-restore.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_kubernetes as k8s

from components.backup import snapshot_specs
from components.backup.backup_aws import BackupAws, BackupAwsArgs
from components.backup.velero import Velero, VeleroArgs
from components.cluster.cluster import Cluster
from components.mesh import namespace_specs
from components.shared.encryption_keys import EncryptionKeys
from components.vault.vault import Vault
from components.vault.vault_aws import VaultAws
from components.vault.vault_tls import SECRET_NAME
from config.model import StackConfig
from config.names import VAULT_NAMESPACE


@dataclass(frozen=True)
class BackupsArgs:
    config: StackConfig
    cluster: Cluster
    vault_aws: VaultAws
    keys: EncryptionKeys
    vault: Vault  # the release, its bootstrap (policy + role) and the spec naming them
    access_log_bucket: pulumi.Input[str] | None = None  # for Velero's bucket


class Backups(pulumi.ComponentResource):
    """Snapshot IRSA role (+ DR replication) + service account + CronJob."""

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:backup:Backups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg, spec = args.config, args.vault.spec
        self.aws = BackupAws(f"{name}-aws", BackupAwsArgs(
            cluster=args.cluster, vault_aws=args.vault_aws, keys=args.keys,
            service_account=spec.snapshot_service_account, region=cfg.region, name_prefix=cfg.name_prefix,
            dr_region=cfg.dr_region if cfg.backup_dr_replication else None,
            retention_days=cfg.vault_backup_retention_days, log_retention_days=cfg.log_retention_days,
            protect=cfg.protect_resources, tags=cfg.tags), child)
        # Ref: https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html (annotation)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-snapshot-sa",
            metadata={"name": spec.snapshot_service_account, "namespace": VAULT_NAMESPACE,
                      "annotations": {"eks.amazonaws.com/role-arn": self.aws.role_arn}},
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.vault.release]),
        )
        job = snapshot_specs.SnapshotJobArgs(
            namespace=VAULT_NAMESPACE, schedule=cfg.backup_schedule, service_account=spec.snapshot_service_account,
            vault_role=spec.snapshot_role, audience=spec.snapshot_audience, auth_mount=spec.kubernetes_auth_path,
            ca_secret=SECRET_NAME, bucket=args.vault_aws.bucket_name, kms_key_arn=args.keys.data.arn,
            region=cfg.region)
        self.cronjob = k8s.batch.v1.CronJob(
            f"{name}-vault-snapshot",
            metadata={"name": snapshot_specs.JOB_NAME, "namespace": VAULT_NAMESPACE,
                      "labels": snapshot_specs.POD_LABELS},
            spec=cast(k8s.batch.v1.CronJobSpecArgsDict, snapshot_specs.cronjob_spec(job)),
            # After the bootstrap: the first run must find the Vault role it logs in with.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, args.vault.bootstrap, args.vault.tls]),
        )
        self.velero: Velero | None = None
        if cfg.velero_enabled:  # sandbox only (config rule)
            self.velero = Velero(f"{name}-velero", VeleroArgs(
                cluster=args.cluster, kms_key_arn=args.keys.data.arn, region=cfg.region,
                networks=namespace_specs.Networks(cfg.vpc_cidr, cfg.kubernetes_service_cidr),
                retention_days=cfg.vault_backup_retention_days, access_log_bucket=args.access_log_bucket,
            ), pulumi.ResourceOptions(parent=self, depends_on=[args.cluster.ebs_csi_addon, *args.cluster.nodes_ready]))
        self.register_outputs({"snapshot_role_arn": self.aws.role_arn})
