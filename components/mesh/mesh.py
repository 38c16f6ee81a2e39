"""The mesh layer, in dependency order: namespaces -> cert-manager -> Vault -> bootstrap -> ClusterIssuer ->
identity issuer Certificate -> Linkerd (CNI, CRDs, control plane).

After `pulumi up`, every meshed connection is mTLS and the chain of trust starts at a root CA held by Vault; every
certificate in the chain renews itself (README: "Trust chain"). Which namespaces are meshed and why the control
planes are not: `platform_namespaces`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.cluster.cluster import Cluster
from components.data.data_services import DataServices
from components.data.postgres import DATABASE_NAME
from components.mesh import cert_specs, namespace_specs, policy_mode_specs
from components.mesh.cert_manager import CONTROLLER_SERVICE_ACCOUNT, CertManager, CertManagerArgs
from components.mesh.linkerd import Linkerd, LinkerdArgs
from components.mesh.linkerd_values import LinkerdValuesArgs
from components.mesh.platform_namespaces import PlatformNamespaces, PlatformNamespacesArgs
from components.mesh.trust_anchor_rotation import TrustAnchorRotation, TrustAnchorRotationArgs
from components.mesh.trust_chain import TrustChain, TrustChainArgs
from components.mesh.webhook_certificates import webhook_certificates
from components.shared.encryption_keys import EncryptionKeys
from components.vault.bootstrap import app_secrets
from components.vault.credential_report_job import CredentialReportJob, CredentialReportJobArgs
from components.vault.vault import Vault, VaultArgs
from components.vault.vault_aws import VaultAws
from components.vault.vault_values import INJECTOR_SERVICE
from config.model import StackConfig
from config.names import (
    CERT_MANAGER_NAMESPACE,
    LINKERD_CNI_NAMESPACE,
    LINKERD_NAMESPACE,
    VAULT_NAMESPACE,
    cache_user_prefix,
)

TRUST_DOMAIN = "cluster.local"  # Linkerd's identityTrustDomain default (the cluster domain)
# kube-prometheus-stack's Prometheus (components/monitoring/monitoring_values.py PROMETHEUS_URL, a layer above: a test
# keeps the two equal), which the trust-anchor rotation's health gate queries when the stack runs monitoring.
# The Vault Agent injector's serving certificate (cert-manager, in the vault namespace): Certificate and Secret name.
INJECTOR_CERTIFICATE = "vault-agent-injector"
INJECTOR_TLS_SECRET = "vault-agent-injector-tls"
PROMETHEUS_URL = "http://prometheus-operated.monitoring.svc.cluster.local:9090"


@dataclass(frozen=True)
class MeshArgs:
    config: StackConfig
    cluster: Cluster
    vault_aws: VaultAws
    keys: EncryptionKeys
    data: DataServices | None = None  # the services' credentials come from Vault's engines over these


class Mesh(pulumi.ComponentResource):
    """Namespaces, cert-manager, Vault, the trust chain and Linkerd."""

    def __init__(self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:mesh:Mesh", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg = args.config
        # The app services with a Vault role (their credentials come from Vault's engines over `data`).
        self.vault_app_clients = vault_app_clients(cfg) if args.data is not None else ()
        self.namespaces = PlatformNamespaces("namespaces", PlatformNamespacesArgs(
            app_namespace=cfg.app_namespace_name,
            networks=namespace_specs.Networks(cfg.vpc_cidr, cfg.kubernetes_service_cidr),
            app_inbound_policy=policy_mode_specs.NAMESPACE_INBOUND_POLICY[cfg.policy_mode],
            vault_app_clients=self.vault_app_clients, progressive_services=cfg.progressive_services,
        ), child)
        ns = self.namespaces.name_of
        nodes = args.cluster.nodes_ready
        self.cert_manager = CertManager(
            "cert-manager", CertManagerArgs(ns(CERT_MANAGER_NAMESPACE), cfg.is_ha, nodes), child)
        # The Vault Agent injector runs only where some service has a Vault role; its certificate chain is
        # cert-manager's, like Linkerd's webhooks (webhook_certificates), created once cert-manager runs.
        if self.vault_app_clients:
            webhook_certificates(
                "vault-injector", ns(VAULT_NAMESPACE), VAULT_NAMESPACE,
                {"injector": (INJECTOR_CERTIFICATE, INJECTOR_TLS_SECRET, INJECTOR_SERVICE)},
                "webhook.vault.cluster.local",
                pulumi.ResourceOptions(parent=self, depends_on=[self.cert_manager.release]))
        self.vault = Vault("vault", VaultArgs(
            app_secrets=_app_secrets(cfg, args.data),
            rds_ca_bundle=any(app_secrets.POSTGRES in s.data_services
                              for s in cfg.services if s.name in self.vault_app_clients),
            postgres_master_secret_arn=(
                args.data.postgres_secret_arn if args.data is not None else ""),
            namespace=ns(VAULT_NAMESPACE), namespace_name=VAULT_NAMESPACE, ha=cfg.is_ha, region=cfg.region,
            name_prefix=cfg.name_prefix, vault_aws=args.vault_aws, keys=args.keys,
            kubeconfig=args.cluster.kubeconfig, trust_anchor_ttl_hours=cfg.trust_anchor_ttl_hours,
            identity_issuer_name=cert_specs.identity_issuer_name(TRUST_DOMAIN),
            identity_issuer_duration_hours=cfg.identity_issuer_duration_hours,
            protect=cfg.protect_resources, depends_on=[*nodes, args.cluster.ebs_csi_addon],
            injector_namespace=cfg.app_namespace_name if self.vault_app_clients else "",
            injector_tls_secret=INJECTOR_TLS_SECRET,
            injector_certificate=f"{VAULT_NAMESPACE}/{INJECTOR_CERTIFICATE}",
        ), child)
        spec = self.vault.spec
        self.trust_chain = TrustChain("trust-chain", TrustChainArgs(
            vault_server=self.vault.server, vault_ca_pem=self.vault.ca_pem, root_ca_pem=self.vault.root_ca_pem,
            sign_path=spec.signing_path,
            auth_mount=spec.kubernetes_auth_path, vault_role=spec.cert_manager_role, audience=spec.audience,
            cert_manager_namespace=ns(CERT_MANAGER_NAMESPACE), cert_manager_service_account=CONTROLLER_SERVICE_ACCOUNT,
            linkerd_namespace=ns(LINKERD_NAMESPACE), trust_domain=TRUST_DOMAIN,
            issuer_duration_hours=cfg.identity_issuer_duration_hours,
            issuer_renew_before_hours=cfg.identity_issuer_renew_before_hours,
            issuer_depends_on=[self.cert_manager.release, self.vault.bootstrap],
        ), child)
        self.linkerd = Linkerd("linkerd", LinkerdArgs(
            namespace=ns(LINKERD_NAMESPACE), namespace_name=LINKERD_NAMESPACE, cni_namespace=ns(LINKERD_CNI_NAMESPACE),
            values=LinkerdValuesArgs(ha=cfg.is_ha, default_inbound_policy=cfg.default_inbound_policy),
            control_plane_depends_on=[self.trust_chain.trust_roots, self.trust_chain.identity_issuer],
            cert_manager=self.cert_manager.release, nodes_ready=nodes,
        ), child)
        # Rotates the trust anchor by itself (README "Trust-anchor rotation"); after Linkerd, whose Deployments it
        # restarts, and the bootstrap, which writes its Vault role.
        self.anchor_rotation = TrustAnchorRotation("trust-anchor-rotation", TrustAnchorRotationArgs(
            namespace=ns(LINKERD_NAMESPACE), namespace_name=LINKERD_NAMESPACE,
            meshed_namespaces=[ns(cfg.app_namespace_name)], meshed_namespace_names=(cfg.app_namespace_name,),
            spec=spec, vault_ca_pem=self.vault.ca_pem, repository_name=f"{cfg.name_prefix}/trust-anchor-rotation",
            kms_key_arn=args.keys.data.arn, schedule=cfg.anchor_rotation_schedule,
            threshold_days=cfg.anchor_rotation_threshold_days, stuck_hours=cfg.anchor_rotation_stuck_hours,
            prometheus_url=PROMETHEUS_URL if cfg.monitoring_enabled else "", protect=cfg.protect_resources,
            depends_on=[self.vault.bootstrap, self.trust_chain.trust_roots, self.trust_chain.identity_issuer,
                        self.linkerd.control_plane],
        ), child)
        # Per-service lease and rotation state into vault/credential-report (`make verify`'s vault-leases rows), run
        # from the rotation's image; where some service has a Vault role.
        if self.vault_app_clients:
            self.credential_report = CredentialReportJob("credential-report", CredentialReportJobArgs(
                namespace=ns(VAULT_NAMESPACE), app_namespace=ns(cfg.app_namespace_name),
                app_namespace_name=cfg.app_namespace_name, spec=spec, app_secrets=_app_secrets(cfg, args.data),
                image=self.anchor_rotation.image, depends_on=[self.vault.bootstrap]), child)
        self.register_outputs({"root_ca_pem": self.vault.root_ca_pem})


def vault_app_clients(cfg: StackConfig) -> tuple[str, ...]:
    """The catalog services that get a Vault role: those with PostgreSQL or cache credentials (app_secrets)."""
    # manifests.mode "replace": the catalog's services are not created, so they get no Vault identity either.
    if cfg.manifests_mode == "replace":
        return ()
    return tuple(sorted(s.name for s in cfg.services if set(app_secrets.DELIVERED) & set(s.data_services)))


def _app_secrets(cfg: StackConfig, data: DataServices | None) -> pulumi.Input[str]:
    """The catalog's services and their dataServices, as Vault's application-secrets spec (JSON)."""
    if data is None:
        return ""
    # Even with no client left the spec is written: an empty one makes the bootstrap delete every `app-*` role and
    # policy, so a stack whose last client dropped its data services revokes that identity on the next `up`.
    clients = set(vault_app_clients(cfg))
    services = tuple((s.name, tuple(s.data_services)) for s in cfg.services if s.name in clients)
    return pulumi.Output.all(data.postgres_endpoint, data.cache_endpoint).apply(
        lambda endpoints: app_secrets.to_json(app_secrets.for_stack(
            services, cfg.app_namespace_name, app_secrets.audience_for(cfg.name_prefix), endpoints[0], DATABASE_NAME,
            cfg.postgres_credential_ttl_hours, cfg.postgres_credential_max_ttl_hours, cache_endpoint=endpoints[1],
            region=cfg.region, cache_user_prefix=cache_user_prefix(cfg.name_prefix),
            cache_rotation_days=cfg.cache_rotation_days)))
