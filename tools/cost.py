"""Cost view: the monthly AWS bill of what a stack's offline plan registers, priced from a dated table kept as data.

    python -m tools.cost --stack prod                 # line items, assumptions, total, budget check
    python -m tools.cost --stack prod --json          # the same as one JSON document (for CI comments and diffs)
    python -m tools.cost --stack prod --budget 900 --fail-over-budget

Prices come from `pricing/prices.yaml` (us-east-1, each row with its source and date); usage-based items (NAT GB,
log GB, S3 GB, load-balancer LCUs, spot discount) come from `Assumptions`, printed next to the estimate. Every
registered type is either priced here, known to be free, or listed as unpriced (assumed $0), so nothing is dropped
silently. Monthly = hourly x 730. Exit codes: 0 ok (an over-budget estimate only warns), 1 over budget with
`--fail-over-budget`, 2 invalid stack configuration.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from components.stack_config import ConfigError
from tools.mock_engine import ROOT, Plan, Registration, list_stacks, load_stack_settings, run_stack

PRICES_FILE: Final = ROOT / "pricing" / "prices.yaml"
DEFAULT_BUDGET: Final = 600.0  # USD/month: the seed company's stated budget ("about $600")
BUDGET_KEY: Final = "mtls-platform:budget"  # optional stack config key; `--budget` wins over it
DEFAULT_ROOT_DISK_GB: Final = 20  # EKS managed node group default when neither diskSize nor a launch template says


# --- plan helpers (shared with tools.deploy_time and tools.diagram) ---------------------------------------------------

def dig(value: Any, path: str, default: Any = None) -> Any:
    """`dig(inputs, "scalingConfig.desiredSize")`: a nested lookup that tolerates missing keys."""
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value


def resource_id(r: Registration) -> str:
    """The id the offline plan gave the resource: its `id` output, else the mock engine's `<name>-id`."""
    return str(r.outputs.get("id") or f"{r.name}-id")


def helm_chart(r: Registration) -> str:
    """The chart name of a Helm release (`chart` may be `repo/name` or a URL), '' for anything else."""
    if not r.type.startswith("kubernetes:helm.sh/"):
        return ""
    return str(r.inputs.get("chart") or "").rstrip("/").split("/")[-1].removesuffix(".tgz")


def k8s_quantity_gib(value: Any) -> float:
    """'10Gi' -> 10.0; '500Mi' -> 0.49; plain numbers are bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]i?)?\s*", str(value))
    if not match:
        return 0.0
    scale = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1.0, "Ti": 2**10, "K": 1e3 / 2**30, "M": 1e6 / 2**30,
             "G": 1e9 / 2**30, "T": 1e12 / 2**30}
    unit = match.group(2)
    return float(match.group(1)) * (scale[unit] if unit else 2**-30)


# --- price table ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Price:
    key: str
    price: float
    unit: str
    source: str
    date: str
    verified: bool = True


@dataclass(frozen=True)
class PriceTable:
    region: str
    currency: str
    table_date: str
    hours_per_month: float
    rows: Mapping[str, Price]

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> PriceTable:
        doc = yaml.safe_load(path.read_text())
        rows: dict[str, Price] = {}
        for row in doc["prices"]:
            missing = {"key", "price", "unit", "source", "date"} - set(row)
            if missing:
                raise ValueError(f"{path.name}: row {row.get('key', row)} lacks {sorted(missing)}")
            if row["key"] in rows:
                raise ValueError(f"{path.name}: duplicate price key {row['key']}")
            rows[row["key"]] = Price(row["key"], float(row["price"]), str(row["unit"]), str(row["source"]),
                                     str(row["date"]), bool(row.get("verified", True)))
        return cls(doc["region"], doc["currency"], str(doc["table_date"]), float(doc["hours_per_month"]), rows)


@dataclass(frozen=True)
class Assumptions:
    """Usage the plan cannot know. Each figure is printed with the estimate it feeds."""

    spot_discount: float = 0.65  # spot = on-demand x (1 - this); 2 vCPU / 8 GiB x86 pools typically run 60-70 % off
    nat_gb_per_month: float = 100.0  # data through NAT per stack (image pulls, AWS APIs outside endpoints)
    eks_control_plane_logs_gb: float = 10.0  # all five control-plane log types; audit dominates
    flow_logs_gb: float = 10.0  # VPC flow logs, ALL traffic, 60 s aggregation
    other_log_group_gb: float = 1.0  # each other log group in the plan (RDS, Valkey exports)
    service_log_group_gb: float = 1.0  # groups AWS creates itself: RDS enhanced monitoring, Amazon MQ broker logs
    no_retention_months: float = 12.0  # storage horizon for log groups that never expire
    s3_gb_per_bucket: float = 5.0  # Vault snapshots, access logs
    mq_storage_gb: float = 5.0  # messages at rest on the broker's storage
    lb_lcu: float = 1.0  # average LCUs per load balancer
    vault_storage_class: str = "gp3"  # Vault PVCs; priced at EBS gp3


# --- report -----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LineItem:
    category: str
    item: str
    quantity: float  # per month, in `unit`
    unit: str
    unit_price: float
    monthly: float
    resources: tuple[str, ...]
    price_keys: tuple[str, ...]
    note: str = ""
    verified: bool = True  # False when a price row is unverified or missing


@dataclass(frozen=True)
class CostReport:
    stack: str
    region: str
    table_date: str
    hours_per_month: float
    lines: tuple[LineItem, ...]
    assumptions: tuple[str, ...]
    unpriced: tuple[str, ...]  # "type x n": registered, no rule here, assumed $0
    budget: float
    total: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", round(sum(line.monthly for line in self.lines), 2))

    @property
    def over_budget(self) -> bool:
        return self.total > self.budget

    def by_category(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in self.lines:
            out[line.category] = out.get(line.category, 0.0) + line.monthly
        return {k: round(v, 2) for k, v in out.items()}


# --- pricing rules ----------------------------------------------------------------------------------------------------

@dataclass
class _Ctx:
    plan: Plan
    table: PriceTable
    assume: Assumptions
    lines: list[LineItem] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)
    log_storage: dict[str, float] = field(default_factory=dict)  # log group -> GB stored at steady state

    def charge(self, category: str, item: str, resource: str, quantity: float, unit: str, *keys: str,
               factor: float = 1.0, note: str = "") -> None:
        """Quantity x (product of the priced rows) x factor; a missing row prices at $0 and is flagged."""
        unit_price, verified = factor, True
        for key in keys:
            row = self.table.rows.get(key)
            if row is None:
                self.missing.add(key)
                unit_price, verified = 0.0, False
                note = f"{note}; no price '{key}' in the table: $0" if note else f"no price '{key}' in the table: $0"
                continue
            unit_price *= row.price
            verified = verified and row.verified
        if not verified and keys and all(k in self.table.rows for k in keys):
            unverified = [k for k in keys if not self.table.rows[k].verified]
            note = f"{note}; UNVERIFIED price {', '.join(unverified)}" if note else \
                f"UNVERIFIED price {', '.join(unverified)}"
        self.lines.append(LineItem(category, item, quantity, unit, unit_price, quantity * unit_price, (resource,),
                                   keys, note, verified))

    def hours(self, count: float) -> float:
        return count * self.table.hours_per_month


def _node_group(r: Registration, c: _Ctx) -> None:
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


def _launch_template_disk(r: Registration, plan: Plan) -> float | None:
    for urn in r.dependencies:
        dep = plan.by_urn(urn)
        if dep is not None and dep.type == "aws:ec2/launchTemplate:LaunchTemplate":
            for mapping in dep.inputs.get("blockDeviceMappings") or []:
                size = dig(mapping, "ebs.volumeSize")
                if size:
                    return float(size)
    return None


def _eks_cluster(r: Registration, c: _Ctx) -> None:
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


def _rds(r: Registration, c: _Ctx, *, klass: str, multi_az: bool, storage_gb: float, managed_secret: bool) -> None:
    mode = "Multi-AZ" if multi_az else "single-AZ"
    c.charge("data", f"RDS PostgreSQL {klass} {mode}", r.name, c.hours(2 if multi_az else 1), "instance-h",
             f"rds.{klass}", note="Multi-AZ = 2 instances" if multi_az else "")
    c.charge("data", f"RDS gp3 storage {storage_gb:g} GB {mode}", r.name, storage_gb, "GB-mo",
             "rds.gp3.multi_az" if multi_az else "rds.gp3.single_az")
    if managed_secret:
        c.charge("security", "Secrets Manager secret", f"{r.name} (RDS-managed master secret)", 1, "secret-mo",
                 "secretsmanager.secret")


def _rds_instance(r: Registration, c: _Ctx) -> None:
    i = r.inputs
    _rds(r, c, klass=str(i.get("instanceClass")), multi_az=bool(i.get("multiAz")),
         storage_gb=float(i.get("allocatedStorage") or 20), managed_secret=bool(i.get("manageMasterUserPassword")))


_MQ_INSTANCES: Final = {"SINGLE_INSTANCE": 1, "ACTIVE_STANDBY_MULTI_AZ": 2, "CLUSTER_MULTI_AZ": 3}
_MQ_MODE_LABEL: Final = {"SINGLE_INSTANCE": "single instance", "ACTIVE_STANDBY_MULTI_AZ": "active/standby Multi-AZ",
                         "CLUSTER_MULTI_AZ": "3-node cluster"}


def _mq(r: Registration, c: _Ctx, *, kind: str, mode: str, engine: str, storage: str | None) -> None:
    n = _MQ_INSTANCES.get(mode, 1)
    c.charge("data", f"Amazon MQ {engine} {kind} {_MQ_MODE_LABEL.get(mode, mode)}", r.name, c.hours(n),
             "instance-h", f"mq.{kind}", note=f"{n} broker instances" if n > 1 else "")
    store = "ebs" if engine.lower() == "rabbitmq" else (storage or "efs").lower()
    c.charge("data", f"Amazon MQ storage ({store.upper()})", r.name, c.assume.mq_storage_gb, "GB-mo",
             f"mq.storage.{store}", note=f"assumed {c.assume.mq_storage_gb:g} GB at rest")


def _mq_broker(r: Registration, c: _Ctx) -> None:
    i = r.inputs
    _mq(r, c, kind=str(i.get("hostInstanceType")), mode=str(i.get("deploymentMode") or "SINGLE_INSTANCE"),
        engine=str(i.get("engineType") or "ActiveMQ"), storage=i.get("storageType"))


def _cache(r: Registration, c: _Ctx, *, node_type: str, nodes: float, engine: str) -> None:
    keys = [f"elasticache.{node_type}"] + (["elasticache.valkey_factor"] if engine == "valkey" else [])
    c.charge("data", f"ElastiCache {engine} {node_type} x {nodes:g}", r.name, c.hours(nodes), "node-h", *keys,
             note="Valkey priced at 0.8 x Redis OSS" if engine == "valkey" else "")


def _replication_group(r: Registration, c: _Ctx) -> None:
    i = r.inputs
    nodes = i.get("numCacheClusters") or (i.get("numNodeGroups") or 1) * ((i.get("replicasPerNodeGroup") or 0) + 1)
    _cache(r, c, node_type=str(i.get("nodeType")), nodes=float(nodes), engine=str(i.get("engine") or "redis"))


def _cache_cluster(r: Registration, c: _Ctx) -> None:
    i = r.inputs
    _cache(r, c, node_type=str(i.get("nodeType")), nodes=float(i.get("numCacheNodes") or 1),
           engine=str(i.get("engine") or "redis"))


def _catalog_product(r: Registration, c: _Ctx) -> None:
    """Service Catalog mode: the same services, described by the provisioning parameters of our contract."""
    p = {str(x.get("key")): str(x.get("value")) for x in r.inputs.get("provisioningParameters") or []}
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


def _public_ips(c: _Ctx, what: str, resource: str, count: float) -> None:
    c.charge("network", "public IPv4 address", f"{resource} ({what})", c.hours(count), "address-h", "ipv4.hour")


def _load_balancer(c: _Ctx, resource: str, kind: str, internet_facing: bool, zones: int) -> None:
    c.charge("network", f"{kind.upper()} load balancer", resource, c.hours(1), "h", f"{kind}.hour")
    c.charge("network", f"{kind.upper()} capacity units", resource, c.hours(c.assume.lb_lcu), "LCU-h", f"{kind}.lcu",
             note=f"assumed {c.assume.lb_lcu:g} LCU average")
    if internet_facing:
        _public_ips(c, f"{kind.upper()}, one per AZ", resource, zones)


def _aws_load_balancer(r: Registration, c: _Ctx) -> None:
    i = r.inputs
    kind = "nlb" if i.get("loadBalancerType") == "network" else "alb"
    zones = len(i.get("subnets") or i.get("subnetMappings") or []) or _public_zone_count(c.plan)
    _load_balancer(c, r.name, kind, not i.get("internal"), zones)


def _public_zone_count(plan: Plan) -> int:
    """AZs an internet-facing load balancer spans: the public subnets (at least 2, as ALB requires)."""
    public = [s for s in plan.of_type("aws:ec2/subnet:Subnet") if dig(s.inputs, "tags.tier") == "public"]
    return max(2, len(public))


def _vpc_endpoint(r: Registration, c: _Ctx) -> None:
    if r.inputs.get("vpcEndpointType") == "Interface":
        zones = len(r.inputs.get("subnetIds") or []) or 1
        c.charge("network", f"VPC interface endpoint {r.inputs.get('serviceName')} x {zones} AZ", r.name,
                 c.hours(zones), "AZ-h", "vpce.interface_az_hour")


def _log_group(r: Registration, c: _Ctx) -> None:
    name = str(r.inputs.get("name") or r.name)
    a = c.assume
    if name.startswith("/aws/eks/"):
        gb, what = a.eks_control_plane_logs_gb, "EKS control plane"
    elif name.startswith("/aws/vpc/") or _is_flow_log_target(r, c.plan):
        gb, what = a.flow_logs_gb, "VPC flow logs"
    else:
        gb, what = a.other_log_group_gb, "other log groups"
    _logs(c, what, r.name, gb, r.inputs.get("retentionInDays"))


def _is_flow_log_target(r: Registration, plan: Plan) -> bool:
    arn = str(r.outputs.get("arn", ""))
    return any(f.inputs.get("logDestination") == arn for f in plan.of_type("aws:ec2/flowLog:FlowLog"))


def _logs(c: _Ctx, what: str, resource: str, gb: float, retention_days: Any) -> None:
    months = float(retention_days) / (365 / 12) if retention_days else c.assume.no_retention_months
    c.charge("observability", f"CloudWatch Logs ingestion: {what}", resource, gb, "GB", "logs.ingest_gb",
             note=f"assumed {gb:g} GB/month each")
    c.log_storage[resource] = gb * months


def _service_logs(c: _Ctx) -> None:
    """Log groups AWS creates itself (not in the plan): RDS enhanced monitoring, Amazon MQ general/audit."""
    for r in c.plan.of_type("aws:rds/instance:Instance"):
        if r.inputs.get("monitoringInterval"):
            _logs(c, "AWS-created (RDSOSMetrics, MQ)", f"{r.name} enhanced monitoring",
                  c.assume.service_log_group_gb, None)
    for r in c.plan.of_type("aws:mq/broker:Broker"):
        if any((r.inputs.get("logs") or {}).values()):
            _logs(c, "AWS-created (RDSOSMetrics, MQ)", f"{r.name} broker logs", c.assume.service_log_group_gb, None)


def _helm_release(r: Registration, c: _Ctx) -> None:
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


def _pvc(r: Registration, c: _Ctx) -> None:
    size = k8s_quantity_gib(dig(r.inputs, "spec.resources.requests.storage", 0))
    c.charge("storage", f"EBS gp3 PVC {size:g} GiB", str(dig(r.inputs, "metadata.name", r.name)), size, "GB-mo",
             "ebs.gp3.gb")


def _stateful_set(r: Registration, c: _Ctx) -> None:
    replicas = float(dig(r.inputs, "spec.replicas", 1) or 1)
    for template in dig(r.inputs, "spec.volumeClaimTemplates", []) or []:
        size = k8s_quantity_gib(dig(template, "spec.resources.requests.storage", 0))
        c.charge("storage", f"EBS gp3 PVCs {replicas:g} x {size:g} GiB", r.name, replicas * size, "GB-mo",
                 "ebs.gp3.gb")


def _k8s_service(r: Registration, c: _Ctx) -> None:
    if dig(r.inputs, "spec.type") != "LoadBalancer":
        return
    annotations = dig(r.inputs, "metadata.annotations", {}) or {}
    scheme = annotations.get("service.beta.kubernetes.io/aws-load-balancer-scheme", "internal")
    _load_balancer(c, str(dig(r.inputs, "metadata.name", r.name)), "nlb", scheme == "internet-facing",
                   _public_zone_count(c.plan))


def _ingresses(c: _Ctx) -> None:
    """AWS Load Balancer Controller: one ALB per ingress group (or per ungrouped Ingress); internal unless told."""
    albs: dict[str, bool] = {}
    for r in c.plan.resources:
        if not r.type.startswith("kubernetes:networking.k8s.io/") or not r.type.endswith(":Ingress"):
            continue
        annotations = dig(r.inputs, "metadata.annotations", {}) or {}
        klass = dig(r.inputs, "spec.ingressClassName") or annotations.get("kubernetes.io/ingress.class")
        if klass != "alb":
            continue
        group = annotations.get("alb.ingress.kubernetes.io/group.name") or str(dig(r.inputs, "metadata.name", r.name))
        public = annotations.get("alb.ingress.kubernetes.io/scheme") == "internet-facing"
        albs[group] = albs.get(group, False) or public
    for group, public in sorted(albs.items()):
        _load_balancer(c, f"ingress group {group}", "alb", public, _public_zone_count(c.plan))


def _simple(category: str, item: str, unit: str, key: str) -> Callable[[Registration, _Ctx], None]:
    return lambda r, c: c.charge(category, item, r.name, 1, unit, key)


_RULES: Final[dict[str, Callable[[Registration, _Ctx], None]]] = {
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "eks:index:Cluster": _eks_cluster,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:ec2/natGateway:NatGateway": lambda r, c: c.charge("network", "NAT gateway", r.name, c.hours(1), "h",
                                                          "nat.hour"),
    "aws:ec2/eip:Eip": lambda r, c: _public_ips(c, "Elastic IP", r.name, 1),
    "aws:lb/loadBalancer:LoadBalancer": _aws_load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": _aws_load_balancer,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:mq/broker:Broker": _mq_broker,
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
}
for _bucket in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
    _RULES[_bucket] = lambda r, c: c.charge("storage", "S3 Standard", r.name, c.assume.s3_gb_per_bucket, "GB-mo",
                                            "s3.standard.gb", note=f"assumed {c.assume.s3_gb_per_bucket:g} GB each")

# No charge of their own: configuration, identity, routing, or priced through another resource (flow log -> its log
# group, launch template -> its node group, secret version -> its secret, Ingress -> `_ingresses`).
_FREE_PREFIXES: Final = (
    "pulumi:providers:", "random:", "tls:", "pulumi-python:dynamic:", "kubernetes:", "aws:iam/", "aws:kms/alias:",
    "aws:s3/bucket", "aws:ec2/vpc:", "aws:ec2/subnet:", "aws:ec2/routeTable", "aws:ec2/route:",
    "aws:ec2/internetGateway:", "aws:ec2/securityGroup", "aws:ec2/defaultSecurityGroup:", "aws:vpc/securityGroup",
    "aws:ec2/launchTemplate:", "aws:ec2/flowLog:", "aws:eks/addon:", "aws:eks/accessEntry:", "aws:eks/accessPolicy",
    "aws:secretsmanager/secretVersion:", "aws:secretsmanager/secretPolicy:", "aws:rds/parameterGroup:",
    "aws:rds/subnetGroup:", "aws:elasticache/subnetGroup:", "aws:cloudwatch/logResourcePolicy:",
    "aws:ec2/vpcEndpointRouteTableAssociation:", "aws:lb/listener", "aws:lb/targetGroup", "aws:acm/",
)


def estimate(plan: Plan, assumptions: Assumptions | None = None, table: PriceTable | None = None,
             budget: float | None = None) -> CostReport:
    """Price every registration of `plan`; usage-based items follow `assumptions`."""
    c = _Ctx(plan, table or PriceTable.load(), assumptions or Assumptions())
    unpriced: dict[str, int] = {}
    for r in plan.resources:
        rule = _RULES.get(r.type)
        if rule is not None:
            rule(r, c)
        elif r.custom and not r.type.startswith(_FREE_PREFIXES):
            unpriced[r.type] = unpriced.get(r.type, 0) + 1
    if plan.of_type("aws:ec2/natGateway:NatGateway"):
        gb = c.assume.nat_gb_per_month
        c.charge("network", "NAT data processed", "all NAT gateways", gb, "GB", "nat.gb",
                 note=f"assumed {gb:g} GB/month for the stack")
    _service_logs(c)
    if c.log_storage:
        c.charge("observability", "CloudWatch Logs storage (steady state: ingest x retention)", "all log groups",
                 sum(c.log_storage.values()), "GB-mo", "logs.stored_gb")
    _ingresses(c)
    unpriced_lines = tuple(f"{t} x {n} (assumed $0)" for t, n in sorted(unpriced.items()))
    return CostReport(plan.stack, c.table.region, c.table.table_date, c.table.hours_per_month, tuple(_merge(c.lines)),
                      _assumption_lines(c.assume), unpriced_lines,
                      budget if budget is not None else budget_for(plan.stack))


def _merge(lines: Iterable[LineItem]) -> Iterator[LineItem]:
    """One line per identical charge (e.g. 3 NAT gateways), resources listed together; order of first appearance."""
    merged: dict[tuple[Any, ...], LineItem] = {}
    for line in lines:
        key = (line.category, line.item, line.unit, line.unit_price, line.price_keys, line.note)
        prev = merged.get(key)
        merged[key] = line if prev is None else LineItem(
            line.category, line.item, prev.quantity + line.quantity, line.unit, line.unit_price,
            prev.monthly + line.monthly, prev.resources + line.resources, line.price_keys, line.note, line.verified)
    order = ["compute", "kubernetes", "network", "data", "storage", "security", "observability"]
    yield from sorted(merged.values(), key=lambda x: order.index(x.category) if x.category in order else len(order))


def _assumption_lines(a: Assumptions) -> tuple[str, ...]:
    return (
        f"spot nodes: {a.spot_discount:.0%} below the on-demand price of the pool's first instance type",
        f"NAT: {a.nat_gb_per_month:g} GB/month processed per stack",
        f"CloudWatch Logs: EKS control plane {a.eks_control_plane_logs_gb:g} GB/month, flow logs "
        f"{a.flow_logs_gb:g} GB/month, each other group {a.other_log_group_gb:g} GB/month, each AWS-created group "
        f"{a.service_log_group_gb:g} GB/month; storage at steady state (groups without retention: "
        f"{a.no_retention_months:g} months)",
        f"S3: {a.s3_gb_per_bucket:g} GB per bucket; Amazon MQ: {a.mq_storage_gb:g} GB at rest; load balancers: "
        f"{a.lb_lcu:g} LCU average",
        "t3 nodes run in unlimited mode: surplus CPU credits ($0.05/vCPU-h above baseline) are not included",
        "not included: data transfer between AZs and to the internet, KMS/S3/Secrets Manager API requests, "
        "RDS backups beyond the free allowance, Performance Insights beyond 7 days (free tier)",
    )


def budget_for(stack: str) -> float:
    """`mtls-platform:budget` from the stack's config when set, else the seed's $600."""
    try:
        value = load_stack_settings(stack).get(BUDGET_KEY)
    except FileNotFoundError:
        value = None
    return float(value) if value is not None else DEFAULT_BUDGET


# --- the seed's figure ------------------------------------------------------------------------------------------------

def seed_comparison(table: PriceTable) -> list[tuple[str, float, float]]:
    """(item, seed's figure, this table's figure) for the seed's own $521/month.

    The seed priced 7 x t3.large at $0.10/h x 720 h ($504.00) and 2 TB of gp3 at $0.80; the remaining $16.20 is
    $0.0225/h x 720 h, i.e. one load balancer's hourly charge (our reconstruction: 504 + 16.20 + 0.80 = 521.00).
    """
    hpm, p = table.hours_per_month, table.rows
    return [
        ("7 x EC2 t3.large on-demand", 7 * 0.10 * 720, 7 * p["ec2.t3.large"].price * hpm),
        ("load balancer, hourly (reconstructed; the table adds 1 LCU)", 0.0225 * 720,
         (p["alb.hour"].price + p["alb.lcu"].price) * hpm),
        ("gp3 2 TB (2,048 GB)", 0.80, 2048 * p["ebs.gp3.gb"].price),
    ]


# --- views ------------------------------------------------------------------------------------------------------------

def render_cost(plan: Plan, assumptions: Assumptions | None = None, budget: float | None = None) -> str:
    """The text view (also usable as a `tools.plan` view: a function of the plan alone)."""
    return render_report(estimate(plan, assumptions, budget=budget))


def render_report(report: CostReport) -> str:
    lines = [f"cost estimate: stack {report.stack}, {report.region}, prices of {report.table_date} "
             f"(pricing/prices.yaml), monthly = hourly x {report.hours_per_month:g}", ""]
    width = max(len(x.item) for x in report.lines) if report.lines else 20
    category = ""
    for x in report.lines:
        if x.category != category:
            category = x.category
            lines.append(f"{category} ({report.by_category()[category]:,.2f}/mo)")
        note = f"  [{x.note}]" if x.note else ""
        lines.append(f"  {x.item:<{width}}  {x.quantity:>9,.1f} {x.unit:<11} x {x.unit_price:<9.5g} "
                     f"= {x.monthly:>9,.2f}{note}")
    lines += ["", f"TOTAL  ${report.total:,.2f}/month   (budget ${report.budget:,.0f}: "
                  f"{'OVER by $' + format(report.total - report.budget, ',.2f') if report.over_budget else 'within'})"]
    unverified = [x.item for x in report.lines if not x.verified]
    if unverified:
        lines.append(f"unverified or missing prices in: {'; '.join(unverified)}")
    lines += ["", "assumptions:"] + [f"  - {a}" for a in report.assumptions]
    if report.unpriced:
        lines += ["", "registered but not priced (no rule in tools/cost.py):"] + [f"  - {u}" for u in report.unpriced]
    if report.stack == "prod":
        lines += ["", "the seed's \"$521/month\", re-priced from the same table:"]
        seed = seed_comparison(PriceTable.load())
        for item, was, now in seed:
            lines.append(f"  {item:<60} seed {was:>8,.2f}   table {now:>8,.2f}")
        lines.append(f"  {'its own items':<60} seed {sum(s[1] for s in seed):>8,.2f}   table "
                     f"{sum(s[2] for s in seed):>8,.2f}")
        lines.append("  wrong rate ($0.10/h vs $0.0832/h) and hours (720 vs 730) for t3.large; gp3 priced at $0.80 "
                     "for 2 TB instead of $0.08 per GB-month; and it left out the EKS control plane, NAT gateways, "
                     f"public IPv4, RDS, Amazon MQ, ElastiCache, KMS and logs: this plan is ${report.total:,.2f}.")
    return "\n".join(lines)


def report_json(report: CostReport) -> str:
    doc = {**asdict(report), "over_budget": report.over_budget, "by_category": report.by_category(),
           "price_table": str(PRICES_FILE.relative_to(ROOT))}
    return json.dumps(doc, indent=2, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=list_stacks())
    parser.add_argument("--json", action="store_true", help="the report as one JSON document")
    parser.add_argument("--budget", type=float, default=None,
                        help=f"USD/month (default: {BUDGET_KEY} from the stack config, else {DEFAULT_BUDGET:g})")
    parser.add_argument("--fail-over-budget", action="store_true", help="exit 1 when the total exceeds the budget")
    args = parser.parse_args(argv)
    try:
        plan = run_stack(args.stack)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    report = estimate(plan, budget=args.budget)
    try:
        print(report_json(report) if args.json else render_report(report))
    except BrokenPipeError:  # `... | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
    if report.over_budget:
        print(f"warning: stack {args.stack} is estimated at ${report.total:,.2f}/month, over the budget of "
              f"${report.budget:,.2f}", file=sys.stderr)
        return 1 if args.fail_over_budget else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
