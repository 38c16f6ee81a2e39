"""The cost view's pricers: how each registered resource type turns into monthly line items.

`PRICERS` maps a Pulumi type to its pricer, the function that charges it into a `PricingContext` (EC2 node groups,
the EKS control plane and its support tier, RDS, Amazon MQ, ElastiCache and their Service Catalog form, NAT, public
IPv4, load balancers, VPC endpoints, KMS, Secrets Manager, CloudWatch, EBS, S3, and the Vault chart's volumes);
`FREE_PREFIXES` lists what has no charge of its own. `price_stack_wide` adds what no single registration carries:
NAT data, log groups AWS creates itself, log storage at steady state, and one ALB per ingress group. Every price
comes from the table by key, so a pricer never holds a number of its own beyond the usage assumptions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from tools.cost.cost_model import PricingContext
from tools.engine.mock_engine import Plan, Registration
from tools.engine.plan_facts import catalog_params, dig, helm_chart, is_k8s_kind, k8s_name, k8s_quantity_gib

DEFAULT_ROOT_DISK_GB: Final = 20  # EKS managed node group default when neither diskSize nor a launch template says


def _node_group(r: Registration, c: PricingContext) -> None:
    i = r.inputs
    desired = float(dig(i, "scalingConfig.desiredSize", 1) or 0)
    types = list(i.get("instanceTypes") or ["t3.medium"])  # t3.medium: the EKS API default
    spot = i.get("capacityType") == "SPOT"
    if spot:
        c.charge("compute", f"EC2 {types[0]} spot x {desired:g} ({r.name})", r.name, c.hours(desired), "h",
                 f"ec2.{types[0]}", factor=1 - c.assume.spot_discount,
                 note=f"spot assumed {c.assume.spot_discount:.0%} below on-demand {types[0]}"
                      + (f" (pool: {', '.join(types)})" if len(types) > 1 else ""))
    else:
        c.charge("compute", f"EC2 {types[0]} on-demand x {desired:g} ({r.name})", r.name, c.hours(desired), "h",
                 f"ec2.{types[0]}")
    disk = i.get("diskSize") or _launch_template_disk(r, c.plan) or DEFAULT_ROOT_DISK_GB
    c.charge("storage", f"EBS gp3 node root volumes {desired:g} x {float(disk):g} GB ({r.name})", r.name,
             desired * float(disk), "GB-mo", "ebs.gp3.gb")


def _ec2_instance(r: Registration, c: PricingContext) -> None:
    """A stand-alone instance (the NAT instance): on-demand hours and its gp3 root volume."""
    kind = r.inputs.get("instanceType") or "t3.micro"
    c.charge("compute", f"EC2 {kind} instance ({r.name})", r.name, c.hours(1), "h", f"ec2.{kind}")
    size = float(dig(r.inputs, "rootBlockDevice.volumeSize", 8) or 8)  # 8 GiB: the Amazon Linux AMI's root
    c.charge("storage", f"EBS gp3 instance root volume {size:g} GB ({r.name})", r.name, size, "GB-mo", "ebs.gp3.gb")


def _launch_template_disk(r: Registration, plan: Plan) -> float | None:
    for urn in r.dependencies:
        dep = plan.by_urn(urn)
        if dep is not None and dep.type == "aws:ec2/launchTemplate:LaunchTemplate":
            for mapping in dep.inputs.get("blockDeviceMappings") or []:
                size = dig(mapping, "ebs.volumeSize")
                if size:
                    return float(size)
    return None


def _eks_cluster(r: Registration, c: PricingContext) -> None:
    support = dig(r.inputs, "upgradePolicy.supportType")
    if support == "STANDARD":
        c.charge("kubernetes", "EKS control plane, standard support", r.name, c.hours(1), "h", "eks.standard")
    else:
        c.charge("kubernetes", "EKS control plane, EXTENDED support", r.name, c.hours(1), "h", "eks.extended",
                 note=f"upgradePolicy.supportType is {support or 'unset'}: AWS bills extended support")
    if r.type == "eks:index:Cluster" and not r.inputs.get("skipDefaultNodeGroup"):
        count = float(r.inputs.get("desiredCapacity") or 2)
        kind = str(r.inputs.get("instanceType") or "t2.medium")
        c.charge("compute", f"EC2 {kind} x {count:g} (pulumi-eks default node group)", r.name, c.hours(count), "h",
                 f"ec2.{kind}", note="skipDefaultNodeGroup is not set")


def _rds(r: Registration, c: PricingContext, *, klass: str, multi_az: bool, storage_gb: float,
         managed_secret: bool) -> None:
    mode = "Multi-AZ" if multi_az else "single-AZ"
    c.charge("data", f"RDS PostgreSQL {klass} {mode}", r.name, c.hours(2 if multi_az else 1), "instance-h",
             f"rds.{klass}", note="Multi-AZ = 2 instances" if multi_az else "")
    c.charge("data", f"RDS gp3 storage {storage_gb:g} GB {mode}", r.name, storage_gb, "GB-mo",
             "rds.gp3.multi_az" if multi_az else "rds.gp3.single_az")
    if managed_secret:
        c.charge("security", "Secrets Manager secret", f"{r.name} (RDS-managed master secret)", 1, "secret-mo",
                 "secretsmanager.secret")


def _rds_instance(r: Registration, c: PricingContext) -> None:
    i = r.inputs
    _rds(r, c, klass=str(i.get("instanceClass")), multi_az=bool(i.get("multiAz")),
         storage_gb=float(i.get("allocatedStorage") or 20), managed_secret=bool(i.get("manageMasterUserPassword")))


_MQ_INSTANCES: Final = {"SINGLE_INSTANCE": 1, "ACTIVE_STANDBY_MULTI_AZ": 2, "CLUSTER_MULTI_AZ": 3}
_MQ_MODE_LABEL: Final = {"SINGLE_INSTANCE": "single instance", "ACTIVE_STANDBY_MULTI_AZ": "active/standby Multi-AZ",
                         "CLUSTER_MULTI_AZ": "3-node cluster"}


def _mq(r: Registration, c: PricingContext, *, kind: str, mode: str, engine: str, storage: str | None) -> None:
    n = _MQ_INSTANCES.get(mode, 1)
    c.charge("data", f"Amazon MQ {engine} {kind} {_MQ_MODE_LABEL.get(mode, mode)}", r.name, c.hours(n),
             "instance-h", f"mq.{kind}", note=f"{n} broker instances" if n > 1 else "")
    store = "ebs" if engine.lower() == "rabbitmq" else (storage or "efs").lower()
    c.charge("data", f"Amazon MQ storage ({store.upper()})", r.name, c.assume.mq_storage_gb, "GB-mo",
             f"mq.storage.{store}", note=f"assumed {c.assume.mq_storage_gb:g} GB at rest")


def _mq_broker(r: Registration, c: PricingContext) -> None:
    i = r.inputs
    _mq(r, c, kind=str(i.get("hostInstanceType")), mode=str(i.get("deploymentMode") or "SINGLE_INSTANCE"),
        engine=str(i.get("engineType") or "ActiveMQ"), storage=i.get("storageType"))


def _cache(r: Registration, c: PricingContext, *, node_type: str, nodes: float, engine: str) -> None:
    keys = [f"elasticache.{node_type}"] + (["elasticache.valkey_factor"] if engine == "valkey" else [])
    c.charge("data", f"ElastiCache {engine} {node_type} x {nodes:g}", r.name, c.hours(nodes), "node-h", *keys,
             note="Valkey priced at 0.8 x Redis OSS" if engine == "valkey" else "")


def _replication_group(r: Registration, c: PricingContext) -> None:
    i = r.inputs
    nodes = i.get("numCacheClusters") or (i.get("numNodeGroups") or 1) * ((i.get("replicasPerNodeGroup") or 0) + 1)
    _cache(r, c, node_type=str(i.get("nodeType")), nodes=float(nodes), engine=str(i.get("engine") or "redis"))


def _cache_cluster(r: Registration, c: PricingContext) -> None:
    i = r.inputs
    _cache(r, c, node_type=str(i.get("nodeType")), nodes=float(i.get("numCacheNodes") or 1),
           engine=str(i.get("engine") or "redis"))


def _catalog_product(r: Registration, c: PricingContext) -> None:
    """Service Catalog mode: the same services, described by the provisioning parameters of our contract."""
    p = catalog_params(r)
    klass, multi = p.get("InstanceClass", ""), p.get("MultiAZ") == "true"
    if klass.startswith("db."):
        _rds(r, c, klass=klass, multi_az=multi, storage_gb=float(p.get("AllocatedStorageGb") or 20),
             managed_secret=True)
    elif klass.startswith("mq."):
        _mq(r, c, kind=klass, mode="ACTIVE_STANDBY_MULTI_AZ" if multi else "SINGLE_INSTANCE", engine="ActiveMQ",
            storage=None)
        c.charge("security", "Secrets Manager secret", f"{r.name} (product's credentials)", 1, "secret-mo",
                 "secretsmanager.secret")
    elif klass.startswith("cache."):
        _cache(r, c, node_type=klass, nodes=float(p.get("NodeCount") or 1), engine="valkey")
        c.charge("security", "Secrets Manager secret", f"{r.name} (product's credentials)", 1, "secret-mo",
                 "secretsmanager.secret")


def _sqs_queue(r: Registration, c: PricingContext) -> None:
    """A consumed queue: sends, long-poll receives and deletes at the assumed rate; a dead-letter queue (no redrive
    policy of its own, nobody polls it) costs nothing while empty."""
    if not r.inputs.get("redrivePolicy"):
        return
    m = c.assume.sqs_requests_millions_per_queue
    c.charge("data", "SQS standard queue requests", r.name, m, "M requests", "sqs.requests_1m",
             note=f"assumed {m:g} M requests/month per queue (20 s long polling, two pollers); the account's free "
                  "first million is not subtracted")


def _public_ips(c: PricingContext, what: str, resource: str, count: float) -> None:
    c.charge("network", "public IPv4 address", f"{resource} ({what})", c.hours(count), "address-h", "ipv4.hour")


def _load_balancer(c: PricingContext, resource: str, kind: str, internet_facing: bool, zones: int) -> None:
    c.charge("network", f"{kind.upper()} load balancer", resource, c.hours(1), "h", f"{kind}.hour")
    c.charge("network", f"{kind.upper()} capacity units", resource, c.hours(c.assume.lb_lcu), "LCU-h", f"{kind}.lcu",
             note=f"assumed {c.assume.lb_lcu:g} LCU average")
    if internet_facing:
        _public_ips(c, f"{kind.upper()}, one per AZ", resource, zones)


def _aws_load_balancer(r: Registration, c: PricingContext) -> None:
    i = r.inputs
    kind = "nlb" if i.get("loadBalancerType") == "network" else "alb"
    zones = len(i.get("subnets") or i.get("subnetMappings") or []) or _public_zone_count(c.plan)
    _load_balancer(c, r.name, kind, not i.get("internal"), zones)


def _public_zone_count(plan: Plan) -> int:
    """AZs an internet-facing load balancer spans: the public subnets (at least 2, as ALB requires)."""
    public = [s for s in plan.of_type("aws:ec2/subnet:Subnet") if dig(s.inputs, "tags.tier") == "public"]
    return max(2, len(public))


def _vpc_endpoint(r: Registration, c: PricingContext) -> None:
    if r.inputs.get("vpcEndpointType") == "Interface":
        zones = len(r.inputs.get("subnetIds") or []) or 1
        c.charge("network", f"VPC interface endpoint {r.inputs.get('serviceName')} x {zones} AZ", r.name,
                 c.hours(zones), "AZ-h", "vpce.interface_az_hour")


def _log_group(r: Registration, c: PricingContext) -> None:
    name = str(r.inputs.get("name") or r.name)
    a = c.assume
    if name.startswith("/aws/eks/"):
        gb, what = a.eks_control_plane_logs_gb, "EKS control plane"
    elif name.startswith("/aws/vpc/") or _is_flow_log_target(r, c.plan):
        gb, what = a.flow_logs_gb, "VPC flow logs"
    elif name.startswith("/aws/containerinsights/") and name.endswith("/application"):
        gb, what = a.container_application_logs_gb, "container logs"
    elif name.startswith("/aws/containerinsights/") and name.endswith("/performance"):
        gb, what = a.container_performance_logs_gb, "Container Insights performance events"
    else:
        gb, what = a.other_log_group_gb, "other log groups"
    _logs(c, what, r.name, gb, r.inputs.get("retentionInDays"))


def _is_flow_log_target(r: Registration, plan: Plan) -> bool:
    arn = str(r.outputs.get("arn", ""))
    return any(f.inputs.get("logDestination") == arn for f in plan.of_type("aws:ec2/flowLog:FlowLog"))


def _logs(c: PricingContext, what: str, resource: str, gb: float, retention_days: Any) -> None:
    months = float(retention_days) / (365 / 12) if retention_days else c.assume.no_retention_months
    c.charge("observability", f"CloudWatch Logs ingestion: {what}", resource, gb, "GB", "logs.ingest_gb",
             note=f"assumed {gb:g} GB/month each")
    c.log_storage[resource] = gb * months


def _service_logs(c: PricingContext) -> None:
    """Log groups AWS creates itself (not in the plan): RDS enhanced monitoring, Amazon MQ general/audit."""
    for r in c.plan.of_type("aws:rds/instance:Instance"):
        if r.inputs.get("monitoringInterval"):
            _logs(c, "AWS-created (RDSOSMetrics, MQ)", f"{r.name} enhanced monitoring",
                  c.assume.service_log_group_gb, None)
    for r in c.plan.of_type("aws:mq/broker:Broker"):
        if any((r.inputs.get("logs") or {}).values()):
            _logs(c, "AWS-created (RDSOSMetrics, MQ)", f"{r.name} broker logs", c.assume.service_log_group_gb, None)


def _helm_release(r: Registration, c: PricingContext) -> None:
    if helm_chart(r) == "kube-prometheus-stack":
        _prometheus_volumes(r, c)
    if helm_chart(r) != "vault":
        return  # other charts run on the node groups: no charge of their own
    server = dig(r.inputs, "values.server", {}) or {}
    replicas = float(dig(server, "ha.replicas", 3) or 3) if dig(server, "ha.enabled") else 1.0
    for volume in ("dataStorage", "auditStorage"):
        spec = server.get(volume) or {}
        enabled = spec.get("enabled", volume == "dataStorage")  # chart defaults: data on, audit off
        if enabled:
            size = k8s_quantity_gib(spec.get("size", "10Gi"))
            c.charge("storage", f"EBS {c.assume.vault_storage_class} Vault {volume} {replicas:g} x {size:g} GiB",
                     r.name, replicas * size, "GB-mo", "ebs.gp3.gb", note="PVCs from the chart's volumeClaimTemplates")


def _prometheus_volumes(r: Registration, c: PricingContext) -> None:
    """Prometheus' and Alertmanager's volumeClaimTemplates (storageSpec / storage in kube-prometheus-stack values)."""
    for component, spec_key, storage_key in (("Prometheus", "prometheus.prometheusSpec", "storageSpec"),
                                              ("Alertmanager", "alertmanager.alertmanagerSpec", "storage")):
        spec = dig(r.inputs, f"values.{spec_key}", {}) or {}
        size = k8s_quantity_gib(dig(spec, f"{storage_key}.volumeClaimTemplate.spec.resources.requests.storage", 0))
        if size:
            replicas = float(spec.get("replicas", 1) or 1)
            c.charge("storage", f"EBS gp3 {component} {replicas:g} x {size:g} GiB", r.name, replicas * size,
                     "GB-mo", "ebs.gp3.gb", note="PVCs from the operator's volumeClaimTemplates")


def _pvc(r: Registration, c: PricingContext) -> None:
    size = k8s_quantity_gib(dig(r.inputs, "spec.resources.requests.storage", 0))
    c.charge("storage", f"EBS gp3 PVC {size:g} GiB", k8s_name(r), size, "GB-mo", "ebs.gp3.gb")


def _stateful_set(r: Registration, c: PricingContext) -> None:
    replicas = float(dig(r.inputs, "spec.replicas", 1) or 1)
    for template in dig(r.inputs, "spec.volumeClaimTemplates", []) or []:
        size = k8s_quantity_gib(dig(template, "spec.resources.requests.storage", 0))
        c.charge("storage", f"EBS gp3 PVCs {replicas:g} x {size:g} GiB", r.name, replicas * size, "GB-mo",
                 "ebs.gp3.gb")


def _k8s_service(r: Registration, c: PricingContext) -> None:
    if dig(r.inputs, "spec.type") != "LoadBalancer":
        return
    annotations = dig(r.inputs, "metadata.annotations", {}) or {}
    scheme = annotations.get("service.beta.kubernetes.io/aws-load-balancer-scheme", "internal")
    _load_balancer(c, k8s_name(r), "nlb", scheme == "internet-facing", _public_zone_count(c.plan))


def _ingresses(c: PricingContext) -> None:
    """AWS Load Balancer Controller: one ALB per ingress group (or per ungrouped Ingress); internal unless told."""
    albs: dict[str, bool] = {}
    for r in c.plan.resources:
        if not is_k8s_kind(r, "networking.k8s.io", "Ingress"):
            continue
        annotations = dig(r.inputs, "metadata.annotations", {}) or {}
        klass = dig(r.inputs, "spec.ingressClassName") or annotations.get("kubernetes.io/ingress.class")
        if klass != "alb":
            continue
        group = annotations.get("alb.ingress.kubernetes.io/group.name") or k8s_name(r)
        public = annotations.get("alb.ingress.kubernetes.io/scheme") == "internet-facing"
        albs[group] = albs.get(group, False) or public
    for group, public in sorted(albs.items()):
        _load_balancer(c, f"ingress group {group}", "alb", public, _public_zone_count(c.plan))


def _simple(category: str, item: str, unit: str, key: str) -> Callable[[Registration, PricingContext], None]:
    return lambda r, c: c.charge(category, item, r.name, 1, unit, key)


PRICERS: Final[dict[str, Callable[[Registration, PricingContext], None]]] = {
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "eks:index:Cluster": _eks_cluster,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:ec2/natGateway:NatGateway": lambda r, c: c.charge("network", "NAT gateway", r.name, c.hours(1), "h",
                                                          "nat.hour"),
    "aws:ec2/eip:Eip": lambda r, c: _public_ips(c, "Elastic IP", r.name, 1),
    "aws:ec2/instance:Instance": _ec2_instance,
    "aws:lb/loadBalancer:LoadBalancer": _aws_load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": _aws_load_balancer,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:mq/broker:Broker": _mq_broker,
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:elasticache/cluster:Cluster": _cache_cluster,
    "aws:servicecatalog/provisionedProduct:ProvisionedProduct": _catalog_product,
    "aws:kms/key:Key": _simple("security", "KMS customer-managed key", "key-mo", "kms.key"),
    "aws:secretsmanager/secret:Secret": _simple("security", "Secrets Manager secret", "secret-mo",
                                                "secretsmanager.secret"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _simple("observability", "CloudWatch alarm", "alarm-mo",
                                                      "cloudwatch.alarm"),
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:ebs/volume:Volume": lambda r, c: c.charge("storage", f"EBS gp3 volume {r.inputs.get('size')} GB", r.name,
                                                   float(r.inputs.get("size") or 0), "GB-mo", "ebs.gp3.gb"),
    "kubernetes:helm.sh/v3:Release": _helm_release,
    "kubernetes:core/v1:PersistentVolumeClaim": _pvc,
    "kubernetes:apps/v1:StatefulSet": _stateful_set,
    "kubernetes:core/v1:Service": _k8s_service,
    # Cross-region replication bills the copied bytes as inter-region transfer (the replica bucket is a bucket).
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": lambda r, c: c.charge(
        "storage", "S3 replication to the DR region", r.name, c.assume.s3_replication_gb_per_month, "GB",
        "s3.interregion.gb", note=f"assumed {c.assume.s3_replication_gb_per_month:g} GB/month"),
}
for _bucket in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
    PRICERS[_bucket] = lambda r, c: c.charge("storage", "S3 Standard", r.name, c.assume.s3_gb_per_bucket, "GB-mo",
                                            "s3.standard.gb", note=f"assumed {c.assume.s3_gb_per_bucket:g} GB each")

# No charge of their own: configuration, identity, routing, or priced through another resource (flow log -> its log
# group, launch template -> its node group, secret version -> its secret, Ingress -> `_ingresses`).
FREE_PREFIXES: Final = (
    "pulumi:providers:", "random:", "tls:", "pulumi-python:dynamic:", "kubernetes:", "aws:iam/", "aws:kms/alias:",
    "aws:sqs/queuePolicy:",
    "aws:s3/bucket", "aws:ec2/vpc:", "aws:ec2/subnet:", "aws:ec2/routeTable", "aws:ec2/route:",
    "aws:ec2/internetGateway:", "aws:ec2/securityGroup", "aws:ec2/defaultSecurityGroup:", "aws:vpc/securityGroup",
    "aws:ec2/launchTemplate:", "aws:ec2/flowLog:", "aws:ec2/eipAssociation:",
    "aws:eks/addon:", "aws:eks/accessEntry:", "aws:eks/accessPolicy",
    "aws:secretsmanager/secretVersion:", "aws:secretsmanager/secretPolicy:", "aws:rds/parameterGroup:",
    "aws:rds/subnetGroup:", "aws:elasticache/subnetGroup:", "aws:elasticache/user",  # user: RBAC users and groups
    "aws:cloudwatch/logResourcePolicy:",
    "aws:ec2/vpcEndpointRouteTableAssociation:", "aws:lb/listener", "aws:lb/targetGroup", "aws:acm/",
    # ECR bills only storage (about $0.10/GB-month, not in the reference table): eight services' images, trimmed by
    # the lifecycle policy, stay under a few GB, i.e. well under $1/month in total. Counted as free, said here.
    "aws:ecr/repository:", "aws:ecr/lifecyclePolicy:",
    # Metric filters have no charge of their own (their alarms and log ingestion are priced). SNS: the alarm topic
    # carries a few hundred notifications a month, inside SNS's free first million publishes; Chatbot has no charge
    # of its own. Neither is in pricing/prices.yaml. Ref: https://aws.amazon.com/sns/pricing/, https://aws.amazon.com/chatbot/pricing/
    "aws:cloudwatch/logMetricFilter:", "aws:sns/", "aws:chatbot/",
    # Route 53 bills hosted zones (the public entry uses the user's existing zone, created nowhere here) and standard
    # queries; queries to an alias record pointing at an ELB load balancer are free, and ACM's validation CNAME is
    # queried only at issue and renewal. Public ACM certificates are free (`aws:acm/` above).
    # Ref: https://aws.amazon.com/route53/pricing/ (Alias queries to Elastic Load Balancing: no charge)
    "aws:route53/record:",
)



def price_stack_wide(c: PricingContext) -> None:
    """Charges no single registration carries; run after every registration has been priced."""
    if c.plan.of_type("aws:ec2/natGateway:NatGateway"):
        gb = c.assume.nat_gb_per_month
        c.charge("network", "NAT data processed", "all NAT gateways", gb, "GB", "nat.gb",
                 note=f"assumed {gb:g} GB/month for the stack")
    _service_logs(c)
    if c.log_storage:
        c.charge("observability", "CloudWatch Logs storage (steady state: ingest x retention)", "all log groups",
                 sum(c.log_storage.values()), "GB-mo", "logs.stored_gb")
    _ingresses(c)
