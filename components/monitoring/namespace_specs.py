"""Pure builders for the monitoring layer's NetworkPolicies: the linkerd-viz namespace's set, and the additions in
`monitoring` that its default-deny needs (viz -> Prometheus 9090, API server -> operator webhook, Alertmanager ->
Slack).

viz is meshed (its pods carry the inject annotation in the chart) and reads metrics from kube-prometheus-stack's
Prometheus instead of running its own. Ports: linkerd2 edge-26.8.3 viz/charts/linkerd-viz/templates/{tap,
tap-injector}.yaml (tap APIService 8089, tap-injector webhook 8443). Nothing here touches the application namespace:
`linkerd viz tap` into it stays unauthorized (its proxies admit only their declared callers and the scrape on 4191).
"""

from __future__ import annotations

from typing import Final

from components.mesh import namespace_specs as np
from components.monitoring.monitoring_values import PROMETHEUS_PORT
from components.monitoring.prometheus_adapter_values import LISTEN_PORT as ADAPTER_PORT
from components.monitoring.prometheus_adapter_values import POD_LABELS as ADAPTER_POD_LABELS
from config.names import LINKERD_VIZ_NAMESPACE

TAP_API_PORT: Final = 8089
TAP_INJECTOR_PORT: Final = 8443
# Namespace metadata the viz chart renders for a CLI install (templates/namespace.yaml); a Helm install leaves the
# namespace to us. With the CNI plugin there is no proxy-init, so `restricted` holds.
VIZ_LABELS: Final = {"linkerd.io/extension": "viz"}
# The operator's labels on the pods it runs (prometheus-operator v0.93.1: app.kubernetes.io/name=prometheus and
# =alertmanager), and kube-prometheus-stack 88.5.3's operator Deployment selector (templates/prometheus-operator/
# deployment.yaml: app=<chart name>-operator). The operator serves its admission webhook on prometheusOperator.tls.
# internalPort (10250).
PROMETHEUS_POD_LABELS: Final = {"app.kubernetes.io/name": "prometheus"}
ALERTMANAGER_POD_LABELS: Final = {"app.kubernetes.io/name": "alertmanager"}
OPERATOR_POD_LABELS: Final = {"app": "kube-prometheus-stack-operator"}
OPERATOR_WEBHOOK_PORT: Final = 10250
# Targets on node addresses, outside any pod selector: the kubelet (10250, cAdvisor) and node-exporter, which runs on
# the host network on 9100 (prometheus-node-exporter 4.56.1 values.yaml service.port, hostNetwork true).
NODE_SCRAPE_PORTS: Final = (10250, 9100)


def viz_policies(net: np.Networks) -> dict[str, np.Spec]:
    """default-deny first, then DNS, API server, intra-namespace, scraping, the control plane and Prometheus."""
    return {
        "default-deny": np.default_deny(),
        "allow-dns": np.allow_dns(),
        "allow-api-server": np.allow_api_server(net),
        "allow-within-namespace": np.allow_within_namespace(),
        "allow-monitoring": np.allow_scraping_from("monitoring"),
        # The API server calls the tap APIService and the tap-injector webhook from its ENIs in the VPC.
        "allow-api-server-callbacks": np.allow_webhook_from_api_server(net, (TAP_API_PORT, TAP_INJECTOR_PORT), {}),
        "allow-linkerd": np.allow_egress_to("linkerd", (*np.LINKERD_CONTROL_PORTS, np.LINKERD_PROXY_INBOUND)),
        "allow-prometheus": np.allow_egress_to("monitoring", (PROMETHEUS_PORT,)),
    }


def prometheus_from_viz() -> np.Spec:
    """In `monitoring`: Prometheus' query port admits linkerd-viz (its metrics API and dashboard), nothing else new."""
    return {"podSelector": {"matchLabels": dict(PROMETHEUS_POD_LABELS)}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name":
                                                                          LINKERD_VIZ_NAMESPACE}}}],
                         "ports": [{"protocol": "TCP", "port": PROMETHEUS_PORT}]}]}


def monitoring_additions(net: np.Networks, slack: bool) -> dict[str, np.Spec]:
    """The `monitoring` namespace's allows beyond the platform's common set (components/mesh/namespace_specs.py)."""
    policies = {
        "allow-linkerd-viz": prometheus_from_viz(),
        # The trust-anchor rotation's health gate queries denials and plaintext calls (components/mesh/anchor_rotation)
        "allow-anchor-rotation": {
            "podSelector": {"matchLabels": dict(PROMETHEUS_POD_LABELS)}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "linkerd"}},
                                   "podSelector": {"matchLabels": dict(np.ROTATION_POD_LABELS)}}],
                         "ports": [{"protocol": "TCP", "port": PROMETHEUS_PORT}]}]},
        "allow-prometheus-nodes": {
            "podSelector": {"matchLabels": dict(PROMETHEUS_POD_LABELS)}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": net.vpc_cidr}}],
                        "ports": [{"protocol": "TCP", "port": p} for p in NODE_SCRAPE_PORTS]}]},
        "allow-operator-webhook": np.allow_webhook_from_api_server(net, (OPERATOR_WEBHOOK_PORT,),
                                                                   dict(OPERATOR_POD_LABELS)),
        # `make verify` (and `kubectl port-forward`-free queries) reach Prometheus through the API server's service
        # proxy: the connection comes from the control plane's ENIs in the VPC, like a webhook call.
        "allow-api-server-proxy": np.allow_webhook_from_api_server(net, (PROMETHEUS_PORT,),
                                                                   dict(PROMETHEUS_POD_LABELS)),
        # The API server calls prometheus-adapter's aggregated API (custom.metrics.k8s.io) for the HPAs.
        "allow-metrics-api": np.allow_webhook_from_api_server(net, (ADAPTER_PORT,), dict(ADAPTER_POD_LABELS)),
    }
    if slack:
        # Slack's webhook endpoint is on the internet (through NAT), port 443; only Alertmanager may call out.
        policies["allow-alertmanager-slack"] = {**np.allow_aws_apis(),
                                                "podSelector": {"matchLabels": dict(ALERTMANAGER_POD_LABELS)}}
    return policies
