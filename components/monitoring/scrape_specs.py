"""Pure builders for what Prometheus scrapes: PodMonitors for Linkerd, ServiceMonitors for cert-manager and Vault.

The Linkerd jobs mirror the scrape configuration linkerd-viz ships for its own Prometheus ("bring your own
Prometheus"; linkerd2 edge-26.8.3 viz/charts/linkerd-viz/templates/prometheus.yaml, jobs `linkerd-proxy` and
`linkerd-controller`), expressed as Prometheus Operator objects so viz's queries and the dashboards find the labels
they expect (namespace, pod, deployment...). Field names: tests/upstream_facts/monitoring_crd_fields.yaml (Prometheus
Operator
v0.93.1 CRDs). Prometheus is unmeshed: it reaches proxies on the admin port (4191), which every meshed namespace
authorizes for the pod network (components/app/application.py `_scrape_policy`, components/monitoring/linkerd_viz.py).
"""

from __future__ import annotations

from typing import Any, Final

from components.app.app_specs import PROXY_ADMIN_PORT_NAME
from components.vault.vault_values import VAULT_FULLNAME
from config.names import LINKERD_NAMESPACE

Spec = dict[str, Any]
API_VERSION: Final = "monitoring.coreos.com/v1"
PROXY_JOB: Final = "linkerd-proxy"
CONTROLLER_JOB: Final = "linkerd-controller"


def _relabel(action: str, **fields: Any) -> Spec:
    return {"action": action, **fields}


def proxy_relabelings() -> list[Spec]:
    """viz's `linkerd-proxy` job: pod metadata -> labels, linkerd.io/proxy-* labels without their prefix."""
    return [
        _relabel("keep", sourceLabels=["__meta_kubernetes_pod_phase"], regex="(Pending|Running)"),
        _relabel("keep", sourceLabels=["__meta_kubernetes_pod_container_name",
                                       "__meta_kubernetes_pod_container_port_name"],
                 regex=f"linkerd-proxy;{PROXY_ADMIN_PORT_NAME}"),
        _relabel("replace", targetLabel="job", replacement=PROXY_JOB),
        _relabel("replace", sourceLabels=["__meta_kubernetes_namespace"], targetLabel="namespace"),
        _relabel("replace", sourceLabels=["__meta_kubernetes_pod_name"], targetLabel="pod"),
        # A Kubernetes Job's label would clash with Prometheus' own `job`.
        _relabel("replace", sourceLabels=["__meta_kubernetes_pod_label_linkerd_io_proxy_job"],
                 targetLabel="k8s_job"),
        _relabel("labeldrop", regex="__meta_kubernetes_pod_label_linkerd_io_proxy_job"),
        _relabel("labelmap", regex="__meta_kubernetes_pod_label_linkerd_io_proxy_(.+)"),
        _relabel("labeldrop", regex="__meta_kubernetes_pod_label_linkerd_io_proxy_(.+)"),
        _relabel("labelmap", regex="__meta_kubernetes_pod_label_linkerd_io_(.+)"),
        _relabel("labelmap", regex="__meta_kubernetes_pod_label_(.+)", replacement="__tmp_pod_label_$1"),
        _relabel("labelmap", regex="__tmp_pod_label_linkerd_io_(.+)", replacement="__tmp_pod_label_$1"),
        _relabel("labeldrop", regex="__tmp_pod_label_linkerd_io_(.+)"),
        _relabel("labelmap", regex="__tmp_pod_label_(.+)"),
    ]


def proxy_pod_monitor() -> Spec:
    """Every meshed pod's proxy, in every namespace (the pods carry linkerd.io/control-plane-ns)."""
    return {
        "namespaceSelector": {"any": True},
        "selector": {"matchLabels": {"linkerd.io/control-plane-ns": LINKERD_NAMESPACE}},
        "podMetricsEndpoints": [{"port": PROXY_ADMIN_PORT_NAME, "path": "/metrics", "interval": "30s",
                                 "relabelings": proxy_relabelings()}],
    }


def control_plane_pod_monitor(namespaces: tuple[str, ...]) -> Spec:
    """viz's `linkerd-controller` job: the control plane's own admin ports (`*-admin`, e.g. ident-admin, whose
    `issuer_cert_ttl_seconds` the identity alert reads), not the proxies' `linkerd-admin`."""
    return {
        "namespaceSelector": {"matchNames": list(namespaces)},
        "selector": {"matchExpressions": [{"key": "linkerd.io/control-plane-ns", "operator": "Exists"}]},
        "podMetricsEndpoints": [{"path": "/metrics", "interval": "30s", "relabelings": [
            _relabel("keep", sourceLabels=["__meta_kubernetes_pod_container_port_name"], regex=".*admin$"),
            _relabel("drop", sourceLabels=["__meta_kubernetes_pod_container_port_name"],
                     regex=PROXY_ADMIN_PORT_NAME),
            _relabel("replace", targetLabel="job", replacement=CONTROLLER_JOB),
            _relabel("replace", sourceLabels=["__meta_kubernetes_pod_container_name"], targetLabel="component"),
        ]}],
    }


def cert_manager_service_monitor() -> Spec:
    """cert-manager's controller Service (chart v1.21.1 templates/service.yaml: port `http-metrics` 9402, rendered
    when `prometheus.enabled`)."""
    return {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "cert-manager",
                                     "app.kubernetes.io/component": "controller"}},
        "endpoints": [{"port": "http-metrics", "path": "/metrics", "interval": "60s"}],
    }


def vault_service_monitor(tls_secret: str, namespace: str) -> Spec:
    """Every Vault pod through the headless `vault-internal` Service (vault-helm 0.34.1
    templates/server-headless-service.yaml: label vault-internal "true", port named `https`; it publishes
    not-ready pods too, so a sealed pod is still scraped). Vault's listener CA verifies the certificate."""
    return {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "vault", "vault-internal": "true"}},
        "endpoints": [{
            "port": "https", "scheme": "https", "path": "/v1/sys/metrics", "params": {"format": ["prometheus"]},
            "interval": "30s",
            "tlsConfig": {"ca": {"secret": {"name": tls_secret, "key": "ca.crt"}},
                          "serverName": f"{VAULT_FULLNAME}-internal.{namespace}.svc"},
        }],
    }

