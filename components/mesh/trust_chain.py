"""The trust chain from Vault's root to Linkerd's identity issuer, as cert-manager objects.

cert-manager authenticates to Vault with a short-lived, audience-bound token of the `vault-issuer` service account
(no static token anywhere), asks Vault's PKI to sign the identity issuer's CSR, and renews it before it expires.
Linkerd's trust roots ConfigMap is created with Vault's root certificate; from then on the trust-anchor rotation
CronJob owns its content (old + new root during a rotation), so a `pulumi up` never writes it back.
Specs come from `cert_specs`; this component only wires them to the cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.mesh import cert_specs
from config.names import IDENTITY_ISSUER, TRUST_ROOTS_CONFIGMAP


@dataclass(frozen=True)
class TrustChainArgs:
    vault_server: str  # https URL of Vault's active service inside the cluster
    vault_ca_pem: pulumi.Input[str]  # CA of Vault's listener certificate
    root_ca_pem: pulumi.Input[str]  # the trust anchor, from the bootstrap (public)
    sign_path: str  # Vault endpoint cert-manager posts CSRs to
    auth_mount: str
    vault_role: str
    audience: str
    cert_manager_namespace: pulumi.Input[str]
    cert_manager_service_account: str  # the controller's SA, which requests the bound tokens
    linkerd_namespace: pulumi.Input[str]
    trust_domain: str
    issuer_duration_hours: int
    issuer_renew_before_hours: int
    # What the ClusterIssuer waits for: cert-manager's release (its CRDs and webhook) and Vault's bootstrap (the
    # role and policy it authenticates against). Children of a component do not inherit its depends_on.
    issuer_depends_on: Sequence[pulumi.Resource]


class TrustChain(pulumi.ComponentResource):
    """ClusterIssuer (Vault) -> identity issuer Certificate; trust roots ConfigMap."""

    def __init__(self, name: str, args: TrustChainArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:mesh:TrustChain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        sa = k8s.core.v1.ServiceAccount(
            f"{name}-issuer-sa",
            metadata={"name": cert_specs.ISSUER_SERVICE_ACCOUNT, "namespace": args.cert_manager_namespace},
            automount_service_account_token=False,
            opts=child,
        )
        # cert-manager may mint tokens for this one service account, nothing else.
        # Ref: https://cert-manager.io/docs/configuration/vault/#secretless-authentication-with-a-service-account
        role = k8s.rbac.v1.Role(
            f"{name}-issuer-token",
            metadata={"name": "vault-issuer-token-creator", "namespace": args.cert_manager_namespace},
            rules=[{"api_groups": [""], "resources": ["serviceaccounts/token"],
                    "resource_names": [cert_specs.ISSUER_SERVICE_ACCOUNT], "verbs": ["create"]}],
            opts=child,
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-issuer-token",
            metadata={"name": "vault-issuer-token-creator", "namespace": args.cert_manager_namespace},
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": "vault-issuer-token-creator"},
            subjects=[{"kind": "ServiceAccount", "name": args.cert_manager_service_account,
                       "namespace": args.cert_manager_namespace}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
        )
        spec = pulumi.Output.from_input(args.vault_ca_pem).apply(lambda ca: cert_specs.vault_cluster_issuer(
            args.vault_server, args.sign_path, ca, args.auth_mount, args.vault_role, args.audience))
        self.cluster_issuer = k8s.apiextensions.CustomResource(
            f"{name}-cluster-issuer",
            api_version="cert-manager.io/v1",
            kind="ClusterIssuer",
            metadata={"name": cert_specs.CLUSTER_ISSUER},
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[sa, binding, *args.issuer_depends_on]),
        )
        self.identity_issuer = k8s.apiextensions.CustomResource(
            f"{name}-identity-issuer",
            api_version="cert-manager.io/v1",
            kind="Certificate",
            metadata={"name": IDENTITY_ISSUER, "namespace": args.linkerd_namespace},
            spec=cert_specs.identity_issuer_certificate(args.trust_domain, args.issuer_duration_hours,
                                                        args.issuer_renew_before_hours),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster_issuer]),
        )
        self.trust_roots = k8s.core.v1.ConfigMap(
            f"{name}-trust-roots",
            metadata={"name": TRUST_ROOTS_CONFIGMAP, "namespace": args.linkerd_namespace},
            data={"ca-bundle.crt": pulumi.Output.from_input(args.root_ca_pem).apply(
                lambda pem: cert_specs.trust_bundle(pem, None))},
            # The rotation (components/mesh/anchor_rotation) rewrites the bundle during a rotation; the stack must
            # not put the old content back. Ref: https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["data"]),
        )
        self.register_outputs({"cluster_issuer": cert_specs.CLUSTER_ISSUER})
