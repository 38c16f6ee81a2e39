"""Observability: pins, chart keys, CRD fields, alerts and their thresholds, metric names, Slack secrecy, viz
wiring and the app namespace's policy, per stack (the sandbox runs without monitoring by default)."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from components.mesh.namespace_specs import Networks
from components.monitoring import alert_specs
from components.monitoring import dashboard_specs as dashboards
from components.monitoring import scrape_specs as scrape
from components.monitoring.monitoring_values import (
    PROMETHEUS_URL,
    SLACK_URL_FILE,
    MonitoringValuesArgs,
    alertmanager_config,
    kube_prometheus_stack_values,
    linkerd_viz_values,
)
from components.monitoring.namespace_specs import viz_policies
from components.shared.chart_values import flatten
from config.model import ConfigError
from config.names import LINKERD_VIZ_NAMESPACE
from config.profiles import PROFILES
from config.versions import (
    GRAFANA_SUBCHART,
    KUBE_PROMETHEUS_STACK_CHART,
    KUBE_STATE_METRICS_SUBCHART,
    LINKERD_CHART,
    NODE_EXPORTER_SUBCHART,
)
from tests.conftest import FACTS, HA, STACKS, build_config, minimal_settings, plan_of
from tools.chart_data import chart_keys
from tools.engine.mock_engine import Plan, load_stack_settings, run_stack

KEYS = FACTS / "chart_keys"
# kube-prometheus-stack's subcharts the values set keys of, with their versions (key list file names follow them).
SUBCHARTS = {"grafana": GRAFANA_SUBCHART, "kube-state-metrics": KUBE_STATE_METRICS_SUBCHART,
             "prometheus-node-exporter": NODE_EXPORTER_SUBCHART}
METRICS: dict[str, list[str]] = yaml.safe_load((FACTS / "metric_names.yaml").read_text())
KNOWN_METRICS = {m for names in METRICS.values() for m in names}
CRD = yaml.safe_load((FACTS / "monitoring_crd_fields.yaml").read_text())
RELEASE = "kubernetes:helm.sh/v3:Release"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/offline-test-only"
THRESHOLDS = alert_specs.AlertThresholds(30, 7, 24, 1440, 365, 0.99, 1.0, 10, 0)
MONITORED = tuple(s for s in STACKS if PROFILES[s].monitoring_enabled)


# --- PromQL metric names ---------------------------------------------------------------------------------------
_KEYWORDS = {"sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right",
             "and", "or", "unless", "bool", "offset", "rate", "increase", "irate", "histogram_quantile", "time",
             "vector", "absent", "label_replace", "label_values", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers left after removing strings, label matchers, ranges,
    grouping clauses, function calls and numbers."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\boffset\s+[0-9]+[smhdwy]+", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        follows = text[match.end():].lstrip()[:1]
        if word.lower() in _KEYWORDS or follows == "(" or text[max(0, match.start() - 1)] == "$":
            continue
        names.add(word)
    return names


def test_metric_parser_finds_names_and_skips_syntax() -> None:
    assert metric_names('sum by (a, b) (rate(foo_total{x="y"}[5m])) / on (a) bar > 0.5') == {"foo_total", "bar"}
    assert metric_names('histogram_quantile(0.99, sum by (le) (rate(x_bucket{d=~"$deployment"}[5m])))') == {
        "x_bucket"}
    assert metric_names("time() - ts_seconds > 86400 and ts_seconds > 0") == {"ts_seconds"}
    assert metric_names("x_error unless x_error offset 15m") == {"x_error"}


def _alert_exprs(spec: dict[str, Any]) -> list[str]:
    return [r["expr"] for g in spec["groups"] for r in g["rules"] if isinstance(r["expr"], str)]


def test_every_alert_and_dashboard_metric_is_one_the_pinned_components_expose() -> None:
    exprs = _alert_exprs(alert_specs.prometheus_rule_spec(THRESHOLDS, "prod-app", "vector(1)"))
    exprs += list(dashboards.queries("prod-app").values())
    used = set().union(*(metric_names(e) for e in exprs))
    assert used <= KNOWN_METRICS, used - KNOWN_METRICS
    # Each source is really used: the list documents what the rules read, not a wish list.
    for source in ("cert-manager", "linkerd-proxy", "linkerd-control-plane", "vault", "recording"):
        assert used & set(METRICS[source]), source


def test_a_misspelled_metric_is_caught() -> None:
    assert not metric_names("certmanager_certificate_expiry_seconds - time() < 1") <= KNOWN_METRICS


# --- Chart keys and CRD fields ---------------------------------------------------------------------------------
def _valid(path: str, keys: set[str]) -> bool:
    """A key of the chart, or inside a free-form map the chart leaves empty (`path{}`: resources, storageSpec...)."""
    if path in keys or f"{path}[]" in keys or f"{path}{{}}" in keys:
        return True
    parts = path.split(".")
    return any(".".join(parts[:i]) + "{}" in keys for i in range(1, len(parts)))


def test_key_lists_follow_the_pins_and_name_their_source() -> None:
    assert (KEYS / f"linkerd-viz-{LINKERD_CHART}.txt").is_file()
    for name, source in chart_keys.EXTERNAL_SOURCES.items():
        header = (KEYS / name).read_text().splitlines()[0]
        assert header == f"# Key paths of {source} (generated by tools/chart_data/chart_keys.py; do not edit).", name
    assert set(chart_keys.EXTERNAL_SOURCES) == {f"kube-prometheus-stack-{KUBE_PROMETHEUS_STACK_CHART}.txt"} | {
        f"{name}-{version}.txt" for name, version in SUBCHARTS.items()}


@pytest.mark.parametrize("ha", [True, False])
@pytest.mark.parametrize("slack", [True, False])
def test_kube_prometheus_stack_values_use_only_chart_keys(ha: bool, slack: bool) -> None:
    kps = chart_keys.load(KEYS / f"kube-prometheus-stack-{KUBE_PROMETHEUS_STACK_CHART}.txt")
    for name, version in SUBCHARTS.items():  # a subchart's keys apply under its name
        kps |= {f"{name}.{k}" for k in chart_keys.load(KEYS / f"{name}-{version}.txt")}
    values = kube_prometheus_stack_values(MonitoringValuesArgs(ha, 30, 100, "gp3-encrypted", slack, "#alerts"))
    unknown = {p for p in flatten(values) if not _valid(p, kps)}
    assert not unknown
    assert not _valid("grafana.adminPasword", kps)  # the check can fail


@pytest.mark.parametrize("ha", [True, False])
def test_linkerd_viz_values_use_only_chart_keys_and_query_our_prometheus(ha: bool) -> None:
    keys = chart_keys.load(KEYS / f"linkerd-viz-{LINKERD_CHART}.txt")
    values = linkerd_viz_values(ha)
    assert {p for p in flatten(values) if not _valid(p, keys)} == set()
    assert values["prometheus"] == {"enabled": False}
    assert values["prometheusUrl"] == "http://prometheus-operated.monitoring.svc.cluster.local:9090"


def _fields_ok(kind: str, path: str, obj: dict[str, Any]) -> None:
    assert set(obj) <= set(CRD[kind][path]), (kind, path, set(obj) - set(CRD[kind][path]))


def test_monitoring_objects_use_only_fields_of_the_pinned_crds() -> None:
    for kind in ("PodMonitor", "ServiceMonitor", "PrometheusRule"):
        assert CRD[kind]["storage"] == "v1"
        assert f"{CRD[kind]['group']}/v1" == scrape.API_VERSION
    for spec in (scrape.proxy_pod_monitor(), scrape.control_plane_pod_monitor(("linkerd",))):
        _fields_ok("PodMonitor", "spec", spec)
        _fields_ok("PodMonitor", "spec.namespaceSelector", spec["namespaceSelector"])
        for endpoint in spec["podMetricsEndpoints"]:
            _fields_ok("PodMonitor", "spec.podMetricsEndpoints", endpoint)
            for relabel in endpoint["relabelings"]:
                _fields_ok("PodMonitor", "spec.podMetricsEndpoints.relabelings", relabel)
    for spec in (scrape.cert_manager_service_monitor(), scrape.vault_service_monitor("vault-server-tls", "vault")):
        _fields_ok("ServiceMonitor", "spec", spec)
        for endpoint in spec["endpoints"]:
            _fields_ok("ServiceMonitor", "spec.endpoints", endpoint)
            if "tlsConfig" in endpoint:
                _fields_ok("ServiceMonitor", "spec.endpoints.tlsConfig", endpoint["tlsConfig"])
                _fields_ok("ServiceMonitor", "spec.endpoints.tlsConfig.ca", endpoint["tlsConfig"]["ca"])
                _fields_ok("ServiceMonitor", "spec.endpoints.tlsConfig.ca.secret",
                           endpoint["tlsConfig"]["ca"]["secret"])
    spec = alert_specs.prometheus_rule_spec(THRESHOLDS, "prod-app", "vector(1)")
    _fields_ok("PrometheusRule", "spec", spec)
    for group in spec["groups"]:
        _fields_ok("PrometheusRule", "spec.groups", group)
        for rule in group["rules"]:
            _fields_ok("PrometheusRule", "spec.groups.rules", rule)


# --- The plan, per stack ---------------------------------------------------------------------------------------
def _monitoring(plan: Plan) -> list[Any]:
    """Every resource under the Monitoring component (children, grandchildren...)."""
    roots = [r.urn for r in plan.of_type("mtls-platform:monitoring:Monitoring")]
    found, frontier = [], list(roots)
    while frontier:
        children = [r for urn in frontier for r in plan.children(urn)]
        found += children
        frontier = [r.urn for r in children]
    return found


def test_sandbox_turns_the_heavy_parts_off() -> None:
    plan = plan_of("sandbox")
    assert not _monitoring(plan)
    assert not [r for r in plan.of_type(RELEASE) if r.name in {"kube-prometheus-stack", "linkerd-viz"}]


@pytest.mark.parametrize("stack", MONITORED)
def test_plan_pins_both_charts(stack: str) -> None:
    plan = plan_of(stack)
    kps = plan.one(RELEASE, "kube-prometheus-stack").inputs
    assert kps["version"] == KUBE_PROMETHEUS_STACK_CHART and kps["namespace"] == "monitoring"
    viz = plan.one(RELEASE, "linkerd-viz").inputs
    assert viz["version"] == LINKERD_CHART and viz["namespace"] == LINKERD_VIZ_NAMESPACE
    assert viz["values"]["prometheusUrl"] == PROMETHEUS_URL and viz["values"]["prometheus"]["enabled"] is False
    spec = kps["values"]["prometheus"]["prometheusSpec"]
    assert spec["replicas"] == (2 if stack in HA else 1)
    assert spec["retention"] == f"{PROFILES[stack].prometheus_retention_days}d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3-encrypted"
    assert claim["resources"]["requests"]["storage"] == f"{PROFILES[stack].prometheus_storage_gb}Gi"
    assert "adminPassword" not in kps["values"]["grafana"]


@pytest.mark.parametrize("stack", MONITORED)
def test_scrapes_only_ports_prometheus_is_authorized_on(stack: str) -> None:
    """The unmeshed Prometheus passes Linkerd only where a Server admits it: every proxy's linkerd-admin port
    (proxy-admin Servers) and the control plane in `linkerd` (its pods are all-unauthenticated). viz's own admin
    ports have no Server and fall back to all-authenticated: scraping them would leave targets down for good."""
    monitors = {r.name: r.inputs["spec"] for r in plan_of(stack).of_type(
        "kubernetes:monitoring.coreos.com/v1:PodMonitor")}
    control_plane = next(s for n, s in monitors.items() if "control-plane" in n)
    assert control_plane["namespaceSelector"] == {"matchNames": ["linkerd"]}


def _rule_spec(plan: Plan) -> dict[str, Any]:
    rule: dict[str, Any] = plan.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs
    return rule


@pytest.mark.parametrize("stack", MONITORED)
def test_plan_alerts_cover_the_issue_with_config_thresholds(stack: str) -> None:
    plan = plan_of(stack)
    rule = _rule_spec(plan)
    assert rule["metadata"]["labels"] == {"release": "kube-prometheus-stack"}
    selector = plan.one(RELEASE, "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    assert selector["ruleSelector"] == {"matchLabels": rule["metadata"]["labels"]}
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert set(alerts) >= {"CertificateNotReady", "CertificateExpiringSoon", "LinkerdIdentityIssuerExpiring",
                           "LinkerdTrustAnchorExpiring", "VaultSealed", "VaultNoLeader", "MeshAuthorizationDenied",
                           "MeshMtlsSuccessRateLow", "MeshAddedLatencyHigh"}
    assert "< 2592000" in alerts["CertificateExpiringSoon"]  # 30 days
    assert 'condition!="True"' in alerts["CertificateNotReady"]
    assert "< 5184000" in alerts["LinkerdIdentityIssuerExpiring"]  # 1440 h
    assert "< 31536000" in alerts["LinkerdTrustAnchorExpiring"]  # 365 days
    assert alerts["VaultSealed"] == "vault_core_unsealed == 0"
    mtls = alerts["MeshMtlsSuccessRateLow"]
    assert 'tls="true"' in mtls and "< 0.99" in mtls and "> 1.0" in mtls
    assert f'direction="outbound",dst_namespace="{stack}-app"' in mtls  # callers' side: probes are not counted
    assert alerts["MeshAddedLatencyHigh"].endswith("> 10")
    assert f'namespace="{stack}-app"' in alerts["MeshAuthorizationDenied"]
    # The snapshot CronJob the plan registers is the one watched, at 26 h (a daily schedule plus slack).
    vault_jobs = {r.inputs["metadata"]["name"]: r for r in plan.of_type("kubernetes:batch/v1:CronJob")
                  if r.inputs["metadata"]["namespace"] == "vault"}
    # The credential report's CronJob is watched by its own alert (components/vault/credential_report_specs.py).
    if "credential-report" in vault_jobs:
        assert 'namespace="vault",cronjob="credential-report"' in alerts["VaultCredentialReportFailing"]
    (cronjob,) = [r for name, r in vault_jobs.items() if name != "credential-report"]
    snapshot = alerts["VaultSnapshotMissing"]
    assert f'namespace="vault",cronjob="{cronjob.inputs["metadata"]["name"]}"' in snapshot
    assert "kube_cronjob_status_last_successful_time" in snapshot and "> 93600" in snapshot
    records = [r for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r]
    assert records == [{"record": alert_specs.TRUST_ANCHOR_EXPIRY, "expr": "vector(0) < 0"}]  # offline: no real PEM


@pytest.mark.parametrize("stack", MONITORED)
def test_no_new_allow_into_the_app_namespace(stack: str) -> None:
    plan = plan_of(stack)
    app = f"{stack}-app"
    assert not [r.name for r in _monitoring(plan) if (r.inputs.get("metadata") or {}).get("namespace") == app]
    policies = [r for r in _monitoring(plan) if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"]
    # 8 in linkerd-viz, 6 in monitoring (viz -> Prometheus, webhook, node targets, API server proxy -> Prometheus,
    # the trust-anchor rotation's gate -> Prometheus, API server -> prometheus-adapter's metrics API)
    assert len(policies) == 14
    for policy in policies:
        peers = json.dumps(policy.inputs["spec"])
        assert app not in peers, policy.name
    # viz's own namespace admits the unmeshed Prometheus on the proxy admin port exactly as the app namespace does.
    servers = [r for r in _monitoring(plan) if r.inputs.get("kind") == "Server"]
    assert [s.inputs["spec"]["port"] for s in servers] == ["linkerd-admin"]


@pytest.mark.parametrize("stack", MONITORED)
def test_verify_reaches_prometheus_through_the_api_server_proxy(stack: str) -> None:
    """tools/verify/verify.py queries /api/v1/namespaces/monitoring/services/prometheus-operated:9090/proxy: the API
    server connects from its ENIs in the VPC, so `monitoring`'s default deny must admit the VPC on 9090."""
    plan = plan_of(stack)
    (rule,) = [r.inputs["spec"] for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
               if r.inputs["metadata"] == {"name": "allow-api-server-proxy", "namespace": "monitoring"}]
    (ingress,) = rule["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 9090}]
    assert ingress["from"] == [{"ipBlock": {"cidr": PROFILES[stack].vpc_cidr}}]
    assert rule["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "prometheus"


@pytest.mark.parametrize("stack", MONITORED)
def test_dashboard_config_map_is_picked_up_by_the_grafana_sidecar(stack: str) -> None:
    plan = plan_of(stack)
    sidecar = plan.one(RELEASE, "kube-prometheus-stack").inputs["values"]["grafana"]["sidecar"]["dashboards"]
    cm = plan.one("kubernetes:core/v1:ConfigMap", "monitoring-mesh-dashboard").inputs
    assert cm["metadata"]["labels"] == {sidecar["label"]: sidecar["labelValue"]}
    board = json.loads(cm["data"]["mtls-platform-mesh.json"])
    titles = [p["title"] for p in board["panels"]]
    assert any(t.startswith("mTLS success rate") for t in titles) and "Latency p99 (ms)" in titles


def test_viz_namespace_is_default_deny_with_named_allows() -> None:
    policies = viz_policies(Networks("10.10.0.0/16", "172.20.0.0/16"))
    assert next(iter(policies)) == "default-deny"
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


# --- Slack --------------------------------------------------------------------------------------------------------
def test_without_a_webhook_alerts_go_to_the_null_receiver() -> None:
    values = plan_of("prod").one(RELEASE, "kube-prometheus-stack").inputs["values"]["alertmanager"]
    assert values["config"]["route"]["receiver"] == "null"
    assert values["alertmanagerSpec"]["secrets"] == []
    assert not plan_of("prod").of_type("kubernetes:core/v1:Secret") or all(
        r.name != "monitoring-slack" for r in plan_of("prod").of_type("kubernetes:core/v1:Secret"))


def test_slack_webhook_lives_only_in_a_secret() -> None:
    config = {**load_stack_settings("staging"), "mtls-platform:alerts": json.dumps({"slackWebhookUrl": WEBHOOK})}
    plan = run_stack("staging", config)
    release = plan.one(RELEASE, "kube-prometheus-stack").inputs
    assert WEBHOOK not in json.dumps(release)
    am = release["values"]["alertmanager"]
    assert am["config"]["route"]["receiver"] == "slack"
    assert am["config"]["receivers"][1]["slack_configs"][0]["api_url_file"] == SLACK_URL_FILE
    assert am["alertmanagerSpec"]["secrets"] == ["alertmanager-slack"]
    secret = plan.one("kubernetes:core/v1:Secret", "monitoring-slack")
    assert secret.inputs["metadata"] == {"name": "alertmanager-slack", "namespace": "monitoring"}
    assert secret.inputs["stringData"]["webhook-url"] == WEBHOOK
    egress = plan.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "monitoring-allow-alertmanager-slack").inputs
    assert egress["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}}
    assert egress["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 443}]


def test_alertmanager_config_mounts_the_url_file_it_reads() -> None:
    config = alertmanager_config(True, "#alerts")
    assert SLACK_URL_FILE.startswith("/etc/alertmanager/secrets/alertmanager-slack/")
    assert "api_url" not in config["receivers"][1]["slack_configs"][0]


# --- Config rules -------------------------------------------------------------------------------------------------
def _problems(**alerts: Any) -> list[str]:
    config = minimal_settings("prod", alerts=alerts)
    with pytest.raises(ConfigError) as err:
        build_config("prod", config)
    return [f"{p.key}: {p.rule}" for p in err.value.problems]


def test_thresholds_must_fit_the_certificate_lifetimes() -> None:
    (problem,) = _problems(certExpiryWarningDays=61)
    assert problem.startswith("mtls-platform:alerts.certExpiryWarningDays: 61 d must be below")
    (problem,) = _problems(identityIssuerExpiryWarningHours=1464)
    assert problem.startswith("mtls-platform:alerts.identityIssuerExpiryWarningHours")
    (problem,) = _problems(mtlsSuccessRateFloor=1.5)
    assert problem.startswith("mtls-platform:alerts.mtlsSuccessRateFloor")


def test_a_bad_webhook_url_is_reported_without_echoing_it() -> None:
    (problem,) = _problems(slackWebhookUrl="http://example.com/secret-token")
    assert problem.startswith("mtls-platform:alerts.slackWebhookUrl") and "secret-token" not in problem


def test_monitoring_can_be_switched_per_stack() -> None:
    settings = minimal_settings("prod", monitoring={"enabled": False})
    assert build_config("prod", settings).monitoring_enabled is False
    assert [s for s in STACKS if PROFILES[s].monitoring_enabled] == ["dev", "staging", "prod"]


# --- Trust anchor -------------------------------------------------------------------------------------------------
def test_trust_anchor_expiry_is_read_from_the_certificate() -> None:
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "root.linkerd.cluster.local")])
    not_after = datetime.datetime(2036, 11, 20, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime.datetime(2026, 11, 22, tzinfo=datetime.UTC))
            .not_valid_after(not_after).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert alert_specs.trust_anchor_expr(pem) == f"vector({not_after.timestamp():.0f})"
    not_a_certificate = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
    assert alert_specs.trust_anchor_expr(not_a_certificate) == "vector(0) < 0"
