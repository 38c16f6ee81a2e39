"""The operations layer's eyes: kube-prometheus-stack in `monitoring`, what it scrapes, the alerts, the mesh
dashboard, and linkerd-viz wired to that Prometheus.

Created after the mesh (it scrapes cert-manager, Vault and Linkerd, and its custom resources need the operator's
CRDs, which the release installs). Alerts reach Slack only through a Kubernetes Secret mounted into Alertmanager;
without a webhook URL in the stack's secret config they stay in Alertmanager and the program says so.
Which alert means what: docs/observability.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.mesh import namespace_specs
from components.mesh.mesh import Mesh
from components.monitoring import alert_specs
from components.monitoring import dashboard_specs as dashboards
from components.monitoring import scrape_specs as scrape
from components.monitoring.linkerd_viz import LinkerdViz, LinkerdVizArgs
from components.monitoring.monitoring_values import (
    RELEASE,
    SLACK_SECRET,
    SLACK_SECRET_KEY,
    MonitoringValuesArgs,
    kube_prometheus_stack_values,
)
from components.monitoring.namespace_specs import monitoring_additions
from components.monitoring.prometheus_adapter_values import PrometheusAdapterValuesArgs, prometheus_adapter_values
from components.shared.helm import release
from components.vault.vault import STORAGE_CLASS
from components.vault.vault_tls import SECRET_NAME as VAULT_TLS_SECRET
from config import versions
from config.model import StackConfig
from config.names import CERT_MANAGER_NAMESPACE, LINKERD_NAMESPACE, MONITORING_NAMESPACE, VAULT_NAMESPACE
from config.schema import key


@dataclass(frozen=True)
class MonitoringArgs:
    config: StackConfig  # thresholds, sizes, Slack settings, app namespace
    mesh: Mesh  # namespaces, cert-manager, Vault (TLS secret, trust anchor) and the Linkerd control plane


def thresholds(cfg: StackConfig) -> alert_specs.AlertThresholds:
    return alert_specs.AlertThresholds(
        cert_expiry_warning_days=cfg.cert_expiry_warning_days, cert_expiry_critical_days=cfg.cert_expiry_critical_days,
        cert_renewal_grace_hours=cfg.cert_renewal_grace_hours,
        identity_issuer_expiry_warning_hours=cfg.identity_issuer_expiry_warning_hours,
        trust_anchor_expiry_warning_days=cfg.trust_anchor_expiry_warning_days,
        mtls_success_rate_floor=cfg.mtls_success_rate_floor, mtls_min_request_rate=cfg.mtls_min_request_rate,
        latency_budget_ms=cfg.latency_budget_ms, authz_denials_per_10m=cfg.authz_denials_per_10m,
        snapshot_max_age_hours=cfg.snapshot_max_age_hours)


class Monitoring(pulumi.ComponentResource):
    """Slack Secret, kube-prometheus-stack, PodMonitors/ServiceMonitors, PrometheusRule, dashboard, linkerd-viz."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:monitoring:Monitoring", name, None, opts)
        cfg, mesh = args.config, args.mesh
        ns = mesh.namespaces.name_of
        child = pulumi.ResourceOptions(parent=self)
        slack = cfg.slack_webhook_url is not None
        before_release: list[pulumi.Resource] = [mesh.vault.release]  # its gp3-encrypted StorageClass
        if slack:
            before_release.append(k8s.core.v1.Secret(
                f"{name}-slack", metadata={"name": SLACK_SECRET, "namespace": ns(MONITORING_NAMESPACE)},
                string_data={SLACK_SECRET_KEY: pulumi.Output.secret(cfg.slack_webhook_url or "")},
                opts=child))
        else:
            pulumi.log.warn(f"{key('alerts.slackWebhookUrl')} is not set: alerts stay in Alertmanager (no Slack). "
                            "Set it with `pulumi config set --secret --path`.", self)
        values = kube_prometheus_stack_values(MonitoringValuesArgs(
            ha=cfg.is_ha, retention_days=cfg.prometheus_retention_days, storage_gb=cfg.prometheus_storage_gb,
            storage_class=STORAGE_CLASS, slack_enabled=slack, slack_channel=cfg.slack_channel))
        self.release = release(RELEASE, "kube-prometheus-stack", versions.KUBE_PROMETHEUS_STACK_CHART,
                               versions.KUBE_PROMETHEUS_STACK_REPOSITORY, ns(MONITORING_NAMESPACE), values,
                               pulumi.ResourceOptions(parent=self, depends_on=before_release))
        after = pulumi.ResourceOptions(parent=self, depends_on=[self.release])

        def monitor(suffix: str, kind: str, namespace: pulumi.Input[str], spec: dict[str, Any],
                    extra: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
            return k8s.apiextensions.CustomResource(
                f"{name}-{suffix}", api_version=scrape.API_VERSION, kind=kind,
                metadata={"name": suffix, "namespace": namespace, "labels": {alert_specs.SELECTOR_LABEL: RELEASE}},
                spec=spec, opts=pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=extra)))

        monitor("linkerd-proxy", "PodMonitor", ns(MONITORING_NAMESPACE), scrape.proxy_pod_monitor(), [])
        # `linkerd` only: viz's own admin ports (metrics-api, tap, web) get no Server of their own in viz 2026.8.3
        # and fall back to the cluster default (all-authenticated), which refuses the unmeshed Prometheus; the
        # alerts read only the control plane's metrics (identity's issuer_cert_ttl_seconds).
        monitor("linkerd-control-plane", "PodMonitor", ns(MONITORING_NAMESPACE),
                scrape.control_plane_pod_monitor((LINKERD_NAMESPACE,)), [])
        monitor("cert-manager", "ServiceMonitor", ns(CERT_MANAGER_NAMESPACE), scrape.cert_manager_service_monitor(),
                [mesh.cert_manager.release])
        # In Vault's namespace: a ServiceMonitor's TLS CA must be a Secret of its own namespace.
        monitor("vault", "ServiceMonitor", ns(VAULT_NAMESPACE), scrape.vault_service_monitor(VAULT_TLS_SECRET, "vault"),
                [mesh.vault.release])
        trust_anchor = pulumi.Output.from_input(mesh.vault.root_ca_pem).apply(alert_specs.trust_anchor_expr)
        alert_spec = alert_specs.prometheus_rule_spec(thresholds(cfg), cfg.app_namespace_name, trust_anchor)
        self.alerts = monitor("mtls-platform-alerts", "PrometheusRule", ns(MONITORING_NAMESPACE), alert_spec, [])
        k8s.core.v1.ConfigMap(
            f"{name}-mesh-dashboard",
            metadata={"name": "mtls-platform-mesh-dashboard", "namespace": ns(MONITORING_NAMESPACE),
                      "labels": dict(dashboards.DASHBOARD_LABEL)},
            data=dashboards.dashboard_config_map_data(cfg.app_namespace_name), opts=child)
        networks = namespace_specs.Networks(cfg.vpc_cidr, cfg.kubernetes_service_cidr)
        for policy, spec in monitoring_additions(networks, slack).items():
            k8s.networking.v1.NetworkPolicy(
                f"monitoring-{policy}", metadata={"name": policy, "namespace": ns(MONITORING_NAMESPACE)},
                spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict, spec), opts=child)
        # The HPAs' mesh request rate (app_specs.REQUEST_RATE_METRIC); its serving certificate needs cert-manager.
        self.adapter = release(
            "prometheus-adapter", "prometheus-adapter", versions.PROMETHEUS_ADAPTER_CHART,
            versions.PROMETHEUS_ADAPTER_REPOSITORY, ns(MONITORING_NAMESPACE),
            prometheus_adapter_values(PrometheusAdapterValuesArgs(ha=cfg.is_ha)),
            pulumi.ResourceOptions(parent=self, depends_on=[self.release, mesh.cert_manager.release]))
        self.viz = LinkerdViz(f"{name}-viz", LinkerdVizArgs(
            ha=cfg.is_ha,
            networks=networks,
            pod_cidrs=cfg.private_subnet_cidrs,
            depends_on=[mesh.linkerd.control_plane, self.release]), child)
        self.register_outputs({"release": self.release.status})
