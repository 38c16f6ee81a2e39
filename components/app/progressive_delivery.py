"""Progressive delivery: the Flagger controller and what every progressive canary shares — the two Linkerd
MetricTemplates of its analysis and the Slack AlertProvider with the Secret holding the webhook URL (specs in
`progressive_specs`, values in `flagger_values`). The per-service `Canary` objects are created by `AppTraffic`,
after this release has installed Flagger's CRDs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_kubernetes as k8s

from components.app import progressive_specs as specs
from components.app.flagger_values import POD_LABELS, RELEASE, FlaggerValuesArgs, flagger_values
from components.mesh import namespace_specs as np
from components.shared.helm import release
from config import versions


@dataclass(frozen=True)
class ProgressiveDeliveryArgs:
    monitoring_namespace: pulumi.Input[str]  # Flagger runs beside Prometheus
    app_namespace: pulumi.Input[str]  # templates, provider and Secret live with the Canaries
    prometheus_url: str
    cluster_name: str
    ha: bool
    slack_webhook_url: str | None  # secret config; None: no alerts to Slack
    slack_channel: str
    depends_on: tuple[pulumi.Resource, ...] = ()  # the Linkerd control plane (Gateway API CRDs)


class ProgressiveDelivery(pulumi.ComponentResource):
    """Flagger release + MetricTemplates + (with Slack) AlertProvider, its Secret and Flagger's egress to Slack."""

    def __init__(self, name: str, args: ProgressiveDeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:app:ProgressiveDelivery", name, None, opts)
        self.release = release(
            RELEASE, RELEASE, versions.FLAGGER_CHART, versions.FLAGGER_REPOSITORY, args.monitoring_namespace,
            flagger_values(FlaggerValuesArgs(prometheus_url=args.prometheus_url, cluster_name=args.cluster_name,
                                             ha=args.ha)),
            pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)))
        after = pulumi.ResourceOptions(parent=self, depends_on=[self.release])
        self.ready: list[pulumi.Resource] = [self.release]
        for template, spec in ((specs.SUCCESS_RATE, specs.success_rate_template(args.prometheus_url)),
                               (specs.LATENCY, specs.latency_template(args.prometheus_url))):
            self.ready.append(k8s.apiextensions.CustomResource(
                f"{name}-{template}", api_version=specs.API, kind="MetricTemplate",
                metadata={"name": template, "namespace": args.app_namespace}, spec=spec, opts=after))
        if args.slack_webhook_url is not None:
            secret = k8s.core.v1.Secret(
                f"{name}-slack", metadata={"name": specs.SLACK_SECRET, "namespace": args.app_namespace},
                string_data={"address": pulumi.Output.secret(args.slack_webhook_url)},
                opts=pulumi.ResourceOptions(parent=self))
            self.ready.append(k8s.apiextensions.CustomResource(
                f"{name}-slack-provider", api_version=specs.API, kind="AlertProvider",
                metadata={"name": specs.SLACK, "namespace": args.app_namespace},
                spec=specs.alert_provider(args.slack_channel),
                opts=pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=[secret]))))
            # monitoring denies egress by default: Slack's webhook endpoint is on the internet (443, through NAT).
            k8s.networking.v1.NetworkPolicy(
                f"{name}-flagger-slack",
                metadata={"name": "allow-flagger-slack", "namespace": args.monitoring_namespace},
                spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict,
                          {**np.allow_aws_apis(), "podSelector": {"matchLabels": dict(POD_LABELS)}}),
                opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"status": self.release.status})
