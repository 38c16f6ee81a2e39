"""Pure builders for the linkerd-viz namespace's guard rails: its NetworkPolicies and the one new allow into
`monitoring` (viz -> Prometheus on 9090).

viz is meshed (its pods carry the inject annotation in the chart) and reads metrics from kube-prometheus-stack's
Prometheus instead of running its own. Ports: linkerd2 edge-26.8.3 viz/charts/linkerd-viz/templates/{tap,
tap-injector}.yaml (tap APIService 8089, tap-injector webhook 8443). Nothing here touches the application namespace:
`linkerd viz tap` into it stays unauthorized (its proxies admit only their declared callers and the scrape on 4191).
"""

from __future__ import annotations

from typing import Final

from components import namespace_policies as np
from components.values_monitoring import PROMETHEUS_PORT

VIZ_NAMESPACE: Final = "linkerd-viz"
TAP_API_PORT: Final = 8089
TAP_INJECTOR_PORT: Final = 8443
# Namespace metadata the viz chart renders for a CLI install (templates/namespace.yaml); a Helm install leaves the
# namespace to us. With the CNI plugin there is no proxy-init, so `restricted` holds.
VIZ_LABELS: Final = {"linkerd.io/extension": "viz"}
# The operator's label on Prometheus pods (prometheus-operator v0.93.1 sets app.kubernetes.io/name=prometheus).
PROMETHEUS_POD_LABELS: Final = {"app.kubernetes.io/name": "prometheus"}


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
                                                                          VIZ_NAMESPACE}}}],
                         "ports": [{"protocol": "TCP", "port": PROMETHEUS_PORT}]}]}
