"""Helm values for Linkerd edge-26.8.3 (charts 2026.8.3): linkerd2-cni, linkerd-crds and linkerd-control-plane.

Linkerd is what makes every service-to-service call mutually authenticated. Its identity issuer is an intermediate CA
that cert-manager issues from Vault (external CA mode), its webhooks' serving certificates come from cert-manager too,
and pods are meshed through the CNI plugin so no workload needs NET_ADMIN. Keys were checked against the charts'
values.yaml / values-ha.yaml and templates at linkerd/linkerd2 b24cd4059841 (tag edge-26.8.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from components.shared.chart_values import Values
from config.names import CERT_MANAGER_NAMESPACE, KUBE_SYSTEM, LINKERD_CNI_NAMESPACE, LINKERD_NAMESPACE, VAULT_NAMESPACE

# Inbound policies that authenticate the caller. "all-unauthenticated" (the chart's default) and
# "cluster-unauthenticated" admit plaintext callers, and "audit" admits everything (it only logs): none is zero trust.
# Ref: https://linkerd.io/2-edge/reference/authorization-policy/#default-policies
ALLOWED_INBOUND_POLICIES: Final = ("all-authenticated", "cluster-authenticated", "deny")
# Webhook -> (cert-manager Certificate name, the Secret the chart mounts, the Service the API server calls).
# Secret names: linkerd-control-plane templates proxy-injector.yaml and destination.yaml (`secretName: ...-k8s-tls`);
# services: proxy-injector-rbac.yaml and destination-rbac.yaml (`clientConfig.service.name`).
# Ref: https://linkerd.io/2-edge/tasks/automatically-rotating-webhook-tls-credentials/
WEBHOOKS: Final[dict[str, tuple[str, str, str]]] = {
    "proxyInjector": ("linkerd-proxy-injector", "linkerd-proxy-injector-k8s-tls", "linkerd-proxy-injector"),
    "profileValidator": ("linkerd-sp-validator", "linkerd-sp-validator-k8s-tls", "linkerd-sp-validator"),
    "policyValidator": ("linkerd-policy-validator", "linkerd-policy-validator-k8s-tls", "linkerd-policy-validator"),
}
# Namespaces the proxy injector never sees, so their pods can be created while Linkerd is down (webhookFailurePolicy
# Fail in HA): the chart's own kube-system and cert-manager, plus Vault (the root of the trust chain Linkerd's identity
# depends on) and the CNI plugin (it must run before any meshed pod can start).
INJECTOR_EXCLUDED_NAMESPACES: Final = (KUBE_SYSTEM, CERT_MANAGER_NAMESPACE, VAULT_NAMESPACE, LINKERD_CNI_NAMESPACE)

_GO_DURATION = re.compile(r"^(?=\d)(\d+h)?(\d+m)?(\d+s)?$")


def _resources(cpu_request: str, memory_request: str, memory_limit: str, cpu_limit: str = "1") -> Values:
    """Linkerd's own resources shape (cpu/memory -> request/limit), not Kubernetes' requests/limits."""
    return {"cpu": {"request": cpu_request, "limit": cpu_limit},
            "memory": {"request": memory_request, "limit": memory_limit}}


# values-ha.yaml's requests and memory limits (its controllerResources anchor: cpu 100m, memory 50Mi/250Mi;
# identityResources: memory 10Mi/250Mi; proxy: cpu 100m, memory 20Mi/250Mi). values-ha.yaml leaves CPU limits empty; a
# limit of one core is added so every container has one (CKV_K8S_11) without throttling anything in normal operation.
_CONTROLLER: Final = _resources("100m", "50Mi", "250Mi")
_IDENTITY: Final = _resources("100m", "10Mi", "250Mi")
_PROXY: Final = _resources("100m", "20Mi", "250Mi")


@dataclass(frozen=True)
class LinkerdValuesArgs:
    ha: bool  # values-ha.yaml settings: 3 replicas, PDBs, anti-affinity, webhooks fail closed
    default_inbound_policy: str = "all-authenticated"  # for pods no Server selects; never unauthenticated
    issuance_lifetime: str = "24h0m0s"  # workload certificate lifetime (Go duration)
    cni_enabled: bool = True  # mesh through linkerd2-cni (no NET_ADMIN in workloads); install that chart first
    namespace: str = LINKERD_NAMESPACE  # namespace of the control plane and of the webhook Certificates
    injector_excluded_namespaces: tuple[str, ...] = field(default=INJECTOR_EXCLUDED_NAMESPACES)

    def __post_init__(self) -> None:
        if self.default_inbound_policy not in ALLOWED_INBOUND_POLICIES:
            raise ValueError(
                f"default_inbound_policy {self.default_inbound_policy!r} is not allowed: it must authenticate callers "
                f"(one of {', '.join(ALLOWED_INBOUND_POLICIES)})")
        if not _GO_DURATION.match(self.issuance_lifetime):
            raise ValueError(f"issuance_lifetime {self.issuance_lifetime!r} is not a duration like '24h0m0s'")


def linkerd_crds_values(install_gateway_api: bool = True) -> Values:
    """Values for linkerd-crds. Linkerd needs the Gateway API HTTPRoute and GRPCRoute CRDs (policy and routing).

    EKS installs no Gateway API CRDs, so by default this chart provides the two Linkerd uses (`enableHttpRoutes`
    covers HTTPRoute and GRPCRoute; the experimental TLSRoute/TCPRoute stay out). Pass False when something else owns
    the Gateway API (another controller using it): Linkerd then requires them to exist before it is installed.
    `enable*Routes` are documented but commented out in values.yaml; the templates read them with `hasKey`
    (gateway.networking.k8s.io_*routes.yaml) and fall back to `installGatewayAPI` only for one that is not set, so
    with all three set `installGatewayAPI` would change nothing and is left out.
    Ref: https://linkerd.io/2-edge/features/gateway-api/
    """
    if not install_gateway_api:
        return {"installGatewayAPI": False}
    return {"enableHttpRoutes": True, "enableTlsRoutes": False, "enableTcpRoutes": False}


def external_webhook_values(namespace: str, certificate: str) -> Values:
    """A Linkerd chart's webhook served from a cert-manager Certificate (components/mesh/webhook_certificates.py).

    The chart then neither generates a certificate (externalSecret) nor sets caBundle: cainjector does. `caBundle`
    must stay empty: the charts refuse it together with injectCaFrom (partials _validate.tpl
    "linkerd.webhook.validation") and render it only when injectCaFrom is empty (linkerd-viz tap-rbac.yaml,
    tap-injector-rbac.yaml).
    """
    return {"externalSecret": True, "injectCaFrom": f"{namespace}/{certificate}"}


def _webhook(name: str, namespace: str) -> Values:
    """A webhook whose serving certificate is a cert-manager Certificate (components/mesh/webhook_certificates.py)."""
    return external_webhook_values(namespace, WEBHOOKS[name][0])


def linkerd_control_plane_values(args: LinkerdValuesArgs) -> Values:
    """Values for linkerd-control-plane: external CA identity, authenticated-only default policy, HA per values-ha."""
    values: Values = {
        # Mesh through the CNI plugin: injected pods get the restricted-compliant network-validator instead of the
        # proxy-init container that needs NET_ADMIN and NET_RAW (which the restricted Pod Security Standard forbids);
        # the chart itself labels its namespace restricted only in this mode (templates/namespace.yaml).
        "cniEnabled": args.cni_enabled,
        # identityTrustAnchorsPEM stays empty: with externalCA the chart does not create the ConfigMap
        # linkerd-identity-trust-roots (identity.yaml `if not .Values.identity.externalCA`) and the control plane reads
        # the anchors from it (loadTrustBundleFromConfigMap). It must exist first: key ca-bundle.crt, Vault's root.
        "identity": {
            "externalCA": True,
            "issuer": {
                # The issuer is the kubernetes.io/tls Secret linkerd-identity-issuer (tls.crt, tls.key, ca.crt) that a
                # cert-manager Certificate keeps renewed; the chart creates no issuer Secret in this scheme.
                "scheme": "kubernetes.io/tls",
                "issuanceLifetime": args.issuance_lifetime,
            },
        },
        "proxy": {
            "defaultInboundPolicy": args.default_inbound_policy,
            "resources": _PROXY,
            # With a CPU limit the proxy's worker minimum should match it (values.yaml proxy.resources comment).
            "runtime": {"workers": {"minimum": 1}},
            # The injected proxy's default securityContext does not drop capabilities (partials _proxy.tpl), which the
            # restricted Pod Security Standard requires; this restates the default with `drop: [ALL]` added.
            "securityContext": {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
                "runAsNonRoot": True, "runAsUser": 2102, "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        "proxyInjector": {
            **_webhook("proxyInjector", args.namespace),
            # The chart's selector (values.yaml proxyInjector.namespaceSelector) with more namespaces excluded; a list
            # is replaced whole, so the opt-out label expression is restated.
            "namespaceSelector": {"matchExpressions": [
                {"key": "config.linkerd.io/admission-webhooks", "operator": "NotIn", "values": ["disabled"]},
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                 "values": list(args.injector_excluded_namespaces)},
            ]},
        },
        "profileValidator": _webhook("profileValidator", args.namespace),
        "policyValidator": _webhook("policyValidator", args.namespace),
        # Resources everywhere (CKV_K8S_10-13), HA or not: values-ha.yaml's figures, under the keys the templates read
        # (destination.yaml: destinationResources, spValidatorResources, policyController.resources; identity.yaml:
        # identityResources; proxy-injector.yaml: proxyInjectorResources). values-ha.yaml's `controllerResources` is
        # only the YAML anchor those reuse (no template reads it), and `heartbeatResources` sizes the heartbeat
        # CronJob, which is disabled below: neither is set.
        "destinationResources": _CONTROLLER,
        "identityResources": _IDENTITY,
        "proxyInjectorResources": _CONTROLLER,
        "spValidatorResources": _CONTROLLER,
        "policyController": {"resources": _CONTROLLER},
        # The heartbeat CronJob reports usage to linkerd.io; the namespace's default-deny egress would block it anyway.
        "disableHeartBeat": True,
        "controllerReplicas": 3 if args.ha else 1,
        # Fail closed in HA so no pod escapes injection (and so mTLS); with one replica a restart would block every
        # pod creation in the cluster, so sandbox/dev keep the chart's Ignore.
        "webhookFailurePolicy": "Fail" if args.ha else "Ignore",
    }
    if not args.cni_enabled:
        # Amazon Linux 2023 nodes use the nftables backend of iptables (AL2 used legacy). The chart's default, restated.
        values["proxyInit"] = {"iptablesMode": "nft"}
    if args.ha:
        # The remaining keys of values-ha.yaml (2026.8.3), mirrored one by one; the tests check none is missing
        # (but the two above that no template reads with the heartbeat off).
        values |= {
            "enablePodDisruptionBudget": True,
            "controller": {"podDisruptionBudget": {"maxUnavailable": 1}},
            "deploymentStrategy": {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
            # Required anti-affinity per node, preferred per zone (partials _affinity.tpl): 3 nodes needed.
            "enablePodAntiAffinity": True,
            "highAvailability": True,  # read by `linkerd check`
        }
    return values


def linkerd_cni_values() -> Values:
    """Values for linkerd2-cni: the DaemonSet that writes Linkerd's iptables rules as a chained CNI plugin.

    It runs on every node (the chart tolerates every taint by default) in its own namespace, which must allow
    privileged pods (hostPath to /etc/cni/net.d and /opt/cni/bin, the VPC CNI's directories on EKS: the defaults).
    Install it before linkerd-control-plane.
    """
    return {
        # Amazon Linux 2023 nodes: iptables is the nftables variant (the chart's default, restated on purpose).
        "iptablesMode": "nft",
        # Network plumbing for every pod on the node: schedule it before ordinary workloads.
        "priorityClassName": "system-node-critical",
        # Pods that start on a new node before the plugin is chained fail their network-validator; the repair
        # controller deletes them so they restart with the rules in place (values.yaml repairController comment).
        "repairController": {"enabled": True, "resources": _resources("10m", "32Mi", "64Mi", cpu_limit="100m")},
        "resources": _resources("10m", "32Mi", "64Mi", cpu_limit="100m"),
    }
