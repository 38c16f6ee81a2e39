"""Linkerd: the CNI plugin, the CRDs and the control plane, in external-CA mode on Vault's trust chain.

The control plane reads its trust roots from the `linkerd-identity-trust-roots` ConfigMap and its issuer from the
`linkerd-identity-issuer` Secret that cert-manager keeps renewed (`identity.externalCA`, scheme
`kubernetes.io/tls`): no CA material goes through Helm values. Its webhooks serve certificates from a separate
cert-manager CA (the chart's own self-signed ones expire after a year), with the CA bundle injected by cert-manager.
The CNI plugin replaces proxy-init, so meshed pods need no NET_ADMIN and pass the restricted Pod Security level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.mesh.linkerd_values import (
    WEBHOOKS,
    LinkerdValuesArgs,
    linkerd_cni_values,
    linkerd_control_plane_values,
    linkerd_crds_values,
)
from components.mesh.webhook_certificates import webhook_certificates
from components.shared.helm import release
from config import versions


@dataclass(frozen=True)
class LinkerdArgs:
    namespace: pulumi.Input[str]
    namespace_name: str
    cni_namespace: pulumi.Input[str]
    values: LinkerdValuesArgs
    # What the control plane needs before it starts: the trust roots ConfigMap and the identity issuer
    # Certificate (TrustChain), and cert-manager itself for the webhook certificates.
    control_plane_depends_on: Sequence[pulumi.Resource]
    cert_manager: pulumi.Resource
    nodes_ready: Sequence[pulumi.Resource] = ()  # the CNI DaemonSet and control plane pods need nodes


class Linkerd(pulumi.ComponentResource):
    """linkerd2-cni -> linkerd-crds -> webhook certificates -> linkerd-control-plane."""

    def __init__(self, name: str, args: LinkerdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:mesh:Linkerd", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        chart = versions.LINKERD_CHART
        repo = versions.LINKERD_REPOSITORY
        self.crds = release("linkerd-crds", "linkerd-crds", chart, repo, args.namespace, linkerd_crds_values(), child)
        before_control_plane: list[pulumi.Resource] = [self.crds, *args.control_plane_depends_on, *args.nodes_ready]
        if args.values.cni_enabled:
            self.cni = release("linkerd2-cni", "linkerd2-cni", chart, repo, args.cni_namespace, linkerd_cni_values(),
                               pulumi.ResourceOptions(parent=self, depends_on=list(args.nodes_ready)))
            before_control_plane.append(self.cni)
        before_control_plane += self._webhook_certificates(name, args)
        self.control_plane = release(
            "linkerd-control-plane", "linkerd-control-plane", chart, repo, args.namespace,
            linkerd_control_plane_values(args.values),
            pulumi.ResourceOptions(parent=self, depends_on=before_control_plane))
        self.register_outputs({"status": self.control_plane.status})

    def _webhook_certificates(self, name: str, args: LinkerdArgs) -> list[pulumi.Resource]:
        """Self-signed root -> CA Issuer -> one serving Certificate per webhook, all in the linkerd namespace."""
        return webhook_certificates(name, args.namespace, args.namespace_name, WEBHOOKS,
                                    "webhook.linkerd.cluster.local",
                                    pulumi.ResourceOptions(parent=self, depends_on=[args.cert_manager]))
