"""The application layer: the catalog's services in the meshed app namespace, and the ECR repositories their
images come from.

Created after the Linkerd control plane (the proxy injector must be up before the first pod, or pods start
unmeshed; the policy CRDs must exist before any Server). ECR repositories exist for every service whose image has
no explicit repository — none in the sandbox, whose default catalog runs the public `buoyantio/bb` test image.
Per-service objects are in `AppService`; the namespace-wide Prometheus scrape authorization is here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.app import app_specs, route_specs, vault_agent_specs
from components.app.app_service import AppService, AppServiceArgs, custom_resource
from components.app.progressive_delivery import ProgressiveDelivery, ProgressiveDeliveryArgs
from components.app.progressive_specs import CanaryAnalysis
from components.mesh import policy_mode_specs
from components.mesh.mesh import Mesh
from components.shared.encryption_keys import EncryptionKeys
from components.vault.bootstrap import app_secrets
from config.catalog import Catalog, Service, image_suffix
from config.model import StackConfig
from config.names import MONITORING_NAMESPACE, PROMETHEUS_URL

KEEP_IMAGES: Final = 30  # releases kept per repository; tags are immutable, so each release is a new image
UNTAGGED_DAYS: Final = 7


@dataclass(frozen=True)
class ApplicationArgs:
    config: StackConfig  # the catalog, namespace, subnets and protection flag
    mesh: Mesh  # the app namespace and the Linkerd control plane to wait for
    keys: EncryptionKeys  # ECR encryption (the data key)
    # data.messaging sqs: service -> IRSA role of its queue access (DataServices.queue_role_arns); empty otherwise.
    queue_role_arns: Mapping[str, pulumi.Output[str]] = dataclasses.field(default_factory=dict)


def lifecycle_policy(keep: int = KEEP_IMAGES, untagged_days: int = UNTAGGED_DAYS) -> str:
    """Expire untagged layers after a week and keep the newest `keep` images.
    Ref: https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html"""
    return json.dumps({"rules": [
        {"rulePriority": 1, "description": f"untagged images after {untagged_days} days",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": untagged_days}, "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"keep the newest {keep} images",
         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
         "action": {"type": "expire"}},
    ]})


def needs_repository(service: Service) -> bool:
    return service.image.repository is None


def repository_name(prefix: str, service: Service) -> str:
    return f"{prefix}/{service.name}"


class Application(pulumi.ComponentResource):
    """ECR repositories + one `AppService` per catalog service + the proxy-admin scrape policy."""

    def __init__(self, name: str, args: ApplicationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:app:Application", name, None, opts)
        cfg = args.config
        catalog: Catalog = cfg.services
        # Every Linkerd Server below (catalog and scrape policy) follows the rollout mode
        # (components/mesh/policy_mode_specs.py).
        child = pulumi.ResourceOptions(
            parent=self, transformations=[policy_mode_specs.server_access_policy(cfg.policy_mode)])
        self.repositories: dict[str, aws.ecr.Repository] = {}
        for svc in catalog:
            if needs_repository(svc):
                self.repositories[svc.name] = self._repository(f"{name}-{svc.name}", svc, args)
        namespace = args.mesh.namespaces.name_of(cfg.app_namespace_name)
        control_plane = args.mesh.linkerd.control_plane
        meshed = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[control_plane]))
        self._scrape_policy(name, namespace, cfg, meshed)
        progressive = cfg.progressive_services
        self.delivery: ProgressiveDelivery | None = None
        analysis: CanaryAnalysis | None = None
        if progressive:
            self.delivery = ProgressiveDelivery(f"{name}-delivery", ProgressiveDeliveryArgs(
                monitoring_namespace=args.mesh.namespaces.name_of(MONITORING_NAMESPACE), app_namespace=namespace,
                prometheus_url=PROMETHEUS_URL, cluster_name=cfg.cluster_name, ha=cfg.is_ha,
                slack_webhook_url=cfg.slack_webhook_url, slack_channel=cfg.slack_channel,
                depends_on=(control_plane,)), pulumi.ResourceOptions(parent=self))
            analysis = CanaryAnalysis(
                step_weight=cfg.canary_step_weight, max_weight=cfg.canary_max_weight, interval=cfg.canary_interval,
                failed_checks=cfg.canary_failed_checks, min_success_rate=cfg.canary_min_success_rate,
                max_latency_ms=cfg.canary_max_latency_ms, slack=cfg.slack_webhook_url is not None)
        self.services: dict[str, AppService] = {}
        self.vault_clients = frozenset(args.mesh.vault_app_clients)
        audience = app_secrets.audience_for(cfg.name_prefix)
        if self.vault_clients:
            # Vault's CA (a public certificate) for the agents' TLS to Vault, mounted by `tls-secret`.
            k8s.core.v1.Secret(f"{name}-vault-ca", metadata={"name": vault_agent_specs.VAULT_CA_SECRET,
                                                              "namespace": namespace},
                               string_data={"ca.crt": args.mesh.vault.ca_pem}, opts=child)
        for svc in catalog:
            svc = route_specs.with_canary(svc, dict(cfg.canaries))
            repo = self.repositories.get(svc.name)
            image: pulumi.Input[str] = (pulumi.Output.concat(repo.repository_url, image_suffix(svc.image))
                                        if repo is not None else str(svc.image_ref))
            canary_image: pulumi.Input[str] | None = None
            if svc.canary is not None:  # the same repository, the canary's tag or digest
                canary_image = (pulumi.Output.concat(repo.repository_url, svc.canary.suffix) if repo is not None
                                else f"{svc.image.repository}{svc.canary.suffix}")
            self.services[svc.name] = AppService(f"{name}-{svc.name}", AppServiceArgs(
                service=svc, catalog=catalog, namespace=namespace, image=image,
                data_cidrs=cfg.isolated_subnet_cidrs, ha=cfg.is_ha, depends_on=(control_plane,),
                canary_image=canary_image,
                requests_per_pod=cfg.requests_per_pod if cfg.monitoring_enabled else None,
                progressive=progressive, analysis=analysis if svc.name in progressive else None,
                namespace_name=cfg.app_namespace_name,
                delivery=tuple(self.delivery.ready) if self.delivery else (),
                vault_client=svc.name in self.vault_clients, role_arn=args.queue_role_arns.get(svc.name),
                # One agent template per credential Vault issues the service (mesh.vault_app_clients).
                vault_agent=vault_agent_specs.injector_annotations(
                    vault_agent_specs.Paths(), app_secrets.AppService(
                        svc.name, cfg.app_namespace_name,
                        tuple(d for d in svc.data_services if d in app_secrets.DELIVERED)),
                    vault_agent_specs.VAULT_CA_PATH)
                if svc.name in self.vault_clients else None, vault_audience=audience,
                sqs=cfg.messaging == "sqs", spot_ok=cfg.spot_for_all_services), child)
        self.repository_urls = {n: r.repository_url for n, r in self.repositories.items()}
        self.register_outputs({"repository_urls": self.repository_urls})

    def _repository(self, name: str, svc: Service, args: ApplicationArgs) -> aws.ecr.Repository:
        opts = pulumi.ResourceOptions(parent=self, protect=args.config.protect_resources)
        repo = aws.ecr.Repository(
            name, name=repository_name(args.config.name_prefix, svc), image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.keys.data.arn}],
            opts=opts)
        aws.ecr.LifecyclePolicy(f"{name}-lifecycle", repository=repo.name, policy=lifecycle_policy(),
                                opts=pulumi.ResourceOptions(parent=repo))
        return repo

    def _scrape_policy(self, name: str, namespace: pulumi.Input[str], cfg: StackConfig,
                       opts: pulumi.ResourceOptions) -> None:
        """Prometheus (unmeshed, in `monitoring`) may scrape every proxy's admin port; nothing else may."""
        def meta(object_name: str) -> k8s.meta.v1.ObjectMetaArgsDict:
            return {"name": object_name, "namespace": namespace}

        custom_resource(f"{name}-proxy-admin-server", "Server", app_specs.SERVER_VERSION, meta("proxy-admin"),
                        app_specs.proxy_admin_server(), opts)
        custom_resource(f"{name}-prometheus-authn", "NetworkAuthentication", app_specs.AUTH_VERSION,
                        meta("prometheus-scrape"),
                        app_specs.scrape_network_authentication(list(cfg.private_subnet_cidrs)), opts)
        custom_resource(f"{name}-proxy-admin-authz", "AuthorizationPolicy", app_specs.AUTH_VERSION,
                        meta("proxy-admin-prometheus"),
                        app_specs.authorization_policy("proxy-admin", "prometheus-scrape", "NetworkAuthentication"),
                        opts)
