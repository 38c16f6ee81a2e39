"""The system namespaces (and the application namespace) with their guard rails, before anything runs in them.

Each namespace gets Pod Security labels, a default-deny NetworkPolicy plus its named allows
(`namespace_policies`), and a RoleBinding that makes the `platform-devops` group (the DevOps role's access entry)
the only non-break-glass administrator of the system namespaces. Which namespaces are meshed is decided here:
only the application namespace. Vault, cert-manager and Linkerd itself stay outside the mesh, because the mesh's
identity depends on them: meshing them would make Linkerd's start wait for certificates that need Linkerd.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.cluster import DEVOPS_GROUP
from components.mesh import namespace_specs as np
from config.names import PLATFORM_NAMESPACES


@dataclass(frozen=True)
class PlatformNamespacesArgs:
    app_namespace: str
    networks: np.Networks
    # The app namespace's `config.linkerd.io/default-inbound-policy`: deny, or audit while onboarding
    # (policy_mode_specs.py).
    app_inbound_policy: str = "deny"
    # The app services with a Vault role: only their pods reach Vault's API (namespace_specs.allow_vault_from_apps).
    vault_app_clients: tuple[str, ...] = ()
    # The services Flagger delivers progressively: their `<svc>-primary` pods reach Vault too.
    progressive_services: frozenset[str] = frozenset()


def network_policy(ns: str, name: str, spec: np.Spec, parent: pulumi.Resource) -> k8s.networking.v1.NetworkPolicy:
    """A NetworkPolicy from a builder's spec (Kubernetes field names, which the SDK passes through as-is)."""
    return k8s.networking.v1.NetworkPolicy(
        f"{ns}-{name}", metadata={"name": name, "namespace": ns},
        spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict, spec), opts=pulumi.ResourceOptions(parent=parent))


class PlatformNamespaces(pulumi.ComponentResource):
    """Namespaces + Pod Security + default-deny NetworkPolicies + DevOps RBAC."""

    def __init__(self, name: str, args: PlatformNamespacesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:mesh:PlatformNamespaces", name, None, opts)
        self.namespaces: dict[str, k8s.core.v1.Namespace] = {}
        for ns in PLATFORM_NAMESPACES:
            level, _why = np.POD_SECURITY[ns]
            namespace = self._namespace(ns, {**np.pod_security_labels(level), **np.EXTRA_LABELS.get(ns, {})}, {})
            for policy, spec in np.policies_for(ns, args.networks, args.app_namespace,
                                                      args.vault_app_clients,
                                                      args.progressive_services).items():
                network_policy(ns, policy, spec, namespace)
            k8s.rbac.v1.RoleBinding(
                f"{ns}-devops-admin",
                metadata={"name": "platform-devops-admin", "namespace": ns},
                role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
                subjects=[{"api_group": "rbac.authorization.k8s.io", "kind": "Group", "name": DEVOPS_GROUP}],
                opts=pulumi.ResourceOptions(parent=namespace))
        # The application namespace: restricted, meshed. Its policies mirror the service graph (app layer).
        # Inbound default `deny`: a port is reachable only through a Server + AuthorizationPolicy (app layer).
        self.app = self._namespace(args.app_namespace, np.pod_security_labels("restricted"),
                                   {"linkerd.io/inject": "enabled",
                                    "config.linkerd.io/default-inbound-policy": args.app_inbound_policy})
        for policy, spec in {"default-deny": np.default_deny(), "allow-dns": np.allow_dns(),
                             "allow-linkerd": np.allow_egress_to("linkerd", (*np.LINKERD_CONTROL_PORTS,
                                                                             np.LINKERD_PROXY_INBOUND))}.items():
            network_policy(args.app_namespace, policy, spec, self.app)
        self.register_outputs({"namespaces": list(self.namespaces)})

    def _namespace(self, ns: str, labels: dict[str, str], annotations: dict[str, str]) -> k8s.core.v1.Namespace:
        namespace = k8s.core.v1.Namespace(
            ns, metadata={"name": ns, "labels": labels, "annotations": annotations},
            opts=pulumi.ResourceOptions(parent=self))
        self.namespaces[ns] = namespace
        return namespace

    def name_of(self, ns: str) -> pulumi.Output[str]:
        """The namespace's name once it exists: depend on this, not on the literal string."""
        return self.namespaces[ns].metadata.apply(lambda m: str(m["name"]) if isinstance(m, dict) else str(m.name))
