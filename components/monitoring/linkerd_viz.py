"""linkerd-viz in its own meshed namespace, reading kube-prometheus-stack's Prometheus (no Prometheus of its own).

The namespace gets the platform's guard rails (restricted Pod Security, default-deny NetworkPolicies plus named
allows: components/monitoring/namespace_specs.py) and the same proxy-admin scrape authorization the application
namespace has, because the unmeshed Prometheus must read viz's proxies too. The chart version is the Linkerd pin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.app import app_specs
from components.app.app_service import custom_resource
from components.cluster.cluster import DEVOPS_GROUP
from components.mesh import namespace_specs as np
from components.mesh.platform_namespaces import network_policy
from components.mesh.webhook_certificates import webhook_certificates
from components.monitoring.monitoring_values import PROMETHEUS_URL, VIZ_WEBHOOKS, linkerd_viz_values
from components.monitoring.namespace_specs import VIZ_LABELS, viz_policies
from components.shared.helm import release
from config import versions
from config.names import LINKERD_VIZ_NAMESPACE


@dataclass(frozen=True)
class LinkerdVizArgs:
    ha: bool
    networks: np.Networks  # VPC and service CIDRs for the API-server allows
    pod_cidrs: tuple[str, ...]  # private subnets: where the unmeshed Prometheus scrapes from
    depends_on: Sequence[pulumi.Resource]  # the Linkerd control plane and the Prometheus that viz queries


class LinkerdViz(pulumi.ComponentResource):
    """Namespace + NetworkPolicies + proxy-admin scrape authorization + tap certificates + the linkerd-viz release."""

    def __init__(self, name: str, args: LinkerdVizArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:monitoring:LinkerdViz", name, None, opts)
        self.namespace = k8s.core.v1.Namespace(
            LINKERD_VIZ_NAMESPACE,
            metadata={"name": LINKERD_VIZ_NAMESPACE, "labels": {**np.pod_security_labels("restricted"), **VIZ_LABELS},
                      # What `linkerd viz install` writes when prometheusUrl is set (templates/namespace.yaml).
                      "annotations": {"viz.linkerd.io/external-prometheus": PROMETHEUS_URL}},
            opts=pulumi.ResourceOptions(parent=self))
        for policy, spec in viz_policies(args.networks).items():
            network_policy(LINKERD_VIZ_NAMESPACE, policy, spec, self.namespace)
        # Like every system namespace: the DevOps group administers it (components/mesh/platform_namespaces.py).
        k8s.rbac.v1.RoleBinding(
            f"{LINKERD_VIZ_NAMESPACE}-devops-admin",
            metadata={"name": "platform-devops-admin", "namespace": LINKERD_VIZ_NAMESPACE},
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            subjects=[{"api_group": "rbac.authorization.k8s.io", "kind": "Group", "name": DEVOPS_GROUP}],
            opts=pulumi.ResourceOptions(parent=self.namespace))
        ns = self.namespace.metadata.apply(lambda m: str(m["name"]) if isinstance(m, dict) else str(m.name))
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        scrape = [
            custom_resource(f"{name}-proxy-admin-server", "Server", app_specs.SERVER_VERSION,
                            {"name": "proxy-admin", "namespace": ns}, app_specs.proxy_admin_server(), after),
            custom_resource(f"{name}-prometheus-authn", "NetworkAuthentication", app_specs.AUTH_VERSION,
                            {"name": "prometheus-scrape", "namespace": ns},
                            app_specs.scrape_network_authentication(list(args.pod_cidrs)), after),
            custom_resource(f"{name}-proxy-admin-authz", "AuthorizationPolicy", app_specs.AUTH_VERSION,
                            {"name": "proxy-admin-prometheus", "namespace": ns},
                            app_specs.authorization_policy("proxy-admin", "prometheus-scrape",
                                                           "NetworkAuthentication"), after),
        ]
        # The tap API and the tap injector's webhook serve cert-manager Certificates instead of the chart's one-year
        # self-signed certificate, which nothing renews between upgrades (cert-manager runs: args.depends_on holds
        # the control plane, installed after it).
        certificates = webhook_certificates(name, ns, LINKERD_VIZ_NAMESPACE, VIZ_WEBHOOKS,
                                            "webhook.linkerd-viz.cluster.local", after)
        self.release = release(
            "linkerd-viz", "linkerd-viz", versions.LINKERD_CHART, versions.LINKERD_REPOSITORY, ns,
            linkerd_viz_values(args.ha),
            pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, *scrape, *certificates]))
        self.register_outputs({"status": self.release.status})
