"""Progressive delivery by Flagger, shown without a cluster: the Flagger chart rendered by the real Helm engine with
the program's values, the Canary / MetricTemplate / AlertProvider objects validated strictly against the pinned
Flagger CRDs the way the API server would, thresholds traced from stack config into the fields Flagger reads, and the
zero-trust selectors covering the pods Flagger creates (`<svc>-primary`) as well as the canary's.
"""

from __future__ import annotations

import functools
import json

import helm_python as helm
import pytest

from components.app import app_specs, progressive_specs, route_specs
from components.app.flagger_values import MESH_PROVIDER, FlaggerValuesArgs, flagger_values
from config.catalog import default_catalog
from config.names import PROMETHEUS_URL
from config.versions import FLAGGER_CHART
from tests.conftest import build_config
from tests.helpers.helm_render import SEPARATOR, chart_dir, named, parse_manifests
from tests.helpers.k8s_schemas import Obj, SchemaSet, flatten
from tests.helpers.pod_security import pod_templates, violations
from tests.helpers.values_effect import ReleaseInputs, analyse
from tools.engine.mock_engine import load_stack_settings

NAMESPACE = "prod-app"


@functools.cache
def schemas() -> SchemaSet:
    chart = helm.Chart.load(str(chart_dir("flagger", FLAGGER_CHART)))
    return SchemaSet(documents=[(f"flagger {crd['filename']}", part) for crd in chart.crds
                                for part in SEPARATOR.split(crd["data"]) if part.strip()])


def _render(ha: bool) -> list[Obj]:
    chart = helm.Chart.load(str(chart_dir("flagger", FLAGGER_CHART)))
    values = flagger_values(FlaggerValuesArgs(prometheus_url=PROMETHEUS_URL, cluster_name="mtls-platform-prod", ha=ha))
    return parse_manifests(chart.render(values=values, name="flagger", namespace="monitoring", is_install=True))


def _config() -> object:
    settings = load_stack_settings("prod")
    settings["mtls-platform:rollout"] = json.dumps({  # the stack file's digest pins kept
        **json.loads(settings.get("mtls-platform:rollout", "{}")),
        "progressive": True, "stepWeight": 20, "maxWeight": 60, "interval": "2m", "failedChecks": 3,
        "minSuccessRate": 99.5, "maxLatencyMs": 250})
    return build_config("prod", settings)


def _analysis(slack: bool = True) -> progressive_specs.CanaryAnalysis:
    cfg = _config()
    return progressive_specs.CanaryAnalysis(
        step_weight=cfg.canary_step_weight, max_weight=cfg.canary_max_weight,  # type: ignore[attr-defined]
        interval=cfg.canary_interval, failed_checks=cfg.canary_failed_checks,  # type: ignore[attr-defined]
        min_success_rate=cfg.canary_min_success_rate,  # type: ignore[attr-defined]
        max_latency_ms=cfg.canary_max_latency_ms, slack=slack)  # type: ignore[attr-defined]


def _object(kind: str, name: str, spec: Obj) -> Obj:
    return {"apiVersion": progressive_specs.API, "kind": kind, "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": spec}


@pytest.mark.parametrize("ha", [False, True])
def test_flagger_renders_with_the_gateway_api_provider_unmeshed_and_restricted(ha: bool) -> None:
    objects = _render(ha)
    deployment = named(objects, "Deployment", "flagger")
    pod = deployment["spec"]["template"]
    args = pod["spec"]["containers"][0]["command"]
    assert f"-mesh-provider={MESH_PROVIDER}" in args and f"-metrics-server={PROMETHEUS_URL}" in args
    assert ("-enable-leader-election=true" in args) == ha and deployment["spec"]["replicas"] == (2 if ha else 1)
    assert pod["metadata"]["annotations"]["linkerd.io/inject"] == "disabled"
    assert not [a for a in args if a.startswith("-slack-url")]  # the webhook never sits in the release's values
    for metadata, spec in (t for o in flatten(objects) for t in pod_templates(o)):
        assert violations(metadata, spec, "restricted") == []
    for obj in flatten(objects):
        assert schemas().errors(obj) == [], obj["kind"]


def test_flagger_values_each_change_the_render() -> None:
    values = flagger_values(FlaggerValuesArgs(prometheus_url=PROMETHEUS_URL, cluster_name="mtls-platform-prod",
                                              ha=True))
    report = analyse(ReleaseInputs("flagger", FLAGGER_CHART, "flagger", "monitoring", json.dumps(values,
                                                                                                sort_keys=True)))
    assert report.proof and not report.findings, report.findings


def test_every_canary_validates_against_the_pinned_crd_with_thresholds_from_config() -> None:
    analysis = _analysis()
    for service in default_catalog("prod"):
        canary = _object("Canary", service.name, progressive_specs.canary(service, NAMESPACE, analysis))
        assert schemas().errors(canary) == [], service.name
        spec = canary["spec"]
        assert spec["targetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service.name}
        assert spec["autoscalerRef"]["name"] == service.name  # the catalog HPA, copied to <svc>-primary
        steps = spec["analysis"]
        assert (steps["stepWeight"], steps["maxWeight"], steps["interval"], steps["threshold"]) == (20, 60, "2m", 3)
        metrics = {m["templateRef"]["name"]: m["thresholdRange"] for m in steps["metrics"]}
        assert metrics == {progressive_specs.SUCCESS_RATE: {"min": 99.5}, progressive_specs.LATENCY: {"max": 250}}
        port = progressive_specs.canary_port(service)
        assert port.protocol == "grpc"
        assert spec["service"]["gatewayRefs"] == [{"group": "core", "kind": "Service", "name": service.name,
                                                   "namespace": NAMESPACE, "port": port.port}]
        assert spec["service"]["apex"]["annotations"]["timeout.linkerd.io/request"] == "5s"
        assert steps["alerts"][0]["providerRef"] == {"name": progressive_specs.SLACK, "namespace": NAMESPACE}


def test_no_alerts_without_a_webhook_and_the_shared_objects_validate() -> None:
    service = default_catalog("prod")[0]
    assert "alerts" not in progressive_specs.canary(service, NAMESPACE, _analysis(slack=False))["analysis"]
    provider = _object("AlertProvider", progressive_specs.SLACK, progressive_specs.alert_provider("#platform-alerts"))
    assert schemas().errors(provider) == []
    assert "address" not in provider["spec"]
    assert provider["spec"]["secretRef"] == {"name": progressive_specs.SLACK_SECRET}
    for name, spec in ((progressive_specs.SUCCESS_RATE, progressive_specs.success_rate_template(PROMETHEUS_URL)),
                       (progressive_specs.LATENCY, progressive_specs.latency_template(PROMETHEUS_URL))):
        template = _object("MetricTemplate", name, spec)
        assert schemas().errors(template) == []
        query = spec["query"]
        assert 'deployment=~"{{ target }}"' in query and 'direction="inbound"' in query
        assert ("response_total" in query) != ("response_latency_ms_bucket" in query)


def _matches(selector: Obj, labels: dict[str, str]) -> bool:
    ok = all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())
    for e in selector.get("matchExpressions") or []:
        assert e["operator"] == "In"
        ok = ok and labels.get(e["key"]) in e["values"]
    return ok


def _primary_labels(service_labels: dict[str, str]) -> dict[str, str]:
    """What Flagger gives the primary's pods (fluxcd/flagger v1.44.0 pkg/canary/util.go makePrimaryLabels)."""
    name = service_labels[app_specs.NAME_LABEL]
    return {**service_labels, app_specs.NAME_LABEL: name + app_specs.PRIMARY_SUFFIX}


def test_primary_and_canary_pods_get_the_same_linkerd_authorization_and_network_policy() -> None:
    catalog = default_catalog("prod")
    progressive = frozenset(s.name for s in catalog)
    for service in catalog:
        canary_pods = app_specs.labels(service)
        primary_pods = _primary_labels(canary_pods)
        selectors = [app_specs.server(service, service.ports[0].name, progressive)["podSelector"],
                     app_specs.pdb(service, progressive)["selector"],
                     app_specs.network_policy(service, catalog, ("10.10.240.0/24",), progressive)["podSelector"]]
        for selector in selectors:
            assert _matches(selector, canary_pods) and _matches(selector, primary_pods), service.name
            other = {**canary_pods, app_specs.NAME_LABEL: "someone-else"}
            assert not _matches(selector, other)
        # Callers' pods, primary or canary, are admitted; callees' pods are reachable.
        policy = app_specs.network_policy(service, catalog, ("10.10.240.0/24",), progressive)
        peers = [p["podSelector"] for rule in policy["ingress"] for p in rule["from"] if "podSelector" in p]
        for caller in service.callers:
            caller_pods = {app_specs.NAME_LABEL: caller}
            assert any(_matches(p, caller_pods) for p in peers)
            assert any(_matches(p, _primary_labels(caller_pods)) for p in peers)
    # Without progressive delivery the selectors stay exactly as before.
    service = catalog[0]
    assert app_specs.server(service, service.ports[0].name)["podSelector"] == {
        "matchLabels": app_specs.selector(service.name)}


def test_the_canaried_ports_catch_all_route_is_the_one_flagger_replaces() -> None:
    for service in default_catalog("prod"):
        handed = route_specs.route_name(service, progressive_specs.canary_port(service))
        names = [name for name, *_ in route_specs.routes(service)]
        assert handed in names  # exists without progressive delivery; AppTraffic skips exactly this one
        assert handed == f"{service.name}-grpc"
