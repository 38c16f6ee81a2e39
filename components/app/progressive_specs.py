"""Pure builders for progressive delivery by Flagger: the `Canary` of one catalog service, the two Linkerd
`MetricTemplate`s its analysis reads, and the Slack `AlertProvider` (docs/autoscaling.md).

A *progressive canary* (this module) is Flagger's: a new image of `<svc>` starts the analysis; Flagger runs it as the
target Deployment `<svc>` beside the promoted `<svc>-primary`, moves `stepWeight` percent more of the canaried port's
requests to it every `interval` up to `maxWeight`, promotes it after the last step, and rolls back after
`failedChecks` failed analyses. A *manual canary* (`rollout.canaries`, `services.<svc>.canary`; route_specs) is a
second Deployment at a fixed weight that a person changes; a service has one or the other, never both.

Traffic: Flagger writes one Gateway API HTTPRoute `<svc>` on the Service `<svc>` and the canaried port, weighted between
`<svc>-primary` and `<svc>-canary` (fluxcd/flagger v1.44.0 pkg/router/gateway_api.go, `gatewayapi:v1`); Linkerd's
policy controller applies it as outbound policy like the catalog's own routes, whose catch-all on that port it
replaces (its timeout, and on an HTTP port its retries, travel on the route through `service.apex`). The other
ports keep their routes and reach the primary only during an analysis.
Analysis: Flagger's Gateway API observer reads generic HTTP metrics, not Linkerd's, so the two checks are
MetricTemplates on the proxies' inbound `response_total` (classification) and `response_latency_ms_bucket` of the
canary Deployment (`deployment` label: the proxy-injector's `linkerd.io/proxy-deployment`, scrape_specs relabelings).
CRD fields: flagger-1.44.0 crds/crd.yaml (checked by the schema tests); metric names:
tests/upstream_facts/metric_names.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from components.app import route_specs
from config.catalog import Port, Service
from config.traffic import effective

Spec = dict[str, Any]

API: Final = "flagger.app/v1beta1"
SUCCESS_RATE: Final = "linkerd-success-rate"
LATENCY: Final = "linkerd-latency"
SLACK: Final = "slack"
SLACK_SECRET: Final = "flagger-slack"  # holds `address`: the webhook URL, never in the AlertProvider's spec


@dataclass(frozen=True)
class CanaryAnalysis:
    """rollout.* thresholds and steps."""

    step_weight: int
    max_weight: int
    interval: str
    failed_checks: int
    min_success_rate: float
    max_latency_ms: int
    slack: bool  # alerts.slackWebhookUrl is set


def canary_port(service: Service) -> Port:
    """The port Flagger splits: the first gRPC port (service-to-service calls), else the first port."""
    return next((p for p in service.ports if p.protocol == "grpc"), service.ports[0])


def success_rate_template(prometheus_url: str) -> Spec:
    """Percent of the canary's inbound responses Linkerd did not classify as failures."""
    inbound = 'namespace="{{ namespace }}",deployment=~"{{ target }}",direction="inbound"'
    return {"provider": {"type": "prometheus", "address": prometheus_url},
            "query": (f'sum(rate(response_total{{{inbound},classification!="failure"}}[{{{{ interval }}}}])) / '
                      f"sum(rate(response_total{{{inbound}}}[{{{{ interval }}}}])) * 100")}


def latency_template(prometheus_url: str) -> Spec:
    """p99 of the canary's inbound response latency in milliseconds."""
    inbound = 'namespace="{{ namespace }}",deployment=~"{{ target }}",direction="inbound"'
    return {"provider": {"type": "prometheus", "address": prometheus_url},
            "query": (f"histogram_quantile(0.99, sum(rate(response_latency_ms_bucket{{{inbound}}}"
                      "[{{ interval }}])) by (le))")}


def alert_provider(channel: str) -> Spec:
    return {"type": "slack", "channel": channel, "username": "flagger", "secretRef": {"name": SLACK_SECRET}}


def canary(service: Service, namespace: str, analysis: CanaryAnalysis) -> Spec:
    """The service's Canary: target and HPA are the catalog's own Deployment and HPA (Flagger copies them to
    `<svc>-primary`), traffic on `canary_port`, thresholds from config."""
    port = canary_port(service)
    policy = effective(service.traffic, port.protocol)
    templates = {"namespace": namespace}
    spec: Spec = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service.name},
        "autoscalerRef": {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": service.name},
        "progressDeadlineSeconds": 600,
        "service": {
            "name": service.name, "port": port.port, "targetPort": port.name,
            "appProtocol": "kubernetes.io/h2c" if port.protocol == "grpc" else "http",
            "portDiscovery": True,  # the other ports appear in `<svc>-primary`/`<svc>-canary` too
            "gatewayRefs": [{"group": "core", "kind": "Service", "name": service.name, "namespace": namespace,
                             "port": port.port}],
            # Linkerd reads gRPC retry conditions on GRPCRoutes only; on Flagger's HTTPRoute a gRPC port keeps its
            # timeout, and its `unavailable` retries pause while the progressive canary owns the port.
            "apex": {"annotations": (route_specs.route_annotations(policy, "http") if port.protocol == "http"
                                     else {"timeout.linkerd.io/request": policy.request_timeout})},
        },
        "analysis": {
            "interval": analysis.interval, "threshold": analysis.failed_checks,
            "stepWeight": analysis.step_weight, "maxWeight": analysis.max_weight,
            "metrics": [
                {"name": "success-rate", "interval": analysis.interval,
                 "templateRef": {"name": SUCCESS_RATE, **templates},
                 "thresholdRange": {"min": analysis.min_success_rate}},
                {"name": "latency-p99", "interval": analysis.interval,
                 "templateRef": {"name": LATENCY, **templates}, "thresholdRange": {"max": analysis.max_latency_ms}},
            ],
        },
    }
    if analysis.slack:
        spec["analysis"]["alerts"] = [{"name": SLACK, "severity": "info",
                                       "providerRef": {"name": SLACK, "namespace": namespace}}]
    return spec
