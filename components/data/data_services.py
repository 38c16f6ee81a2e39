"""The data layer: RDS PostgreSQL, messaging (SQS queues or Amazon MQ ActiveMQ) and ElastiCache (Valkey), private.

Each service sits in the isolated subnets (no route out of the VPC) behind its own security group, which admits only
the EKS cluster security group (every managed node, and through the VPC CNI every pod) on the service's TLS
port(s); the groups have no egress rules, because these managed services answer connections and never open any.
Everything is encrypted at rest with the customer data key and in transit with TLS. The applications' credentials
come from Vault (README "Application secrets from Vault"): PostgreSQL logins are Vault's dynamic credentials, and the
cache admits only the per-service RBAC users of `CacheUsers` (created here in both modes), whose passwords Vault
rotates. What stays in Secrets Manager: the RDS master password (RDS manages and rotates it; break-glass) and, with
ActiveMQ, the broker password we generate.

Messaging follows `data.messaging`: `activemq` creates the broker below (and its security group); `sqs` creates no
broker but `MessageQueues` (a queue and dead-letter queue per `mq` service of the catalog, per-service IRSA roles,
`queue_specs.py`), reached over HTTPS through the AWS API rather than the isolated subnets.

Two ways to provision, chosen by `data.mode` in the stack config:

* `direct` (default): the `Postgres`, `MessageBroker` and `Cache` components create the services.
* `serviceCatalog`: the customer's way. The security groups are still ours; each service is launched as an AWS Service
  Catalog provisioned product (product and version from `data.serviceCatalogProducts`) that must honour this
  contract. Parameters, all strings as CloudFormation receives them:

  ==================== ======================= ================================================================
  Parameter            Products                Value
  ==================== ======================= ================================================================
  SubnetIds            rds, mq, cache          comma-separated isolated subnet ids (mq: exactly 1, or 2 when
                                               MultiAZ is "true")
  SecurityGroupIds     rds, mq, cache          the one security group we created for the service
  KmsKeyArn            rds, mq, cache          customer key for storage, snapshots and the credentials secret
  MultiAZ              rds, mq, cache          "true" / "false" (RDS Multi-AZ, MQ active/standby, Valkey failover)
  InstanceClass        rds, mq, cache          db.*, mq.* or cache.* instance type
  EngineVersion        rds, mq, cache          the pin from config/versions.py
  DeletionProtection   rds, mq, cache          "true" / "false": deletion protection and a final snapshot
  AllocatedStorageGb   rds                     initial gp3 storage (GiB)
  MaxAllocatedStorageGb rds                    storage autoscaling ceiling (GiB)
  BackupRetentionDays  rds                     automated backup retention (days)
  NodeCount            cache                   primary + replicas
  SnapshotRetentionDays cache                  daily snapshot retention (days)
  UserGroupId          cache                   the ElastiCache user group (our `CacheUsers`) the replication group
                                               must use instead of an AUTH token
  ==================== ======================= ================================================================

  Outputs the product must publish: `Endpoint` (rds and cache: `host:port`; mq: the OpenWire URL, `ssl://...` or
  `failover:(...)`) and, for rds and mq, `SecretArn` (the Secrets Manager secret with the service's credentials; rds:
  the RDS-managed master secret Vault is seeded from). The product's
  template is responsible for the same hardening as the direct path (TLS only, logs, no public access).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import pulumi
import pulumi_aws as aws

from components.cluster.cluster import Cluster
from components.data.cache import Cache, CacheArgs
from components.data.cache_users import CacheUsers, CacheUsersArgs
from components.data.message_broker import MessageBroker, MessageBrokerArgs, deployment_mode, subnet_count
from components.data.message_queues import MessageQueues, MessageQueuesArgs
from components.data.placement import BROKER_PORTS, CACHE_PORT, POSTGRES_PORT, Placement
from components.data.postgres import Postgres, PostgresArgs
from components.network.network import Network
from components.shared.encryption_keys import EncryptionKeys
from config.model import StackConfig
from config.versions import ACTIVEMQ_ENGINE_VERSION, POSTGRES_ENGINE_VERSION, VALKEY_ENGINE_VERSION

Service = Literal["postgres", "broker", "cache"]
SERVICES: Final[tuple[Service, ...]] = ("postgres", "broker", "cache")
# The key of each service in `data.serviceCatalogProducts`.
CATALOG_PRODUCT: Final[Mapping[Service, str]] = {"postgres": "rds", "broker": "mq", "cache": "cache"}
# Ingress per service: protocol label -> TCP port, each a rule from the cluster security group.
PORTS: Final[Mapping[Service, Mapping[str, int]]] = {
    "postgres": {"postgresql": POSTGRES_PORT},
    "broker": BROKER_PORTS,
    "cache": {"valkey": CACHE_PORT},
}
ENDPOINT_OUTPUT: Final = "Endpoint"
SECRET_OUTPUT: Final = "SecretArn"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def catalog_parameters(
    service: Service,
    cfg: StackConfig,
    subnet_ids: pulumi.Input[str],
    security_group_id: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str],
    cache_user_group_id: pulumi.Input[str] = "",
) -> list[aws.servicecatalog.ProvisionedProductProvisioningParameterArgsDict]:
    """The provisioning parameters of the contract in the module docstring, sorted by key."""
    common: dict[str, pulumi.Input[str]] = {
        "SubnetIds": subnet_ids,
        "SecurityGroupIds": security_group_id,
        "KmsKeyArn": kms_key_arn,
        "DeletionProtection": _flag(cfg.protect_resources),
    }
    specific: dict[Service, dict[str, pulumi.Input[str]]] = {
        "postgres": {
            "EngineVersion": POSTGRES_ENGINE_VERSION,
            "InstanceClass": cfg.rds_instance_class,
            "MultiAZ": _flag(cfg.rds_multi_az),
            "AllocatedStorageGb": str(cfg.rds_allocated_storage_gb),
            "MaxAllocatedStorageGb": str(cfg.rds_max_allocated_storage_gb),
            "BackupRetentionDays": str(cfg.rds_backup_retention_days),
        },
        "broker": {
            "EngineVersion": ACTIVEMQ_ENGINE_VERSION,
            "InstanceClass": cfg.mq_instance_type,
            "MultiAZ": _flag(cfg.mq_multi_az),
        },
        "cache": {
            "EngineVersion": VALKEY_ENGINE_VERSION,
            "InstanceClass": cfg.cache_node_type,
            "MultiAZ": _flag(cfg.cache_multi_az),
            "NodeCount": str(cfg.cache_nodes),
            "SnapshotRetentionDays": str(cfg.cache_snapshot_retention_days),
            "UserGroupId": cache_user_group_id,
        },
    }
    merged = {**common, **specific[service]}
    return [{"key": key, "value": merged[key]} for key in sorted(merged)]


def catalog_output(outputs: Sequence[aws.servicecatalog.outputs.ProvisionedProductOutput], key: str,
                   product: str) -> str:
    """One output of a provisioned product; a product that breaks the contract fails the deployment by name."""
    for output in outputs:
        if output.key == key and output.value:
            return output.value
    published = sorted(o.key for o in outputs if o.key)
    raise ValueError(f"Service Catalog product {product!r} publishes no {key!r} output (it has {published}); "
                     f"see the contract in components/data/data_services.py")


@dataclass(frozen=True)
class DataServicesArgs:
    network: Network  # vpc_id and the isolated subnets
    cluster: Cluster  # security_group_id: the only source admitted; aws_context: account, region, partition
    keys: EncryptionKeys  # keys.data encrypts the services and their secrets; keys.logs the log groups
    config: StackConfig  # sizes, Multi-AZ, protection, data_services_mode and the catalog products


class DataServices(pulumi.ComponentResource):
    """PostgreSQL, ActiveMQ and Valkey for the applications, created directly or through Service Catalog.

    Outputs per service: `<service>_endpoint` (PostgreSQL and Valkey `host:port`, the broker its OpenWire URL) and
    `postgres_secret_arn` / `broker_secret_arn` (the RDS-managed master user secret, Vault's seed; `{"username",
    "password"}` for the broker). The cache has no secret: `cache_users` holds its per-service users, whose ARNs
    Vault's IRSA role may modify. `security_group_ids` maps each service to its security group. In `serviceCatalog`
    mode the products receive the parameters and must publish the outputs documented in this module's docstring.
    """

    postgres_endpoint: pulumi.Output[str]
    broker_endpoint: pulumi.Output[str] | None  # None with SQS messaging (no broker)
    cache_endpoint: pulumi.Output[str]
    postgres_secret_arn: pulumi.Output[str]
    broker_secret_arn: pulumi.Output[str] | None
    cache_users: CacheUsers
    security_group_ids: dict[str, pulumi.Output[str]]
    # SQS messaging: per `mq` service, the IRSA role its ServiceAccount is annotated with, and its queue URL.
    queue_role_arns: dict[str, pulumi.Output[str]]
    queue_urls: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: DataServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:data:DataServices", name, None, opts)
        cfg = args.config
        services: tuple[Service, ...] = SERVICES if cfg.messaging == "activemq" else ("postgres", "cache")
        groups = {service: self._security_group(name, service, args) for service in services}
        self.security_group_ids = {service: group.id for service, group in groups.items()}
        isolated = args.network.isolated_subnet_ids

        # Account-level ElastiCache objects, outside any product: the same users whichever way the cache is made.
        # manifests.mode replace: the catalog's services are not created, so only the switched-off default user.
        catalog = () if cfg.manifests_mode == "replace" else cfg.services
        self.cache_users = CacheUsers(f"{name}-cache-users", CacheUsersArgs(
            cfg.name_prefix, tuple(s.name for s in catalog if CATALOG_PRODUCT["cache"] in s.data_services)),
            pulumi.ResourceOptions(parent=self))

        endpoints: dict[Service, pulumi.Output[str]] = {}
        secrets: dict[Service, pulumi.Output[str]] = {}
        if cfg.data_services_mode == "serviceCatalog":
            broker_subnets = subnet_count(deployment_mode(cfg.mq_multi_az))
            for service in services:
                subnets = isolated.apply(lambda ids: ids[:broker_subnets]) if service == "broker" else isolated
                endpoint, secret = self._catalog_product(
                    name, service, cfg, subnets, self.security_group_ids[service], args.keys.data.arn,
                    self.cache_users.group_id)
                endpoints[service] = endpoint
                if secret is not None:
                    secrets[service] = secret
        else:
            def placement(service: Service) -> Placement:
                return Placement(isolated, self.security_group_ids[service], args.keys.data.arn, args.keys.logs.arn)

            child = pulumi.ResourceOptions(parent=self)
            ctx = args.cluster.aws_context
            prefix, protect = cfg.name_prefix, cfg.protect_resources
            postgres = Postgres(f"{name}-postgres", PostgresArgs(
                placement("postgres"), ctx, prefix, cfg.rds_instance_class, cfg.rds_allocated_storage_gb,
                cfg.rds_max_allocated_storage_gb, cfg.rds_multi_az, cfg.rds_backup_retention_days,
                cfg.log_retention_days, protect), child)
            if "broker" in services:
                broker = MessageBroker(f"{name}-broker", MessageBrokerArgs(
                    placement("broker"), ctx, prefix, cfg.mq_instance_type, cfg.mq_multi_az, protect), child)
                endpoints["broker"], secrets["broker"] = broker.endpoint, broker.secret_arn
            cache = Cache(f"{name}-cache", CacheArgs(
                placement("cache"), prefix, cfg.cache_node_type, cfg.cache_nodes, cfg.cache_multi_az,
                cfg.cache_snapshot_retention_days, cfg.log_retention_days, protect, self.cache_users.group_id), child)
            endpoints["postgres"], secrets["postgres"] = postgres.endpoint, postgres.secret_arn
            endpoints["cache"] = cache.endpoint

        self.queue_role_arns, self.queue_urls = {}, {}
        if cfg.messaging == "sqs":
            # manifests.mode replace (catalog above): no queue or role waits for services that are not created.
            queues = MessageQueues(f"{name}-queues", MessageQueuesArgs(
                args.cluster, catalog, cfg.app_namespace_name, cfg.name_prefix, args.keys.data.arn,
                cfg.protect_resources), pulumi.ResourceOptions(parent=self))
            self.queue_role_arns, self.queue_urls = queues.role_arns, queues.queue_urls

        self.postgres_endpoint, self.postgres_secret_arn = endpoints["postgres"], secrets["postgres"]
        self.broker_endpoint, self.broker_secret_arn = endpoints.get("broker"), secrets.get("broker")
        self.cache_endpoint = endpoints["cache"]
        self.register_outputs({
            **{f"{service}_endpoint": endpoints[service] for service in services},
            **{f"{service}_secret_arn": secret for service, secret in secrets.items()},
            "cache_user_group_id": self.cache_users.group_id,
            "security_group_ids": self.security_group_ids,
            "queue_urls": self.queue_urls,
        })

    def _security_group(self, name: str, service: Service, args: DataServicesArgs) -> aws.ec2.SecurityGroup:
        """The service's group: ingress only from the cluster security group on its ports, no egress at all."""
        prefix = args.config.name_prefix
        # A group created through the API without egress rules keeps none (the provider removes AWS's default
        # allow-all egress), which is what these services need: they only answer connections.
        # Ref: https://www.pulumi.com/registry/packages/aws/api-docs/ec2/securitygroup/
        group = aws.ec2.SecurityGroup(
            f"{name}-{service}",
            vpc_id=args.network.vpc_id,
            description=f"{prefix} {service}: from EKS nodes and pods only",
            tags={"Name": f"{prefix}-{service}"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        for protocol, port in PORTS[service].items():
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{service}-{protocol}",
                security_group_id=group.id,
                referenced_security_group_id=args.cluster.security_group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"{protocol} (TLS) from the EKS cluster security group (nodes and pods)",
                opts=pulumi.ResourceOptions(parent=group),
            )
        return group

    def _catalog_product(
        self,
        name: str,
        service: Service,
        cfg: StackConfig,
        subnet_ids: pulumi.Output[list[str]],
        security_group_id: pulumi.Output[str],
        kms_key_arn: pulumi.Output[str],
        cache_user_group_id: pulumi.Output[str],
    ) -> tuple[pulumi.Output[str], pulumi.Output[str] | None]:
        """Launch one service as a provisioned product; return its Endpoint and (rds, mq) SecretArn outputs."""
        label = CATALOG_PRODUCT[service]
        product = cfg.service_catalog_products[label]
        protect = cfg.protect_resources
        provisioned = aws.servicecatalog.ProvisionedProduct(
            f"{name}-{service}",
            name=f"{cfg.name_prefix}-{service}",  # what people find in the Service Catalog console
            product_id=product.product_id,
            provisioning_artifact_id=product.provisioning_artifact_id,
            provisioning_parameters=catalog_parameters(service, cfg, subnet_ids.apply(",".join), security_group_id,
                                                       kms_key_arn, cache_user_group_id),
            # Deleting a protected stack's product must not take the database, broker or cache with it.
            retain_physical_resources=protect,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        outputs = provisioned.outputs
        endpoint = outputs.apply(lambda out: catalog_output(out, ENDPOINT_OUTPUT, label))
        if service == "cache":  # its users are ours (CacheUsers); a SecretArn it may still publish is not used
            return endpoint, None
        return endpoint, outputs.apply(lambda out: catalog_output(out, SECRET_OUTPUT, label))
