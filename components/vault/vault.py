"""Vault in the cluster: encrypted storage, listener TLS, the Helm release, and its bootstrap.

Raft storage on KMS-encrypted gp3 volumes, awskms auto-unseal through the IRSA role (no static AWS key anywhere),
TLS on the listener from `VaultTls`. The release does not wait for readiness: Vault pods are not ready until
initialised, and initialising is the bootstrap's job, which runs next (`VaultBootstrap`, through a port-forward)
and hands the trust anchor's certificate to the mesh. The recovery keys land in a Secrets Manager secret that
only the deployer writes (README: "Vault recovery material").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.shared.encryption_keys import EncryptionKeys
from components.shared.helm import release
from components.vault.bootstrap.spec import BootstrapSpec
from components.vault.vault_aws import VaultAws
from components.vault.vault_bootstrap import VaultBootstrap, VaultBootstrapArgs
from components.vault.vault_tls import SECRET_NAME, VaultTls, VaultTlsArgs
from components.vault.vault_values import VaultValuesArgs, vault_tls_names, vault_values
from config import versions
from config.names import VAULT_ISSUER_SERVICE_ACCOUNT

STORAGE_CLASS = "gp3-encrypted"


@dataclass(frozen=True)
class VaultArgs:
    namespace: pulumi.Input[str]
    namespace_name: str
    ha: bool
    region: str
    name_prefix: str  # for the recovery secret's name
    vault_aws: VaultAws
    keys: EncryptionKeys
    kubeconfig: pulumi.Input[str]
    trust_anchor_ttl_hours: int
    # The one certificate cert-manager may have Vault sign (its policy pins both): the identity issuer's DNS name
    # and its Certificate's duration.
    identity_issuer_name: str
    identity_issuer_duration_hours: int
    protect: bool
    depends_on: Sequence[pulumi.Resource] = ()  # nodes and the EBS CSI driver its volumes need
    # The services' credentials (components/vault/bootstrap/app_secrets.py to_json) and the RDS master secret Vault's
    # PostgreSQL connection is seeded from; "" = none.
    app_secrets: pulumi.Input[str] = ""
    rds_ca_bundle: bool = False  # a service gets PostgreSQL credentials: Vault's pods fetch the RDS CA bundle
    postgres_master_secret_arn: pulumi.Input[str] = ""
    # The Vault Agent injector (vault_values.injector_values): the app namespace it mutates ("" = off), the Secret and
    # `<namespace>/<Certificate>` of its cert-manager serving certificate. The release does not wait for that
    # Certificate (it is wait=False, and the injector's pod waits for its Secret), so Vault's start is not delayed by
    # cert-manager's.
    injector_namespace: str = ""
    injector_tls_secret: str = ""
    injector_certificate: str = ""


class Vault(pulumi.ComponentResource):
    """StorageClass, listener TLS, recovery secret, Helm release, bootstrap."""

    def __init__(self, name: str, args: VaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:vault:Vault", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        values_args = VaultValuesArgs(
            ha=args.ha, region=args.region, kms_key_id=args.vault_aws.unseal_key_id,
            irsa_role_arn=args.vault_aws.role_arn, tls_secret_name=SECRET_NAME, storage_class=STORAGE_CLASS,
            namespace=args.namespace_name,
            rds_ca_bundle=args.rds_ca_bundle,
            injector_namespace=args.injector_namespace, injector_tls_secret=args.injector_tls_secret,
            injector_certificate=args.injector_certificate)
        storage = k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata={"name": STORAGE_CLASS},
            provisioner="ebs.csi.aws.com",
            # Ref: https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/master/docs/parameters.md
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": args.keys.data.arn},
            volume_binding_mode="WaitForFirstConsumer",  # the volume follows the pod's zone
            allow_volume_expansion=True,
            reclaim_policy="Retain" if args.protect else "Delete",
            opts=child,
        )
        self.tls = VaultTls(f"{name}-tls", VaultTlsArgs(args.namespace, args.namespace_name,
                                                         vault_tls_names(values_args)), child)
        self.recovery_secret = aws.secretsmanager.Secret(
            f"{name}-recovery",
            name=f"{args.name_prefix}/vault/recovery",
            description="Vault recovery keys (awskms seal). Written by the bootstrap, never by Pulumi state.",
            kms_key_id=args.keys.data.arn,
            recovery_window_in_days=30,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.release = release("vault", "vault", versions.VAULT_CHART, versions.VAULT_REPOSITORY, args.namespace,
                               vault_values(values_args),
                               pulumi.ResourceOptions(parent=self, depends_on=[storage, self.tls, *args.depends_on]),
                               wait=False)
        spec = BootstrapSpec(
            root_common_name=f"{args.name_prefix} trust anchor",
            audience=audience(args.name_prefix),
            root_ttl_hours=args.trust_anchor_ttl_hours,
            pki_max_ttl_hours=args.trust_anchor_ttl_hours,
            cert_manager_service_account=VAULT_ISSUER_SERVICE_ACCOUNT,
            identity_issuer_common_name=args.identity_issuer_name,
            identity_issuer_ttl_hours=args.identity_issuer_duration_hours,
        )
        self.bootstrap = VaultBootstrap(f"{name}-bootstrap", VaultBootstrapArgs(
            kubeconfig=args.kubeconfig, vault_ca_pem=self.tls.ca_pem,
            recovery_secret_arn=self.recovery_secret.arn, region=args.region, spec=spec,
            namespace=args.namespace_name,
        ), pulumi.ResourceOptions(parent=self, depends_on=[self.release]))
        # The services' credentials in a second run of the same bootstrap, after the first: it waits for RDS (up to
        # ~18 min for a Multi-AZ instance), which the trust chain and Linkerd must not wait for.
        self.app_secrets = VaultBootstrap(f"{name}-app-secrets", VaultBootstrapArgs(
            kubeconfig=args.kubeconfig, vault_ca_pem=self.tls.ca_pem,
            recovery_secret_arn=self.recovery_secret.arn, region=args.region, spec=spec,
            namespace=args.namespace_name, app_secrets=args.app_secrets,
            postgres_master_secret_arn=args.postgres_master_secret_arn,
        ), pulumi.ResourceOptions(parent=self, depends_on=[self.bootstrap])) if args.app_secrets else None
        self.spec = spec
        self.server = f"https://vault.{args.namespace_name}.svc:8200"
        self.ca_pem = self.tls.ca_pem
        self.root_ca_pem = self.bootstrap.root_ca_pem
        self.register_outputs({"root_ca_pem": self.root_ca_pem, "recovery_secret_arn": self.recovery_secret.arn})


def audience(name_prefix: str) -> str:
    """The `aud` cert-manager's bound token carries and Vault's role requires (one per stack)."""
    return f"vault://{name_prefix}"
