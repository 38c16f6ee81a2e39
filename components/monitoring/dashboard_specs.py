"""Pure builders for the Grafana dashboards: the mesh's health per service, from the Linkerd proxies' own metrics.

Grafana's dashboard sidecar loads every ConfigMap labelled `grafana_dashboard: "1"` (kube-prometheus-stack 88.5.3
values.yaml grafana.sidecar.dashboards.label/labelValue, searchNamespace ALL), so a dashboard is a ConfigMap holding
Grafana's JSON model. The datasource uid `prometheus` is the one the chart provisions (grafana.sidecar.datasources.uid).
Every metric used is in tests/upstream_facts/metric_names.yaml (linkerd2-proxy v2.366.0, shipped by Linkerd
edge-26.8.3).
"""

from __future__ import annotations

import json
from typing import Any, Final

Spec = dict[str, Any]
DASHBOARD_LABEL: Final = {"grafana_dashboard": "1"}
DATASOURCE: Final = {"type": "prometheus", "uid": "prometheus"}
DASHBOARD_UID: Final = "mtls-platform-mesh"


def queries(app_namespace: str) -> dict[str, str]:
    """Panel title -> PromQL, per deployment (server side: inbound responses as the serving proxy saw them)."""
    sel = f'direction="inbound",namespace="{app_namespace}",deployment=~"$deployment"'
    by = "sum by (deployment)"
    total = f"{by} (rate(response_total{{{sel}}}[5m]))"

    def quantile(q: str) -> str:
        return f"histogram_quantile({q}, sum by (le, deployment) (rate(response_latency_ms_bucket{{{sel}}}[5m])))"

    # mTLS on the callers' side, per destination: the server side would also count the kubelet's plaintext probes.
    dst = f'direction="outbound",dst_namespace="{app_namespace}",dst_deployment=~"$deployment"'
    dst_by = "sum by (dst_deployment)"
    dst_total = f"{dst_by} (rate(response_total{{{dst}}}[5m]))"
    return {
        # `or 0 * total`: a destination reached only in plaintext has no tls="true" series; it must show 0, not vanish.
        "mTLS success rate (share of calls with tls=true)":
            f'({dst_by} (rate(response_total{{{dst},tls="true"}}[5m])) or 0 * {dst_total}) / {dst_total}',
        "Request rate (req/s)": f"{by} (rate(request_total{{{sel}}}[5m]))",
        "Error rate (share classified failure)":
            f'{by} (rate(response_total{{{sel},classification="failure"}}[5m])) / {total}',
        "Latency p50 (ms)": quantile("0.5"),
        "Latency p99 (ms)": quantile("0.99"),
        "Authorization denials (per s)":
            f'{by} (rate(inbound_http_authz_deny_total{{namespace="{app_namespace}",deployment=~"$deployment"}}'
            f"[5m]))",
    }


_UNITS: Final = {"mTLS": "percentunit", "Error": "percentunit", "Request": "reqps", "Latency": "ms",
                 "Authorization": "reqps"}


def _panel(index: int, title: str, expr: str) -> Spec:
    unit = next((u for prefix, u in _UNITS.items() if title.startswith(prefix)), "short")
    return {"id": index + 1, "type": "timeseries", "title": title, "datasource": DATASOURCE,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": expr,
                         "legendFormat": "{{dst_deployment}}" if "dst_deployment" in expr else "{{deployment}}"}]}


def mesh_dashboard(app_namespace: str) -> Spec:
    """Grafana's JSON model of the per-service mesh dashboard."""
    variable = {"name": "deployment", "type": "query", "datasource": DATASOURCE, "includeAll": True, "multi": True,
                "query": f'label_values(response_total{{namespace="{app_namespace}"}}, deployment)',
                "current": {"text": "All", "value": "$__all"}, "refresh": 2}
    return {"uid": DASHBOARD_UID, "title": f"Mesh: services in {app_namespace}", "schemaVersion": 39,
            "editable": False, "time": {"from": "now-6h", "to": "now"}, "refresh": "1m",
            "tags": ["linkerd", "mtls-platform"], "templating": {"list": [variable]},
            "panels": [_panel(i, title, expr) for i, (title, expr) in enumerate(queries(app_namespace).items())]}


def dashboard_config_map_data(app_namespace: str) -> dict[str, str]:
    """The ConfigMap `data`: one file per dashboard, as the sidecar expects."""
    return {f"{DASHBOARD_UID}.json": json.dumps(mesh_dashboard(app_namespace), indent=1, sort_keys=True)}
