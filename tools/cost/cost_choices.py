"""The cost view's choices: for each lever the stack's config pulls, what the other setting would cost and what it buys.

Each `Choice` is priced from the report's own line items and the price table (never a number of its own beyond the
usage assumptions), so the figures move with the table. Savings Plans appear here as a separate line: a commitment,
never part of the on-demand total.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.cost.cost_model import CostReport, LineItem, PriceTable

MQ_STORAGE_GB = 5.0  # as Assumptions.mq_storage_gb: the broker line the SQS choice replaces
INTERFACE_ENDPOINTS = ("sqs", "sts")  # what SQS messaging would need to bypass NAT
PUBLIC_ENTRY_ZONES = 3  # the ALB's public addresses, one per zone of a 3-zone stack
NAT_GB_PER_MONTH = 100.0  # as Assumptions.nat_gb_per_month: what a NAT gateway would process


@dataclass(frozen=True)
class Choice:
    lever: str  # the config key (or the purchase) that decides it
    current: str
    alternative: str
    monthly_delta: float  # alternative minus current, USD/month (negative: it saves)
    buys: str  # what the more expensive side gives


def _lines(report: CostReport, fragment: str) -> list[LineItem]:
    return [x for x in report.lines if fragment in x.item]


def _price(table: PriceTable, key: str) -> float:
    row = table.rows.get(key)
    return row.price if row else 0.0


def choices(report: CostReport, table: PriceTable) -> list[Choice]:
    hpm, out = table.hours_per_month, []
    sqs, broker = _lines(report, "SQS"), _lines(report, "Amazon MQ ActiveMQ")
    ha = bool(_lines(report, "Multi-AZ"))
    if sqs:
        kind, n = ("mq.m5.large", 2) if ha else ("mq.t3.micro", 1)
        broker_cost = n * _price(table, f"mq.{kind}") * hpm + MQ_STORAGE_GB * _price(table, "mq.storage.efs")
        out.append(Choice("data.messaging", "sqs", f"activemq ({kind} {'active/standby' if n == 2 else 'single'})",
                          broker_cost - sum(x.monthly for x in sqs),
                          "JMS/OpenWire/AMQP clients unchanged, broker features (topics, selectors, ordering)"))
    elif broker:
        out.append(Choice("data.messaging", "activemq", "sqs", -sum(x.monthly for x in _lines(report, "Amazon MQ")),
                          "(sqs) no broker to patch or size, no password, IRSA per service; clients move to the SQS "
                          "API"))
    for rds in _lines(report, "RDS PostgreSQL"):
        if "Multi-AZ" in rds.item:
            storage = sum(x.quantity for x in _lines(report, "RDS gp3 storage"))
            saved = rds.monthly / 2 + storage * (_price(table, "rds.gp3.multi_az") - _price(table, "rds.gp3.single_az"))
            out.append(Choice("data.rdsMultiAz", "true", "false", -saved,
                              "a synchronous standby in another AZ, automatic failover in 1-2 min: the 99.95% rests "
                              "on it"))
    nat = _lines(report, "NAT gateway")
    if nat and nat[0].quantity > hpm:
        extra = nat[0].quantity / hpm - 1
        out.append(Choice("network.natGateways", "perAz", "single",
                          -extra * (_price(table, "nat.hour") + _price(table, "ipv4.hour")) * hpm,
                          "egress (SQS, STS, KMS, image pulls, logs) survives the loss of one zone"))
    if sqs and nat:
        zones = max(1, round(nat[0].quantity / hpm)) if nat[0].quantity > hpm else 3
        out.append(Choice("VPC interface endpoints (not created)", "NAT", f"{'+'.join(INTERFACE_ENDPOINTS)} endpoints",
                          len(INTERFACE_ENDPOINTS) * zones * _price(table, "vpce.interface_az_hour") * hpm,
                          "(endpoints) SQS/STS without NAT and an endpoint policy limiting them to this account; "
                          "NAT stays for images and other APIs"))
    for spot in _lines(report, "spot x"):
        extra = spot.monthly / (1 - 0.65) - spot.monthly if "65%" in spot.note else 0.0
        if "system" in spot.item:
            out.append(Choice("nodes.systemCapacity", "spot", "onDemand", extra,
                              "(onDemand) the platform keeps its nodes: no reclaim restarts Vault (resealed until KMS "
                              "auto-unseal, seconds) or the single Linkerd/cert-manager pods"))
            continue
        out.append(Choice("nodes.spotEnabled / spotDesiredSize", "spot", "on-demand", extra,
                          "(on-demand) no 2-minute reclaim; the services survive one reclaim by zone spread + PDBs"))
    nat_instance = [x for x in _lines(report, "instance (") if x.category in ("compute", "storage")]
    if nat_instance and not nat:
        gateway = (_price(table, "nat.hour") * hpm
                   + NAT_GB_PER_MONTH * _price(table, "nat.gb"))
        out.append(Choice("network.egress", "natInstance", "natGateway",
                          gateway - sum(x.monthly for x in nat_instance),
                          "(natGateway) managed and redundant within its zone, scales to 100 Gbit/s, nothing to "
                          "patch; the instance is one point of egress with no failover"))
    if not _lines(report, "ALB load balancer"):
        alb = (_price(table, "alb.hour") + _price(table, "alb.lcu")) * hpm
        out.append(Choice("ingress.publicEntry", "false", "true",
                          alb + PUBLIC_ENTRY_ZONES * _price(table, "ipv4.hour") * hpm,
                          "(true) a public HTTPS URL (ALB, ACM certificate, DNS alias) for the public services; "
                          "without it they are reached with kubectl port-forward"))
    for system in _lines(report, "on-demand x"):
        kind = system.price_keys[0].removeprefix("ec2.") if system.price_keys else ""
        if kind.startswith(("t3.", "t3a.")) and kind.endswith(".large"):
            graviton = system.quantity * _price(table, "ec2.t4g.large")
            out.append(Choice("nodes.systemInstanceTypes", kind, "t4g.large (Graviton)", graviton - system.monthly,
                              f"({kind}) amd64: the company's own images run; Graviton needs every image multi-arch"))
    stored = _lines(report, "CloudWatch Logs storage")
    if stored and report.stack in ("staging", "prod"):
        out.append(Choice("cluster.logRetentionDays", "365", "90 (allowed in sandbox/dev only)",
                          -stored[0].monthly * (1 - 90 / 365),
                          "365 days of audit and flow logs (CKV_AWS_338, mandatory in staging/prod)"))
    ec2 = sum(x.monthly for x in report.lines if x.category == "compute" and "on-demand" in x.item)
    if ec2:
        out.append(Choice("Savings Plan (purchase, not config)", "on-demand", "Compute Savings Plan 1 year",
                          -ec2 * _price(table, "savings_plan.compute_1y_no_upfront"),
                          "(on-demand) no commitment; the plan is a separate line, never in the total above"))
    return out
