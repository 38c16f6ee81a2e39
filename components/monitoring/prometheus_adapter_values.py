"""Helm values of prometheus-adapter (pure builder): it serves Linkerd's request rate per pod to the HPAs through
the custom metrics API (`custom.metrics.k8s.io`), read from kube-prometheus-stack's Prometheus.

Only the one rule the HPAs use is configured (`rules.default: false` drops the chart's cAdvisor rules: CPU and
memory come from metrics-server as before). The series is the proxy's inbound `request_total` with `tls="true"`:
requests from meshed callers over mTLS, not the kubelet's plain-text probes. The aggregated API's serving
certificate comes from cert-manager (the chart's self-signed root -> CA Issuer chain, CA bundle injected into the
APIService), never `insecureSkipTLSVerify`. Keys: tests/upstream_facts/chart_keys/prometheus-adapter-5.3.0.txt.
Ref: https://github.com/prometheus-community/helm-charts/tree/prometheus-adapter-5.3.0/charts/prometheus-adapter ;
https://github.com/kubernetes-sigs/prometheus-adapter/blob/v0.12.0/docs/config.md (rule fields, <<.Series>> etc.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from components.app.app_specs import REQUEST_RATE_METRIC
from components.monitoring.monitoring_values import PROMETHEUS_PORT
from config.names import PROMETHEUS_URL

Values = dict[str, Any]

RELEASE: Final = "prometheus-adapter"
LISTEN_PORT: Final = 6443  # values.yaml listenPort (the default, set so the NetworkPolicy and the pod agree)
# templates/_helpers.tpl selectorLabels (release name = chart name, no nameOverride).
POD_LABELS: Final = {"app.kubernetes.io/name": "prometheus-adapter", "app.kubernetes.io/instance": RELEASE}
# The proxy's counters are scraped every 30 s (scrape_specs.proxy_pod_monitor): a 2 m window holds 4 samples.
RATE_WINDOW: Final = "2m"


def request_rate_rule() -> Values:
    """Per pod (and namespace) rate of inbound meshed requests, named as the HPAs ask for it."""
    return {
        "seriesQuery": 'request_total{direction="inbound",tls="true",namespace!="",pod!=""}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": "^request_total$", "as": REQUEST_RATE_METRIC},
        "metricsQuery": (f'sum(rate(<<.Series>>{{<<.LabelMatchers>>,direction="inbound",tls="true"}}[{RATE_WINDOW}]))'
                         " by (<<.GroupBy>>)"),
    }


@dataclass(frozen=True)
class PrometheusAdapterValuesArgs:
    ha: bool


def prometheus_adapter_values(args: PrometheusAdapterValuesArgs) -> Values:
    """HA: 2 replicas on different nodes/zones with a PDB (the HPAs of every service read through it)."""
    values: Values = {
        # The chart appends `:<port>` to the URL; PROMETHEUS_URL already carries it.
        "prometheus": {"url": PROMETHEUS_URL.rsplit(":", 1)[0], "port": PROMETHEUS_PORT},
        "listenPort": LISTEN_PORT,
        "replicas": 2 if args.ha else 1,
        "rules": {"default": False, "custom": [request_rate_rule()]},
        "certManager": {"enabled": True},
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "podSecurityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
    }
    if args.ha:
        values["podDisruptionBudget"] = {"enabled": True, "maxUnavailable": 1}
        values["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(POD_LABELS)}}]
        values["affinity"] = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                               "labelSelector": {"matchLabels": dict(POD_LABELS)}}}]}}
    return values
