"""Trust-chain rules: cert-manager HA, Certificates, Vault issuers, Linkerd values and authorization.

From cert-manager's best-practice and Certificate docs, Linkerd's HA, policy and identity docs (audit list, sections
"cert-manager" and "Linkerd"). Linkerd's chart defaults are the insecure ones (`proxy.defaultInboundPolicy:
all-unauthenticated`, `identity.externalCA: false`), so unset values fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from audit import kinds
from audit.helm import chart, chart_of, namespace_of, values
from audit.model import (
    Context,
    Resource,
    Stack,
    Verdict,
    all_of,
    dig,
    failed,
    number,
    passed,
    resource_rule,
    stack_rule,
    truthy,
)
from config.names import HA_ENVIRONMENTS, IDENTITY_ISSUER

# `linkerd check` warns when the identity issuer certificate expires within 60 days.
# Ref: https://linkerd.io/2-edge/tasks/troubleshooting/#l5d-identity-issuer-cert-not-expiring-soon
LINKERD_CHECK_WINDOW_HOURS = 60 * 24
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")
_GO_UNIT_HOURS = {"h": 1.0, "m": 1 / 60, "s": 1 / 3600, "ms": 1 / 3.6e6, "us": 1 / 3.6e9, "ns": 1 / 3.6e12}


def go_hours(duration: Any) -> float | None:
    """A Go duration ("2160h", "1464h0m0s", "90m") in hours; None when absent or malformed."""
    if not isinstance(duration, str) or not duration:
        return None
    parts = _GO_DURATION.findall(duration)
    if "".join(n + u for n, u in parts) != duration:
        return None
    return sum(float(n) * _GO_UNIT_HOURS[u] for n, u in parts)


@resource_rule("cert-manager-ha", "cert-manager runs HA: controller 2, webhook 3, cainjector 2, PDBs (staging/prod)",
               "best practice", kinds.HELM_RELEASES, selector=chart("cert-manager"), mandatory_in=HA_ENVIRONMENTS,
               also=("cert-manager docs: best practice - high availability",))
def cert_manager_ha(r: Resource, ctx: Context) -> Verdict:
    checks = []
    for component, prefix, want in (("controller", (), 2), ("webhook", ("webhook",), 3),
                                    ("cainjector", ("cainjector",), 2)):
        replicas = number(values(r, *prefix, "replicaCount", default=1))
        checks.append((replicas >= want, f"{component} {replicas:.0f} replica(s) < {want}"))
        checks.append((truthy(values(r, *prefix, "podDisruptionBudget", "enabled", default=False)),
                       f"{component} PDB off"))
    return all_of(checks, "2/3/2 replicas with PDBs")


@resource_rule("certificate-private-key", "Certificates use ECDSA keys, rotated on every issuance",
               "certificate docs", {kinds.CERTIFICATE},
               also=("cert-manager docs: Certificate privateKey.rotationPolicy",
                     "Linkerd identity issuer requires ECDSA P-256"))
def certificate_private_key(r: Resource, ctx: Context) -> Verdict:
    algorithm = r.get("spec", "privateKey", "algorithm")
    policy = r.get("spec", "privateKey", "rotationPolicy")
    return all_of([(algorithm == "ECDSA", f"algorithm {algorithm!r} (cert-manager defaults to RSA)"),
                   (policy == "Always", f"rotationPolicy {policy!r}, not explicitly Always")], "ECDSA, Always")


@resource_rule("certificate-durations", "Certificates set duration and renewBefore < duration explicitly",
               "certificate docs", {kinds.CERTIFICATE})
def certificate_durations(r: Resource, ctx: Context) -> Verdict:
    duration = go_hours(r.get("spec", "duration"))
    before = go_hours(r.get("spec", "renewBefore"))
    percentage = r.get("spec", "renewBeforePercentage")
    if r.get("spec", "renewal", "policy") == "Disabled":
        return failed("renewal.policy Disabled: the certificate expires")
    if duration is None:
        return failed("no explicit spec.duration")
    if before is None and percentage is None:
        return failed("neither renewBefore nor renewBeforePercentage")
    if before is not None and before >= duration:
        return failed(f"renewBefore {before:g} h >= duration {duration:g} h")
    return passed(f"duration {duration:g} h, renew {f'{before:g} h' if before is not None else f'{percentage}%'}"
                  " before expiry")


def _linkerd_issuer(r: Resource) -> bool:
    return bool(r.get("spec", "secretName") == IDENTITY_ISSUER)


@resource_rule("linkerd-issuer-renewal-window", "Linkerd's issuer renews before `linkerd check` warns (> 60 d)",
               "expiry", {kinds.CERTIFICATE}, selector=_linkerd_issuer, mandatory_in=(),
               also=("linkerd check: l5d-identity-issuer-cert-not-expiring-soon",))
def linkerd_issuer_renewal_window(r: Resource, ctx: Context) -> Verdict:
    before = go_hours(r.get("spec", "renewBefore"))
    if before is None:
        return failed("no explicit renewBefore")
    return passed(f"renews {before / 24:g} d before expiry") if before > LINKERD_CHECK_WINDOW_HOURS else failed(
        f"renews {before / 24:g} d before expiry: `linkerd check` warns from 60 d")


def _vault_issuer(r: Resource) -> bool:
    return r.get("spec", "vault") is not None


@resource_rule("vault-issuer-auth",
               "Vault issuers authenticate with a bound service-account token over verified https",
               "Vault issuer", kinds.ISSUERS, selector=_vault_issuer,
               also=("cert-manager docs: Vault issuer - Kubernetes auth with serviceAccountRef",))
def vault_issuer_auth(r: Resource, ctx: Context) -> Verdict:
    vault = r.get("spec", "vault", default={}) or {}
    auth = vault.get("auth") or {}
    kube = auth.get("kubernetes") or {}
    return all_of([
        (str(vault.get("server", "")).startswith("https://"), f"server {vault.get('server')!r} is not https"),
        (bool(vault.get("caBundle") or vault.get("caBundleSecretRef")), "no caBundle: Vault's certificate unverified"),
        (bool(dig(kube, "serviceAccountRef", "name")), "not Kubernetes auth through serviceAccountRef"),
        (not kube.get("secretRef"), "long-lived service-account token secret (secretRef)"),
        (not auth.get("tokenSecretRef") and not auth.get("appRole"), "static Vault credentials (token/AppRole)"),
    ], "Kubernetes auth via serviceAccountRef, https with caBundle")


# --- Linkerd ----------------------------------------------------------------------------------------------------

_LINKERD = chart("linkerd-control-plane")


@resource_rule("linkerd-ha", "Linkerd control plane runs HA (values-ha) in staging/prod", "values-ha",
               kinds.HELM_RELEASES, selector=_LINKERD, mandatory_in=HA_ENVIRONMENTS,
               also=("Linkerd docs: high availability",))
def linkerd_ha(r: Resource, ctx: Context) -> Verdict:
    replicas = number(values(r, "controllerReplicas", default=1))
    proxy = values(r, "proxy", "resources", default={}) or {}
    return all_of([
        (replicas >= 3, f"controllerReplicas {replicas:.0f} < 3"),
        (truthy(values(r, "enablePodDisruptionBudget", default=False)), "enablePodDisruptionBudget off"),
        (truthy(values(r, "enablePodAntiAffinity", default=False)), "enablePodAntiAffinity off"),
        (values(r, "webhookFailurePolicy", default="Ignore") == "Fail", "webhookFailurePolicy is not Fail"),
        (bool(dig(proxy, "cpu", "request")) and bool(dig(proxy, "memory", "request"))
         and bool(dig(proxy, "memory", "limit")), "proxy cpu/memory requests and memory limit not all set"),
    ], f"{replicas:.0f} replicas, PDB, anti-affinity, webhook Fail, proxy resources")


def _inbound_policy_subject(r: Resource) -> bool:
    if r.type == kinds.NAMESPACE:
        return r.get("metadata", "annotations", "config.linkerd.io/default-inbound-policy") is not None
    return chart_of(r) == "linkerd-control-plane"


@resource_rule("linkerd-default-inbound-policy", "Linkerd's default inbound policy is never all-unauthenticated",
               "policy docs", {*kinds.HELM_RELEASES, kinds.NAMESPACE}, selector=_inbound_policy_subject,
               also=("Linkerd docs: authorization policy - default policies",))
def linkerd_default_inbound_policy(r: Resource, ctx: Context) -> Verdict:
    if r.type == kinds.NAMESPACE:
        policy = r.get("metadata", "annotations", "config.linkerd.io/default-inbound-policy")
    else:
        policy = values(r, "proxy", "defaultInboundPolicy", default="all-unauthenticated")
    return failed(f"{policy} (the chart default admits anyone)") if policy == "all-unauthenticated" else passed(
        str(policy))


@resource_rule("linkerd-external-ca", "Linkerd's identity issuer comes from cert-manager (externalCA, k8s TLS scheme)",
               "identity docs", kinds.HELM_RELEASES, selector=_LINKERD,
               also=("Linkerd docs: automatically rotating control plane TLS credentials",))
def linkerd_external_ca(r: Resource, ctx: Context) -> Verdict:
    scheme = values(r, "identity", "issuer", "scheme", default="linkerd.io/tls")
    return all_of([(truthy(values(r, "identity", "externalCA", default=False)), "identity.externalCA off"),
                   (scheme == "kubernetes.io/tls", f"identity.issuer.scheme {scheme!r}")],
                  "externalCA, kubernetes.io/tls")


@stack_rule("linkerd-authorization", "Every Linkerd Server has an AuthorizationPolicy naming its callers",
            "policy docs", {"kubernetes:policy.linkerd.io/v1beta3:Server"}, mandatory_in=(),
            also=("Linkerd docs: restricting access to services",))
def linkerd_authorization(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    servers = [r for r in stack.resources if kinds.linkerd_kind(r.type) == "Server"]
    targeted = {(namespace_of(p), p.get("spec", "targetRef", "name")) for p in stack.resources
                if kinds.linkerd_kind(p.type) == "AuthorizationPolicy"
                and p.get("spec", "targetRef", "kind") == "Server"}
    for server in servers:
        key = (namespace_of(server), server.get("metadata", "name"))
        yield server, passed("authorized callers") if key in targeted else failed("no AuthorizationPolicy")


@stack_rule("certificate-expiry-alert", "An alert fires before any cert-manager certificate expires", "expiry",
            {kinds.CERTIFICATE}, mandatory_in=(), also=("cert-manager metrics: certificate expiration",))
def certificate_expiry_alert(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    if not stack.of_type(kinds.CERTIFICATE):
        return
    rules = [r for r in stack.of_type(kinds.PROMETHEUS_RULE)
             if "certmanager_certificate_expiration_timestamp_seconds" in json.dumps(dict(r.inputs), default=str)]
    yield None, passed(f"PrometheusRule {rules[0].name}") if rules else failed(
        "no PrometheusRule on certmanager_certificate_expiration_timestamp_seconds")
