"""Traffic-based pod autoscaling per stack: every catalog service's HPA keeps the 70 % CPU/memory targets, and where
Prometheus runs also targets the mesh's inbound request rate per pod, a custom metric that prometheus-adapter (as
the real Helm engine renders it) serves from Linkerd's proxy counter; bounds are the catalog's min/max replicas.
"""

from __future__ import annotations

import pytest
import yaml

from components.app.app_specs import REQUEST_RATE_METRIC
from config.profiles import PROFILES
from tests.conftest import ROOT, STACKS, plan_of
from tests.helpers.helm_render import named, rendered

HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


def _proxy_metrics() -> set[str]:
    facts = yaml.safe_load((ROOT / "tests" / "upstream_facts" / "metric_names.yaml").read_text())
    return set(facts["linkerd-proxy"])


@pytest.mark.parametrize("stack", STACKS)
def test_hpas_add_the_mesh_request_rate_only_where_prometheus_runs(stack: str) -> None:
    plan, profile = plan_of(stack), PROFILES[stack]
    catalog = {r.inputs["metadata"]["name"]: r for r in plan.of_type("kubernetes:apps/v1:Deployment")
               if r.name.startswith("app-") and r.name.endswith("-deployment") and "canary" not in r.name}
    hpas = [r for r in plan.of_type(HPA) if r.inputs["spec"]["scaleTargetRef"]["name"] in catalog]
    assert len(hpas) == 8  # the default catalog
    for hpa in hpas:
        metrics = hpa.inputs["spec"]["metrics"]
        resources = {m["resource"]["name"]: m["resource"]["target"] for m in metrics if m["type"] == "Resource"}
        assert resources == {r: {"type": "Utilization", "averageUtilization": 70} for r in ("cpu", "memory")}
        pods = [m["pods"] for m in metrics if m["type"] == "Pods"]
        if profile.monitoring_enabled:
            assert pods == [{"metric": {"name": REQUEST_RATE_METRIC}, "target": {
                "type": "AverageValue", "averageValue": f"{round(profile.requests_per_pod * 1000)}m"}}]
        else:
            assert pods == [], hpa.name
    releases = {r.inputs["name"] for r in plan.of_type("kubernetes:helm.sh/v3:Release")}
    assert ("prometheus-adapter" in releases) == profile.monitoring_enabled


@pytest.mark.parametrize("stack", [s for s in STACKS if PROFILES[s].monitoring_enabled])
def test_the_adapter_serves_the_metric_the_hpas_ask_for_from_linkerds_inbound_counter(stack: str) -> None:
    objects = rendered(stack)["prometheus-adapter"]
    config = yaml.safe_load(named(objects, "ConfigMap", "prometheus-adapter")["data"]["config.yaml"])
    (rule,) = config["rules"]
    assert rule["name"]["as"] == REQUEST_RATE_METRIC
    series = rule["seriesQuery"].split("{", 1)[0]
    assert series in _proxy_metrics()
    assert 'direction="inbound"' in rule["metricsQuery"] and 'tls="true"' in rule["metricsQuery"]
    assert rule["resources"]["overrides"]["pod"] == {"resource": "pod"}
    api = named(objects, "APIService", "v1beta1.custom.metrics.k8s.io")
    assert api["spec"]["group"] == "custom.metrics.k8s.io" and "insecureSkipTLSVerify" not in api["spec"]
    deployment = named(objects, "Deployment", "prometheus-adapter")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--prometheus-url=http://prometheus-operated.monitoring.svc.cluster.local:9090" in args
