"""One catalog service in the meshed app namespace: its identity, workload, scaling, disruption budget and the
zero-trust policy that lets exactly its declared callers in (specs from `app_specs`).

Object names in Kubernetes are the service's name (plus the port for Linkerd policy), so operators and `linkerd viz`
see the catalog's names; Pulumi resource names are prefixed with the service so they are stable per service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.app import app_specs, route_specs, vault_agent_specs
from components.app.app_traffic import AppTraffic, AppTrafficArgs
from components.app.progressive_specs import CanaryAnalysis
from config.catalog import Catalog, Service
from config.names import PUBLIC_INGRESS


@dataclass(frozen=True)
class AppServiceArgs:
    service: Service
    catalog: Catalog  # the whole catalog: callees and their ports shape the egress policy
    namespace: pulumi.Input[str]  # the app namespace's name, once it exists
    image: pulumi.Input[str]  # pinned image reference (repository:tag or repository@digest)
    data_cidrs: tuple[str, ...]  # isolated subnets (RDS, MQ, cache)
    ha: bool
    depends_on: tuple[pulumi.Resource, ...] = ()  # the Linkerd control plane: injector up, policy CRDs present
    canary_image: pulumi.Input[str] | None = None  # the canary's pinned image when the service has a canary
    requests_per_pod: float | None = None  # HPA target on the mesh request rate; None where Prometheus does not run
    progressive: frozenset[str] = frozenset()  # services under Flagger: their policy selectors cover `-primary` pods
    analysis: CanaryAnalysis | None = None  # this service's progressive canary, if it has one
    namespace_name: str = ""  # the app namespace's literal name (the Canary's template references)
    delivery: tuple[pulumi.Resource, ...] = ()  # Flagger's release and shared objects: the Canary waits for them
    vault_client: bool = False  # it has a Vault role: its pods may reach Vault's API (egress 8200)
    # With a Vault role: the injector annotations of its pods (vault_agent_specs) and its token's audience.
    vault_agent: dict[str, str] | None = None
    vault_audience: str = ""
    role_arn: pulumi.Input[str] | None = None  # IRSA role of its SQS queues (data.messaging sqs, `mq` services)
    sqs: bool = False  # data.messaging sqs: `mq` reaches the SQS API over HTTPS instead of the broker's ports
    spot_ok: bool = False  # nodes.spotForAllServices: tolerate the spot pool even when critical


class AppService(pulumi.ComponentResource):
    """ServiceAccount, Deployment, Service, HPA, PDB, Linkerd Server/AuthorizationPolicy/MeshTLSAuthentication per
    port, and the service's NetworkPolicy."""

    def __init__(self, name: str, args: AppServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:app:AppService", name, None, opts)
        # Every object waits for the mesh: a pod created before the injector runs unmeshed.
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        svc = args.service
        ns = args.namespace

        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgsDict:
            return {"name": object_name, "namespace": ns, "labels": app_specs.labels(svc)}

        sa_meta = meta(svc.name)
        if args.role_arn is not None:
            # EKS's pod identity webhook projects an STS-audience token into the pods of an annotated account; it
            # does not need the API token automount, which stays off.
            # Ref: https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
            sa_meta["annotations"] = {app_specs.IRSA_ROLE_ANNOTATION: args.role_arn}
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=sa_meta, automount_service_account_token=False, opts=child)
        deployment = app_specs.deployment(svc, cast(str, args.image), args.ha, args.spot_ok)
        if args.vault_agent is not None:
            deployment = vault_agent_specs.with_vault_agent(deployment, args.vault_agent, args.vault_audience)
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment", metadata=meta(svc.name),
            spec=cast(k8s.apps.v1.DeploymentSpecArgsDict, route_specs.with_track(deployment, route_specs.STABLE)),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.service_account])))
        # Under a progressive canary Flagger points the Service `<svc>` at `<svc>-primary` (fluxcd/flagger v1.44.0
        # pkg/router/kubernetes_default.go): a later `pulumi up --refresh` must not put the catalog's selector back.
        service_opts = (pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["spec.selector"]))
                        if svc.name in args.progressive else child)
        self.service = k8s.core.v1.Service(
            f"{name}-service", metadata=meta(svc.name),
            spec=cast(k8s.core.v1.ServiceSpecArgsDict, app_specs.service_spec(svc)), opts=service_opts)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa", metadata=meta(svc.name),
            spec=cast(k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgsDict,
                      app_specs.hpa(svc, svc.name, requests_per_pod=args.requests_per_pod)),
            opts=child)
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb", metadata=meta(svc.name),
            spec=cast(k8s.policy.v1.PodDisruptionBudgetSpecArgsDict, app_specs.pdb(svc, args.progressive)),
            opts=child)
        # One authentication per client role; one Server per port, and an AuthorizationPolicy per (port, role).
        roles = {"callers": list(svc.callers)} if svc.callers else {}
        if svc.public:
            roles["ingress"] = [PUBLIC_INGRESS]
        for role, accounts in roles.items():
            custom_resource(f"{name}-{role}-authn", "MeshTLSAuthentication", app_specs.AUTH_VERSION,
                            meta(f"{svc.name}-{role}"), app_specs.mesh_tls_authentication(accounts), child)
        for port in svc.ports:
            server = app_specs.server_name(svc, port.name)
            custom_resource(f"{name}-{port.name}-server", "Server", app_specs.SERVER_VERSION, meta(server),
                            app_specs.server(svc, port.name, args.progressive), child)
            for role in roles:
                if role == "ingress" and port.protocol != "http":
                    continue  # the edge speaks HTTP: it reaches public services on their http ports only
                custom_resource(f"{name}-{port.name}-{role}-authz", "AuthorizationPolicy", app_specs.AUTH_VERSION,
                                meta(f"{server}-{role}"),
                                app_specs.authorization_policy(server, f"{svc.name}-{role}"), child)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol", metadata=meta(svc.name),
            spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict,
                      app_specs.network_policy(svc, args.catalog, args.data_cidrs, args.progressive,
                                               args.vault_client, args.sqs)), opts=child)
        # Timeouts, retries and the canary split: Gateway API routes (+ canary workload) per route_specs.
        self.traffic = AppTraffic(f"{name}-traffic", AppTrafficArgs(
            service=svc, namespace=ns, canary_image=args.canary_image, ha=args.ha, depends_on=args.depends_on,
            analysis=args.analysis, namespace_name=args.namespace_name, delivery=args.delivery),
            pulumi.ResourceOptions(parent=self))  # its children carry the depends_on (a component's would gate all)
        self.register_outputs({"deployment": self.deployment.metadata.name})


def custom_resource(name: str, kind: str, version: str, metadata: k8s.meta.v1.ObjectMetaArgsDict, spec: dict[str, Any],
                    opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name, api_version=f"{app_specs.POLICY_API}/{version}", kind=kind, metadata=metadata, spec=spec, opts=opts)
