"""Serving certificates for admission webhooks and aggregated APIs, kept renewed by cert-manager.

Charts that generate their own webhook certificate at render time (Linkerd's control plane and linkerd-viz) make a
one-year self-signed one that only a `helm upgrade` renews. Instead, per namespace: a self-signed Issuer -> a CA
Certificate -> a CA Issuer -> one Certificate per webhook, whose Secret the chart mounts (`externalSecret`) and whose
CA cainjector copies into the webhook configuration (`injectCaFrom`): linkerd_values.external_webhook_values.
Ref: https://linkerd.io/2-edge/tasks/automatically-rotating-webhook-tls-credentials/
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.mesh import cert_specs

# Webhook -> (cert-manager Certificate name, the Secret the chart mounts, the Service the API server calls).
Webhooks = Mapping[str, tuple[str, str, str]]


def webhook_certificates(name: str, namespace: pulumi.Input[str], namespace_name: str, webhooks: Webhooks,
                         ca_common_name: str, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
    """The chain in `namespace`, resources named `<name>-...` under `opts` (its parent and what they wait for)."""

    def cert_manager_object(suffix: str, kind: str, meta_name: str, spec: cert_specs.Spec,
                            depends_on: Sequence[pulumi.Resource] = ()) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{name}-{suffix}", api_version="cert-manager.io/v1", kind=kind,
            metadata={"name": meta_name, "namespace": namespace}, spec=spec,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=depends_on)))

    selfsigned = cert_manager_object("selfsigned", "Issuer", "linkerd-selfsigned", {"selfSigned": {}})
    ca = cert_manager_object("webhook-ca", "Certificate", cert_specs.WEBHOOK_ISSUER,
                             cert_specs.webhook_ca_certificate(ca_common_name), [selfsigned])
    issuer = cert_manager_object("webhook-issuer", "Issuer", cert_specs.WEBHOOK_ISSUER,
                                 {"ca": {"secretName": f"{cert_specs.WEBHOOK_ISSUER}-tls"}}, [ca])
    return [
        cert_manager_object(f"webhook-{certificate}", "Certificate", certificate,
                            cert_specs.webhook_certificate(secret, service, namespace_name), [issuer])
        for certificate, secret, service in webhooks.values()
    ]

