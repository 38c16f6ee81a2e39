"""TLS for Vault's own listener: the one certificate that must exist before Vault can issue anything.

A small ECDSA P-256 CA made with pulumi-tls signs Vault's server certificate; both live in Pulumi state as secrets
(encrypted by the stack's KMS secrets provider) and in one Kubernetes Secret that Vault mounts. Clients (cert-manager's
ClusterIssuer, the bootstrap's port-forward, Vault's raft peers) trust the CA. The server certificate is valid two
years and re-issued by any `pulumi up` in its last 90 days (`early_renewal_hours`); Vault picks it up on restart
(README runbook). The CA itself lives ten years.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components.vault.vault_values import VaultTlsNames

SECRET_NAME: Final = "vault-server-tls"
CA_VALIDITY_HOURS: Final = 87600  # 10 years
SERVER_VALIDITY_HOURS: Final = 17520  # 2 years
SERVER_EARLY_RENEWAL_HOURS: Final = 2160  # 90 days


@dataclass(frozen=True)
class VaultTlsArgs:
    namespace: pulumi.Input[str]  # resolves once the namespace exists
    namespace_name: str
    names: VaultTlsNames  # every name and address Vault is reached by (values_vault.vault_tls_names)


class VaultTls(pulumi.ComponentResource):
    """Listener CA + server certificate + the Kubernetes Secret Vault mounts."""

    def __init__(self, name: str, args: VaultTlsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:vault:VaultTls", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ca_key = tls.PrivateKey(f"{name}-ca", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        self.ca = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=ca_key.private_key_pem,
            subject={"common_name": "vault-listener-ca", "organization": "mtls-platform"},
            is_ca_certificate=True,
            validity_period_hours=CA_VALIDITY_HOURS,
            allowed_uses=["cert_signing", "crl_signing"],
            opts=child,
        )
        server_key = tls.PrivateKey(f"{name}-server", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        request = tls.CertRequest(
            f"{name}-server",
            private_key_pem=server_key.private_key_pem,
            subject={"common_name": f"vault.{args.namespace_name}.svc"},
            dns_names=list(args.names.dns_names),
            # Includes 127.0.0.1: the deployer reaches Vault through a port-forward to localhost (VaultBootstrap).
            ip_addresses=list(args.names.ip_addresses),
            opts=child,
        )
        server = tls.LocallySignedCert(
            f"{name}-server",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=self.ca.cert_pem,
            validity_period_hours=SERVER_VALIDITY_HOURS,
            early_renewal_hours=SERVER_EARLY_RENEWAL_HOURS,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth", "client_auth"],
            opts=child,
        )
        self.secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata={"name": SECRET_NAME, "namespace": args.namespace},
            type="kubernetes.io/tls",
            string_data={
                "tls.crt": pulumi.Output.concat(server.cert_pem, self.ca.cert_pem),
                "tls.key": server_key.private_key_pem,
                "ca.crt": self.ca.cert_pem,
            },
            opts=child,
        )
        self.ca_pem = self.ca.cert_pem
        self.secret_name = self.secret.metadata.apply(lambda m: str(m.name))
        self.register_outputs({"ca_pem": self.ca_pem})
