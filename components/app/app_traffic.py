"""One catalog service's traffic policy in the mesh: its Gateway API routes (timeouts, retries, weighted backends)
and, while a canary runs, the canary Deployment and the per-track Services the routes split between (specs from
`app_routes`). A child of `AppService`, so it waits for the Linkerd control plane like the service's other objects:
the route CRDs come with the linkerd-crds release (`enableHttpRoutes: true`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_kubernetes as k8s

from components.app import app_specs, progressive_specs, route_specs
from config.catalog import Service


@dataclass(frozen=True)
class AppTrafficArgs:
    service: Service  # the catalog service, its canary (if any) already resolved
    namespace: pulumi.Input[str]  # the app namespace
    canary_image: pulumi.Input[str] | None  # the canary's pinned image; None without a canary
    ha: bool  # zone spreading of the canary's pods, as for the main Deployment
    depends_on: tuple[pulumi.Resource, ...] = ()  # the Linkerd control plane: route CRDs present, injector up
    analysis: progressive_specs.CanaryAnalysis | None = None  # a progressive canary (Flagger) instead of routes
    namespace_name: str = ""  # the app namespace's literal name
    delivery: tuple[pulumi.Resource, ...] = ()  # Flagger's release (CRDs) and the MetricTemplates


class AppTraffic(pulumi.ComponentResource):
    """GRPCRoute/HTTPRoute per port and override; canary Deployment + `<svc>-stable`/`<svc>-canary` Services."""

    def __init__(self, name: str, args: AppTrafficArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:app:AppTraffic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        svc = args.service
        backends: list[pulumi.Resource] = []
        if svc.canary is not None and args.canary_image is not None:
            for track in (route_specs.STABLE, route_specs.CANARY):
                backends.append(k8s.core.v1.Service(
                    f"{name}-{track}-service",
                    metadata={"name": f"{svc.name}-{track}", "namespace": args.namespace,
                              "labels": route_specs.track_labels(svc, track)},
                    spec=cast(k8s.core.v1.ServiceSpecArgsDict, route_specs.track_service(svc, track)), opts=child))
            backends.append(k8s.apps.v1.Deployment(
                f"{name}-canary-deployment",
                metadata={"name": f"{svc.name}-{route_specs.CANARY}", "namespace": args.namespace,
                          "labels": route_specs.track_labels(svc, route_specs.CANARY)},
                spec=cast(k8s.apps.v1.DeploymentSpecArgsDict,
                          route_specs.canary_deployment(svc, cast(str, args.canary_image), args.ha)),
                opts=child))
        # Routes wait for their backends: a weight on a missing or unready canary would fail those requests.
        route_opts = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[*args.depends_on,
                                                                                            *backends]))
        self.routes: dict[str, k8s.apiextensions.CustomResource] = {}
        # Flagger's HTTPRoute `<svc>` carries the canaried port's catch-all policy (progressive_specs.canary).
        handed_over = (route_specs.route_name(svc, progressive_specs.canary_port(svc))
                       if args.analysis is not None else None)
        if args.analysis is not None:
            self.canary: k8s.apiextensions.CustomResource | None = k8s.apiextensions.CustomResource(
                f"{name}-progressive-canary", api_version=progressive_specs.API, kind="Canary",
                metadata={"name": svc.name, "namespace": args.namespace, "labels": app_specs.labels(svc)},
                spec=progressive_specs.canary(svc, args.namespace_name, args.analysis),
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                    depends_on=[*args.depends_on, *args.delivery])))
        else:
            self.canary = None
        for object_name, kind, notes, spec in route_specs.routes(svc):
            if object_name == handed_over:
                continue
            self.routes[object_name] = k8s.apiextensions.CustomResource(
                f"{name}-{object_name.removeprefix(svc.name + '-')}-route",
                api_version=f"{route_specs.GATEWAY_API}/{route_specs.ROUTE_VERSION}", kind=kind,
                metadata={"name": object_name, "namespace": args.namespace, "labels": app_specs.labels(svc),
                          "annotations": notes},
                spec=spec, opts=route_opts)
        self.register_outputs({})
