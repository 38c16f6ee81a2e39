"""Pure builders for the platform namespaces: Pod Security labels and NetworkPolicy specs.

Every namespace starts from default-deny (ingress and egress) and gets only the edges its workloads need; the VPC
CNI enforces them (its network-policy agent is enabled by the cluster layer). Each allow is a named, commented
function so a reviewer can read the platform's traffic matrix in one file.
Ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
Ref: https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from config.names import (
    ALB_CONTROLLER_NAMESPACE,
    CERT_MANAGER_NAMESPACE,
    KUBE_SYSTEM,
    LINKERD_CNI_NAMESPACE,
    LINKERD_NAMESPACE,
    MONITORING_NAMESPACE,
    PRIMARY_SUFFIX,
    VAULT_NAMESPACE,
)

Level = Literal["privileged", "baseline", "restricted"]
Spec = dict[str, Any]

# Namespace name -> Pod Security level enforced, with why anything is below "restricted".
POD_SECURITY: Final[dict[str, tuple[Level, str]]] = {
    LINKERD_NAMESPACE: ("restricted", "with the CNI plugin no proxy-init container needs NET_ADMIN"),
    LINKERD_CNI_NAMESPACE: ("privileged", "the CNI DaemonSet writes the node's CNI config (hostPath) by design"),
    CERT_MANAGER_NAMESPACE: ("restricted", ""),
    VAULT_NAMESPACE: ("restricted", ""),
    MONITORING_NAMESPACE: ("privileged", "node-exporter reads host metrics (hostNetwork, hostPID, hostPath)"),
    ALB_CONTROLLER_NAMESPACE: ("restricted", ""),
}
# Labels a namespace needs beyond Pod Security. Linkerd's CLI install writes these on its namespace; a Helm install
# does not, so we do: the control plane must never be injected or validated by its own webhooks.
# Ref: linkerd-control-plane 2026.8.3 templates/namespace.yaml
EXTRA_LABELS: Final[dict[str, dict[str, str]]] = {
    LINKERD_NAMESPACE: {"linkerd.io/is-control-plane": "true", "config.linkerd.io/admission-webhooks": "disabled",
                "linkerd.io/control-plane-ns": "linkerd"},
    LINKERD_CNI_NAMESPACE: {"config.linkerd.io/admission-webhooks": "disabled"},
}
DNS_PORTS: Final = ({"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53})
# Ports of the Linkerd control plane every meshed proxy talks to, and its webhooks (called by the API server).
# Ref: https://linkerd.io/2-edge/reference/architecture/ (destination 8086, identity 8080, policy 8090)
LINKERD_CONTROL_PORTS: Final = (8080, 8086, 8090)
LINKERD_WEBHOOK_PORTS: Final = (8443, 9443)
LINKERD_PROXY_INBOUND: Final = 4143
VAULT_API, VAULT_CLUSTER = 8200, 8201
CERT_MANAGER_WEBHOOK: Final = 10250
# AWS Load Balancer Controller: chart default webhookBindPort 9443; selectorLabels app.kubernetes.io/name (v3.5.0).
ALB_CONTROLLER_WEBHOOK: Final = 9443
ALB_CONTROLLER_LABELS: Final = {"app.kubernetes.io/name": "aws-load-balancer-controller"}


def pod_security_labels(level: Level) -> dict[str, str]:
    """Enforce the level; warn and audit against restricted everywhere so exceptions stay visible."""
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


@dataclass(frozen=True)
class Networks:
    """Address ranges the policies need: the API server's ENIs live in the VPC, services in the service CIDR."""

    vpc_cidr: str
    service_cidr: str


def _ns(name: str) -> Spec:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _ports(*ports: int, protocol: str = "TCP") -> list[Spec]:
    return [{"protocol": protocol, "port": p} for p in ports]


def default_deny() -> Spec:
    """Selects every pod; no rules: nothing in, nothing out (CKV2_K8S_6, CIS 4.3.2)."""
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def allow_dns() -> Spec:
    """Egress to CoreDNS only."""
    return {"podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [{**_ns(KUBE_SYSTEM), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                        "ports": list(DNS_PORTS)}]}


def allow_api_server(net: Networks) -> Spec:
    """Egress to the Kubernetes API: its ClusterIP and the control-plane ENIs (VPC addresses that change)."""
    return {"podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": net.vpc_cidr}}, {"ipBlock": {"cidr": net.service_cidr}}],
                        "ports": _ports(443)}]}


def allow_webhook_from_api_server(net: Networks, ports: tuple[int, ...], pod_labels: dict[str, str]) -> Spec:
    """Ingress to an admission webhook: the API server calls it from its ENIs inside the VPC."""
    return {"podSelector": {"matchLabels": pod_labels}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": net.vpc_cidr}}], "ports": _ports(*ports)}]}


def allow_aws_apis() -> Spec:
    """Egress on 443 outside the VPC (through NAT): KMS and STS for Vault's awskms seal via IRSA; ELB, EC2, ACM and
    STS for the AWS Load Balancer Controller."""
    return {"podSelector": {}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12",
                                                                            "192.168.0.0/16"]}}],
                        "ports": _ports(443)}]}


def allow_vault_clients(client_namespaces: tuple[str, ...]) -> Spec:
    """Ingress to Vault's API (8200) from its clients only; raft (8201) between Vault pods only."""
    vault_pods = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}}
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [_ns(n) for n in client_namespaces], "ports": _ports(VAULT_API)},
                        {"from": [vault_pods], "ports": _ports(VAULT_API, VAULT_CLUSTER)}],
            "egress": [{"to": [vault_pods], "ports": _ports(VAULT_API, VAULT_CLUSTER)}]}


def allow_vault_from_apps(app_namespace: str, services: tuple[str, ...],
                          progressive: frozenset[str] = frozenset()) -> Spec:
    """Ingress to Vault's API from exactly the app pods whose service has a Vault role (zero trust for Vault's port).

    Vault is outside the mesh (README "Start-up order"), so no Linkerd Server/AuthorizationPolicy can guard its port:
    this NetworkPolicy is the enforcement point, and the role binding (service account + namespace + audience) is the
    second gate. The `allow-vault` rule above still admits cert-manager's namespace only. A progressive service's
    promoted pods are Flagger's `<svc>-primary` (same service account, so the same Vault role): admitted too."""
    names = sorted({*services, *(s + PRIMARY_SUFFIX for s in services if s in progressive)})
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{**_ns(app_namespace), "podSelector": {"matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "In", "values": names}]}}],
                "ports": _ports(VAULT_API)}]}


def allow_vault_to_postgres(net: Networks, port: int = 5432) -> Spec:
    """Egress from Vault's pods to PostgreSQL in the VPC (the database secrets engine; RDS's own security group
    narrows it to the instance). Outside the VPC only 443 is open (allow_aws_apis)."""
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": net.vpc_cidr}}], "ports": _ports(port)}]}


# The Vault Agent injector's pods and webhook port (components/vault/vault_values.py INJECTOR_POD_LABELS and
# INJECTOR_PORT, a layer below: a test keeps them equal). Ref: vault-helm v0.34.1 templates/injector-deployment.yaml
VAULT_INJECTOR_LABELS: Final = {"app.kubernetes.io/name": "vault-agent-injector", "component": "webhook"}
VAULT_INJECTOR_PORT: Final = 8080


# The raft snapshot CronJob's pods (components/backup/snapshot_specs.py POD_LABELS).
SNAPSHOT_POD_LABELS: Final = {"app.kubernetes.io/name": "vault-snapshot"}


def allow_snapshots_to_vault() -> Spec:
    """Egress from the snapshot job's pods to Vault's API (DNS, and 443 to S3/STS: the namespace-wide allows)."""
    vault_pods = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}}
    return {"podSelector": {"matchLabels": SNAPSHOT_POD_LABELS}, "policyTypes": ["Egress"],
            "egress": [{"to": [vault_pods], "ports": _ports(VAULT_API)}]}


def allow_vault_from_snapshots() -> Spec:
    """Ingress to Vault's API from the snapshot job's pods. Documents the path rather than restricting it: the vault
    namespace's common allow-within-namespace already admits every pod there (raft's 8201 included), so the job is
    kept honest by its Vault policy (snapshot read only), not by these rules."""
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": SNAPSHOT_POD_LABELS}}], "ports": _ports(VAULT_API)}]}


# The trust-anchor rotation CronJob's pods in `linkerd` (components/mesh/rotation_specs.py POD_LABELS).
ROTATION_POD_LABELS: Final = {"app.kubernetes.io/name": "trust-anchor-rotation"}
PROMETHEUS_QUERY_PORT: Final = 9090  # kube-prometheus-stack's Prometheus (components/monitoring/monitoring_values.py)


def allow_rotation_egress() -> Spec:
    """Egress from the rotation job's pods: Vault's API (its PKI phases) and Prometheus (the health gate's queries);
    DNS and the API server are the namespace-wide allows."""
    vault_pods = {**_ns(VAULT_NAMESPACE), "podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}}
    prometheus = {**_ns(MONITORING_NAMESPACE), "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
    return {"podSelector": {"matchLabels": ROTATION_POD_LABELS}, "policyTypes": ["Egress"],
            "egress": [{"to": [vault_pods], "ports": _ports(VAULT_API)},
                       {"to": [prometheus], "ports": _ports(PROMETHEUS_QUERY_PORT)}]}


def allow_vault_from_rotation() -> Spec:
    """Ingress to Vault's API from the rotation job's pods in `linkerd`, only."""
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{**_ns(LINKERD_NAMESPACE), "podSelector": {"matchLabels": ROTATION_POD_LABELS}}],
                         "ports": _ports(VAULT_API)}]}


# The credential report CronJob's pods in `vault` (components/vault/credential_report_specs.py POD_LABELS, a layer
# below: a test keeps them equal).
REPORT_POD_LABELS: Final = {"app.kubernetes.io/name": "credential-report"}


def _except(labels: dict[str, str]) -> Spec:
    """Every pod but those with these labels (a pod without the key matches NotIn as well)."""
    # Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#set-based-requirement
    return {"matchExpressions": [{"key": k, "operator": "NotIn", "values": [v]} for k, v in labels.items()]}


def allow_report_to_vault() -> Spec:
    """Egress from the credential report's pods: Vault's API only (DNS and the API server are namespace-wide). The
    namespace's other allows leave these pods out (policies_for), so nothing else is reachable from them."""
    vault_pods = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}}
    return {"podSelector": {"matchLabels": REPORT_POD_LABELS}, "policyTypes": ["Egress"],
            "egress": [{"to": [vault_pods], "ports": _ports(VAULT_API)}]}


def allow_vault_from_report() -> Spec:
    """Ingress to Vault's API from the credential report's pods (the rotation's pattern, in Vault's own namespace)."""
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": REPORT_POD_LABELS}}], "ports": _ports(VAULT_API)}]}


def allow_egress_to(namespace: str, ports: tuple[int, ...]) -> Spec:
    return {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [_ns(namespace)], "ports": _ports(*ports)}]}


def allow_linkerd_control_plane() -> Spec:
    """Ingress to the control plane from every namespace's proxies (and the proxies' own inbound port)."""
    return {"podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {}}],
                         "ports": _ports(*LINKERD_CONTROL_PORTS, LINKERD_PROXY_INBOUND)}]}


def allow_within_namespace() -> Spec:
    """Pods of one namespace may talk to each other (control-plane components, leader election peers)."""
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}], "egress": [{"to": [{"podSelector": {}}]}]}


def allow_scraping_from(namespace: str) -> Spec:
    """Ingress from the monitoring namespace (Prometheus) on any port: metrics ports differ per component."""
    return {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [_ns(namespace)]}]}


def allow_egress_anywhere_in_cluster() -> Spec:
    """Egress to every pod of every namespace (Prometheus scrapes them all)."""
    return {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector": {}}]}]}


def policies_for(namespace: str, net: Networks, app_namespace: str = "",
                 vault_app_clients: tuple[str, ...] = (),
                 progressive: frozenset[str] = frozenset()) -> dict[str, Spec]:
    """The NetworkPolicies of one system namespace, by name (default-deny first). `vault_app_clients`: the app
    services with a Vault role (their pods may reach Vault's API, and Vault reaches their database); `progressive`:
    the services Flagger delivers (their `-primary` pods count as theirs)."""
    common = {"default-deny": default_deny(), "allow-dns": allow_dns(), "allow-api-server": allow_api_server(net),
              "allow-within-namespace": allow_within_namespace(),
              "allow-monitoring": allow_scraping_from(MONITORING_NAMESPACE)}
    extra: dict[str, Spec] = {
        CERT_MANAGER_NAMESPACE: {
            "allow-webhook": allow_webhook_from_api_server(net, (CERT_MANAGER_WEBHOOK,),
                                                           {"app.kubernetes.io/component": "webhook"}),
            "allow-to-vault": allow_egress_to(VAULT_NAMESPACE, (VAULT_API,)),
        },
        VAULT_NAMESPACE: {
            "allow-vault": allow_vault_clients((CERT_MANAGER_NAMESPACE,)),
            "allow-aws-apis": allow_aws_apis(),
            "allow-snapshots-to-vault": allow_snapshots_to_vault(),
            "allow-vault-from-snapshots": allow_vault_from_snapshots(),
            "allow-vault-from-anchor-rotation": allow_vault_from_rotation(),
        },
        LINKERD_NAMESPACE: {
            "allow-proxies": allow_linkerd_control_plane(),
            "allow-webhooks": allow_webhook_from_api_server(net, LINKERD_WEBHOOK_PORTS, {}),
            "allow-anchor-rotation": allow_rotation_egress(),
        },
        MONITORING_NAMESPACE: {"allow-scrape-all": allow_egress_anywhere_in_cluster()},
        # Public entry: the controller calls ELB, EC2, ACM, WAF, Shield and STS; the API server calls its webhook.
        ALB_CONTROLLER_NAMESPACE: {
            "allow-webhook": allow_webhook_from_api_server(net, (ALB_CONTROLLER_WEBHOOK,), ALB_CONTROLLER_LABELS),
            "allow-aws-apis": allow_aws_apis(),
        },
    }.get(namespace, {})
    if namespace == VAULT_NAMESPACE and vault_app_clients:
        extra = {**extra, "allow-app-clients": allow_vault_from_apps(app_namespace, vault_app_clients, progressive),
                 # The API server calls the Vault Agent injector's webhook (vault_values.injector_values).
                 "allow-injector-webhook": allow_webhook_from_api_server(net, (VAULT_INJECTOR_PORT,),
                                                                         VAULT_INJECTOR_LABELS),
                 "allow-to-postgres": allow_vault_to_postgres(net),
                 "allow-credential-report-to-vault": allow_report_to_vault(),
                 "allow-vault-from-credential-report": allow_vault_from_report()}
        # The report's pods reach Vault's API and the API server, nothing else: no other pod of the namespace
        # (allow-within-namespace), no AWS API (allow-aws-apis).
        common["allow-within-namespace"] = {**common["allow-within-namespace"],
                                            "podSelector": _except(REPORT_POD_LABELS)}
        extra["allow-aws-apis"] = {**extra["allow-aws-apis"], "podSelector": _except(REPORT_POD_LABELS)}
    return {**common, **extra}
