"""Public entry: the catalog's public services behind one internet-facing ALB, HTTPS only, meshed from the first hop.

ALB (AWS Load Balancer Controller, `AlbController`) -> the `public-ingress` reverse proxy in the app namespace
(meshed, runs as the service account the public services already admit) -> the public services over Linkerd mTLS.
The certificate is ACM: requested and DNS-validated in the stack's Route 53 zone, or an existing one from config;
the domain gets an alias record to the ALB the controller reports in the Ingress status. Specs: `ingress_specs`;
the request's path and the DNS steps are in docs/public-entry.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.app import app_specs
from components.app.app_service import custom_resource
from components.app.application import Application
from components.cluster.cluster import Cluster
from components.ingress import alb_controller_values, edge_specs
from components.ingress.alb_controller import AlbController, AlbControllerArgs
from components.ingress.edge_specs import NAME
from components.mesh import policy_mode_specs
from components.mesh.mesh import Mesh
from components.network.network import Network
from config import versions
from config.model import StackConfig


@dataclass(frozen=True)
class PublicEntryArgs:
    config: StackConfig  # domain, zone, certificate, CIDRs, catalog, namespace, HA
    cluster: Cluster
    network: Network  # the VPC id for the controller
    mesh: Mesh  # the app namespace, cert-manager, the Linkerd control plane
    app: Application  # the public services' Services (NGINX resolves them at start)
    access_log_bucket: pulumi.Input[str]  # ALB access logs (the bucket admits ELB log delivery)


class PublicEntry(pulumi.ComponentResource):
    """AWS Load Balancer Controller + meshed edge proxy + ACM certificate + ALB Ingress + DNS alias."""

    def __init__(self, name: str, args: PublicEntryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:ingress:PublicEntry", name, None, opts)
        cfg = args.config
        assert cfg.ingress_domain is not None, "config rule `ingress` guarantees a domain"
        self.controller = AlbController(f"{name}-alb-controller", AlbControllerArgs(
            cluster=args.cluster, namespace=args.mesh.namespaces.name_of(alb_controller_values.NAMESPACE),
            cluster_name=cfg.cluster_name, region=cfg.region, vpc_id=args.network.vpc_id, ha=cfg.is_ha,
            tags={**cfg.tags, "managed-by": "aws-load-balancer-controller"},  # the ALB is the controller's
            cert_manager=args.mesh.cert_manager.release, depends_on=args.cluster.nodes_ready,
        ), pulumi.ResourceOptions(parent=self))
        routes = edge_specs.routes(cfg.services)
        backends = [args.app.services[r.name].service for r in routes]
        # The edge's Server follows the app namespace's rollout mode like every other Server there
        # (policy_mode_specs.py).
        meshed = pulumi.ResourceOptions(parent=self, depends_on=[args.mesh.linkerd.control_plane, *backends],
                                        transformations=[policy_mode_specs.server_access_policy(cfg.policy_mode)])
        namespace = args.mesh.namespaces.name_of(cfg.app_namespace_name)
        self.proxy_service = self._proxy(name, cfg, namespace, routes, meshed)
        certificate_arn = self._certificate(name, cfg)
        self.ingress = self._ingress(name, cfg, namespace, routes, certificate_arn, args.access_log_bucket)
        self.hostname = self.ingress.status.apply(_hostname)
        if cfg.ingress_hosted_zone_id is not None:
            aws.route53.Record(
                f"{name}-alias", zone_id=cfg.ingress_hosted_zone_id, name=cfg.ingress_domain, type="A",
                aliases=[{"name": self.hostname, "evaluate_target_health": True,
                          "zone_id": aws.lb.get_hosted_zone_id_output(
                              load_balancer_type="application",
                              opts=pulumi.InvokeOptions(parent=self)).id}],
                opts=pulumi.ResourceOptions(parent=self))
        self.url = f"https://{cfg.ingress_domain}"
        self.certificate_arn = certificate_arn
        self.register_outputs({"url": self.url, "alb_hostname": self.hostname, "certificate_arn": certificate_arn})

    def _proxy(self, name: str, cfg: StackConfig, namespace: pulumi.Input[str], routes: list[edge_specs.Route],
               opts: pulumi.ResourceOptions) -> k8s.core.v1.Service:
        """The edge proxy's identity, config, workload, scaling and zero-trust policy in the app namespace."""
        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgsDict:
            return {"name": object_name, "namespace": namespace, "labels": edge_specs.labels()}

        conf = edge_specs.nginx_conf(routes, cfg.app_namespace_name)
        account = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta(NAME), automount_service_account_token=False,
                                             opts=opts)
        config = k8s.core.v1.ConfigMap(f"{name}-nginx", metadata=meta(f"{NAME}-nginx"),
                                       data={edge_specs.CONFIG_KEY: conf}, opts=opts)
        spec = edge_specs.deployment(versions.INGRESS_PROXY_IMAGE, f"{NAME}-nginx",
                                        edge_specs.config_hash(conf), cfg.is_ha)
        k8s.apps.v1.Deployment(f"{name}-deployment", metadata=meta(NAME),
                               spec=cast(k8s.apps.v1.DeploymentSpecArgsDict, spec),
                               opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                                   depends_on=[account, config])))
        service = k8s.core.v1.Service(f"{name}-service", metadata=meta(NAME),
                                      spec=cast(k8s.core.v1.ServiceSpecArgsDict, edge_specs.service_spec()),
                                      opts=opts)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa", metadata=meta(NAME),
            spec=cast(k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgsDict, edge_specs.hpa(NAME, cfg.is_ha)),
            opts=opts)
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb", metadata=meta(NAME),
            spec=cast(k8s.policy.v1.PodDisruptionBudgetSpecArgsDict, edge_specs.pdb()), opts=opts)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol", metadata=meta(NAME),
            spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict,
                      edge_specs.network_policy(cfg.public_subnet_cidrs, routes, cfg.progressive_services)), opts=opts)
        server = f"{NAME}-{edge_specs.PORT_NAME}"
        custom_resource(f"{name}-server", "Server", app_specs.SERVER_VERSION, meta(server),
                        edge_specs.server(), opts)
        custom_resource(f"{name}-alb-authn", "NetworkAuthentication", app_specs.AUTH_VERSION, meta(f"{NAME}-alb"),
                        edge_specs.alb_network_authentication(cfg.public_subnet_cidrs), opts)
        custom_resource(f"{name}-alb-authz", "AuthorizationPolicy", app_specs.AUTH_VERSION, meta(f"{server}-alb"),
                        app_specs.authorization_policy(server, f"{NAME}-alb", "NetworkAuthentication"), opts)
        return service

    def _certificate(self, name: str, cfg: StackConfig) -> pulumi.Output[str]:
        """An existing certificate from config, or a new ACM certificate validated by DNS in the stack's zone."""
        if cfg.ingress_certificate_arn is not None:
            return pulumi.Output.from_input(cfg.ingress_certificate_arn)
        assert cfg.ingress_hosted_zone_id is not None, "config rule `ingress` guarantees a zone or a certificate"
        child = pulumi.ResourceOptions(parent=self)
        # Ref: https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html (one CNAME per domain name;
        # it stays in place so ACM renews the certificate by itself).
        certificate = aws.acm.Certificate(f"{name}-certificate", domain_name=cfg.ingress_domain,
                                          validation_method="DNS", key_algorithm="RSA_2048",
                                          opts=pulumi.ResourceOptions(parent=self, protect=cfg.protect_resources))
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-certificate-validation", zone_id=cfg.ingress_hosted_zone_id,
            name=option.resource_record_name.apply(str), type=option.resource_record_type.apply(str),
            records=[option.resource_record_value.apply(str)], ttl=300, allow_overwrite=True, opts=child)
        validation = aws.acm.CertificateValidation(f"{name}-certificate", certificate_arn=certificate.arn,
                                                   validation_record_fqdns=[record.fqdn], opts=child)
        return validation.certificate_arn

    def _ingress(self, name: str, cfg: StackConfig, namespace: pulumi.Input[str], routes: list[edge_specs.Route],
                 certificate_arn: pulumi.Output[str], log_bucket: pulumi.Input[str]) -> k8s.networking.v1.Ingress:
        assert cfg.ingress_domain is not None
        alb = edge_specs.AlbSettings(
            domain=cfg.ingress_domain, allowed_cidrs=cfg.ingress_allowed_cidrs,
            deletion_protection=cfg.protect_resources)
        annotations = pulumi.Output.all(log_bucket, certificate_arn).apply(
            lambda v: edge_specs.ingress_annotations(alb, str(v[0]), str(v[1])))
        return k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata={"name": NAME, "namespace": namespace, "labels": edge_specs.labels(),
                      "annotations": annotations},
            spec=cast(k8s.networking.v1.IngressSpecArgsDict, edge_specs.ingress_spec(cfg.ingress_domain, routes)),
            # The IngressClass `alb` and the controller's validating webhook come with its release.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.controller.release]))


def _hostname(status: Any) -> str:
    """The ALB's DNS name from the Ingress status (pulumi-kubernetes waits until the controller has written it)."""
    ingress = status.load_balancer.ingress if status is not None and status.load_balancer is not None else None
    if not ingress or not ingress[0].hostname:
        return ""  # unknown until the controller reports the ALB (preview); `up` waits for it
    return str(ingress[0].hostname)
