"""Cost view: the price table as data, prod against a hand calculation, per-type pricers, the budget CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.profiles import PROFILES
from tests.conftest import STACKS, plan_of
from tools.cost import cost
from tools.cost.cost import Assumptions, PriceTable, estimate
from tools.engine.mock_engine import Plan, Registration

TABLE = PriceTable.load()


def reg(type_: str, name: str, inputs: dict[str, Any], deps: tuple[str, ...] = ()) -> Registration:
    return Registration(type_, name, f"urn:pulumi:t::p::{type_}::{name}", "", True, inputs, dict(inputs), False,
                        False, False, list(deps))


def line(report: cost.CostReport, fragment: str) -> cost.LineItem:
    found = [x for x in report.lines if fragment in x.item]
    assert len(found) == 1, [x.item for x in report.lines]
    return found[0]


def test_every_price_row_is_dated_and_sourced() -> None:
    assert TABLE.region == "us-east-1"
    assert TABLE.hours_per_month == 730
    for row in TABLE.rows.values():
        assert row.source and row.date and row.unit, row.key
        assert row.price > 0, row.key
    # The one price no source confirms is marked so the report can say it.
    assert not TABLE.rows["mq.mq.t3.micro"].verified  # no AWS figure could be read (2026-12-07)
    assert TABLE.rows["elasticache.valkey_factor"].verified  # AWS's FAQ: up to 20 % lower per node
    assert TABLE.rows["ec2.t3.large"].verified


def test_prod_total_matches_a_hand_calculation_within_5_percent() -> None:
    """Hand calculation from the table rows and the prod profile (config/profiles.py), default assumptions."""
    p, prof, h = TABLE.rows, PROFILES["prod"], 730
    a = Assumptions()
    nodes = prof.system_node_desired_size + prof.spot_node_desired_size  # 3 + 3
    hand = {
        # 3 x t3a.large on-demand: 3 x 0.0752 x 730 = 164.69
        "system nodes": prof.system_node_desired_size * p["ec2.t3a.large"].price * h,
        # 3 x t3a.large spot at 65 % off: 3 x 0.0752 x 0.35 x 730 = 57.64
        "spot nodes": prof.spot_node_desired_size * p["ec2.t3a.large"].price * (1 - a.spot_discount) * h,
        "node root volumes": nodes * prof.node_disk_size_gb * p["ebs.gp3.gb"].price,  # 6 x 30 x 0.08 = 14.40
        "EKS standard": p["eks.standard"].price * h,  # 73.00
        "NAT per AZ": 3 * p["nat.hour"].price * h + a.nat_gb_per_month * p["nat.gb"].price,  # 98.55 + 4.50
        "EIPs": 3 * p["ipv4.hour"].price * h,  # 10.95
        # Public entry: one internet-facing ALB over the 3 public subnets: 0.0225 x 730 = 16.43, 1 LCU assumed
        # 0.008 x 730 = 5.84, one public IPv4 address per AZ 3 x 0.005 x 730 = 10.95
        "ALB": (p["alb.hour"].price + a.lb_lcu * p["alb.lcu"].price + 3 * p["ipv4.hour"].price) * h,
        # db.t4g.small Multi-AZ: 2 x 0.032 x 730 = 46.72; 20 GB gp3 Multi-AZ: 20 x 0.23 = 4.60
        "RDS": 2 * p["rds.db.t4g.small"].price * h + prof.rds_allocated_storage_gb * p["rds.gp3.multi_az"].price,
        # SQS: 3 consumed queues (inventory-management, order-processing, analytics) x 0.5 M requests x $0.40 = 0.60;
        # their dead-letter queues are not polled
        "SQS": 3 * a.sqs_requests_millions_per_queue * p["sqs.requests_1m"].price,
        # 2 x cache.t4g.micro Valkey: 2 x 0.016 x 0.8 x 730 = 18.69
        "Valkey": prof.cache_nodes * p["elasticache.cache.t4g.micro"].price * p["elasticache.valkey_factor"].price * h,
        # Vault HA: 3 replicas x (10 GiB data + 10 GiB audit) PVCs on gp3 = 60 x 0.08 = 4.80
        "Vault PVCs": 3 * (10 + 10) * p["ebs.gp3.gb"].price,
        # Monitoring (prod profile): 2 Prometheus x 30 GiB + 2 Alertmanager x 2 GiB on gp3 = 64 x 0.08 = 5.12
        "monitoring PVCs": (2 * prof.prometheus_storage_gb + 2 * 2) * p["ebs.gp3.gb"].price,
        "KMS": 6 * p["kms.key"].price,  # logs, eks, data, vault-unseal, alarm topic, backup replica (DR region)
        "secrets": 3 * p["secretsmanager.secret"].price,  # cache, Vault recovery, RDS-managed master (no broker)
        # snapshots, access logs; DR region: snapshot replica, its access logs (+ the replication transfer)
        "S3": 4 * a.s3_gb_per_bucket * p["s3.standard.gb"].price
        + a.s3_replication_gb_per_month * p["s3.interregion.gb"].price,
        # ingest: EKS 10 + flow 10 + 3 other groups + 1 AWS-created (RDS enhanced monitoring) + Container Insights
        # (application 15, performance 5, dataplane 1, host 1); storage: 365-day groups hold 12 months, AWS-created
        # groups never expire (12 months assumed)
        "logs": (10 + 10 + 3 + 1 + 22) * p["logs.ingest_gb"].price
        + (10 + 10 + 3 + 1 + 22) * 12 * p["logs.stored_gb"].price,
        # 2 control-plane alarms + 4 container-log alarms (Vault x 3, cert-manager), standard resolution
        "alarms": 6 * p["cloudwatch.alarm"].price,
    }
    expected = sum(hand.values())  # about $587
    report = estimate(plan_of("prod"))
    assert report.total == pytest.approx(expected, rel=0.05)
    assert report.total <= 600 and not report.over_budget  # the customer's budget


def test_sandbox_total_matches_a_hand_calculation_within_5_percent() -> None:
    """The sandbox levers (spot system pool, NAT instance, no public entry) priced by hand from the table rows."""
    p, prof, h = TABLE.rows, PROFILES["sandbox"], 730
    a = Assumptions()
    hand = {
        # 2 x t3a.medium spot at 65 % off: 2 x 0.0376 x 0.35 x 730 = 19.21 (nodes.systemCapacity: spot)
        "system nodes": prof.system_node_desired_size * p["ec2.t3a.medium"].price * (1 - a.spot_discount) * h,
        "node root volumes": 2 * prof.node_disk_size_gb * p["ebs.gp3.gb"].price,  # 2 x 30 x 0.08 = 4.80
        # NAT instance t4g.nano 0.0042 x 730 = 3.07, its 8 GB root 0.64, the one EIP 3.65; no NAT data charge
        "NAT instance": p["ec2.t4g.nano"].price * h + 8 * p["ebs.gp3.gb"].price + p["ipv4.hour"].price * h,
        "EKS standard": p["eks.standard"].price * h,  # 73.00; no ALB (ingress.publicEntry false)
        "RDS": p["rds.db.t4g.micro"].price * h + 20 * p["rds.gp3.single_az"].price,  # 11.68 + 2.30
        "SQS": 3 * a.sqs_requests_millions_per_queue * p["sqs.requests_1m"].price,  # 0.60
        "Valkey": p["elasticache.cache.t4g.micro"].price * p["elasticache.valkey_factor"].price * h,  # 9.34
        "Vault PVCs": (10 + 10) * p["ebs.gp3.gb"].price,  # one replica: 1.60
        "KMS": 5 * p["kms.key"].price,
        "secrets": 3 * p["secretsmanager.secret"].price,
        "S3": 2 * a.s3_gb_per_bucket * p["s3.standard.gb"].price,
        # EKS 10 + flow 10 + 3 other + 1 AWS-created GB ingest; 30-day retention holds one month (24 GB-mo), the
        # AWS-created group 12 months
        "logs": 24 * p["logs.ingest_gb"].price + (23 + 12) * p["logs.stored_gb"].price,
        "alarms": 2 * p["cloudwatch.alarm"].price,
    }
    report = estimate(plan_of("sandbox"))
    assert report.total == pytest.approx(sum(hand.values()), rel=0.05)  # about $149
    assert report.total <= 150 and not report.over_budget
    assert not [x for x in report.lines if x.item.startswith(("NAT gateway", "ALB"))]


def test_sandbox_and_dev_choices_price_their_levers() -> None:
    from tools.cost.cost_choices import choices
    for stack, levers in {"sandbox": {"nodes.systemCapacity", "network.egress", "ingress.publicEntry"},
                          "dev": {"nodes.systemCapacity", "network.egress"}}.items():
        report = estimate(plan_of(stack))
        found = {c.lever: c for c in choices(report, TABLE)}
        assert levers <= set(found), (stack, sorted(found))
        assert all(found[lever].monthly_delta > 0 for lever in levers)  # each lever saves: undoing it costs
        assert (stack == "sandbox") == ("ingress.publicEntry" in found)
    assert estimate(plan_of("dev")).total <= 250


def test_sandbox_is_the_cheapest_stack() -> None:
    totals = {stack: estimate(plan_of(stack)).total for stack in STACKS}
    assert min(totals, key=lambda s: totals[s]) == "sandbox"
    assert totals["sandbox"] < totals["dev"] < totals["staging"] < totals["prod"]


def test_prod_line_items() -> None:
    report = estimate(plan_of("prod"))
    assert line(report, "EKS control plane, standard").monthly == pytest.approx(73.0)
    system = line(report, "on-demand x 3 (cluster-system-ng)")
    assert system.monthly == pytest.approx(3 * 0.0752 * 730)
    spot = line(report, "spot x 3")
    assert "65%" in spot.note
    assert line(report, "NAT gateway").quantity == 3 * 730
    # one Elastic IP per NAT gateway, and the public entry's internet-facing ALB: one address per AZ
    assert line(report, "public IPv4").quantity == (3 + 3) * 730
    assert line(report, "ALB load balancer").quantity == 730
    assert not [x for x in report.lines if "Amazon MQ" in x.item]  # SQS messaging
    sqs = line(report, "SQS standard queue requests")
    assert sqs.quantity == 3 * 0.5 and len(sqs.resources) == 3  # dead-letter queues are not charged
    assert line(report, "RDS gp3 storage 20 GB Multi-AZ").unit_price == 0.23
    assert report.unpriced == ()  # every registered type is priced or known to be free
    assert line(report, "EBS gp3 Prometheus 2 x 30 GiB").monthly == pytest.approx(60 * 0.08)
    assert line(report, "EBS gp3 Alertmanager 2 x 2 GiB").monthly == pytest.approx(4 * 0.08)


def test_unverified_prices_are_marked() -> None:
    broker = reg("aws:mq/broker:Broker", "mq", {"hostInstanceType": "mq.t3.micro", "engineType": "ActiveMQ"})
    report = estimate(Plan("t", [broker], {}, set()), budget=600)
    line_ = line(report, "mq.t3.micro")
    assert not line_.verified and "UNVERIFIED" in line_.note
    assert "unverified or missing prices in" in cost.render_report(report)


def test_missing_upgrade_policy_prices_extended_support() -> None:
    plan = Plan("t", [reg("eks:index:Cluster", "eks", {"skipDefaultNodeGroup": True})], {}, set())
    report = estimate(plan, budget=600)
    extended = line(report, "EXTENDED")
    assert extended.monthly == pytest.approx(0.60 * 730)
    assert "unset" in extended.note


def test_kubernetes_layer_storage_and_load_balancers() -> None:
    vault = reg("kubernetes:helm.sh/v3:Release", "vault", {"chart": "vault", "values": {"server": {
        "ha": {"enabled": True, "replicas": 3}, "dataStorage": {"size": "10Gi"},
        "auditStorage": {"enabled": True, "size": "5Gi"}}}})
    public = {"metadata": {"name": "shop", "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing",
                                                           "alb.ingress.kubernetes.io/group.name": "public"}},
              "spec": {"ingressClassName": "alb"}}
    ingresses = [reg("kubernetes:networking.k8s.io/v1:Ingress", f"ing-{k}", public) for k in range(2)]
    subnets = [reg("aws:ec2/subnet:Subnet", f"public-{z}", {"tags": {"tier": "public"}}) for z in "abc"]
    report = estimate(Plan("t", [vault, *ingresses, *subnets], {}, set()), budget=600)
    assert line(report, "Vault dataStorage 3 x 10 GiB").monthly == pytest.approx(30 * 0.08)
    assert line(report, "Vault auditStorage 3 x 5 GiB").monthly == pytest.approx(15 * 0.08)
    assert line(report, "ALB load balancer").quantity == 730  # two Ingresses, one ALB group
    assert line(report, "public IPv4").quantity == 3 * 730  # internet-facing: one address per AZ


def test_unknown_types_are_listed_not_dropped() -> None:
    plan = Plan("t", [reg("aws:opensearch/domain:Domain", "search", {})], {}, set())
    assert estimate(plan, budget=600).unpriced == ("aws:opensearch/domain:Domain x 1 (assumed $0)",)


def test_brief_estimate_is_reconstructed_and_repriced() -> None:
    brief = cost.brief_comparison(TABLE)
    assert sum(s[1] for s in brief) == pytest.approx(521.0)
    assert brief[0][2] == pytest.approx(7 * 0.0832 * 730)
    assert brief[2][2] == pytest.approx(2048 * 0.08)
    text = cost.render_cost(plan_of("prod"))
    assert "$521/month" in text and "within" in text


@pytest.fixture
def cached_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cost, "run_stack", plan_of)


@pytest.mark.usefixtures("cached_runs")
def test_budget_warns_or_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main(["--stack", "prod", "--budget", "500"]) == 0  # over: a warning only
    assert "over the budget of $500.00" in capsys.readouterr().err
    assert cost.main(["--stack", "prod", "--budget", "500", "--fail-over-budget"]) == 1
    assert cost.main(["--stack", "prod", "--fail-over-budget"]) == 0  # within its own budget (Pulumi.prod.yaml)
    capsys.readouterr()
    assert cost.main(["--stack", "sandbox", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stack"] == "sandbox" and doc["budget"] == 150  # mtls-platform:budget in Pulumi.sandbox.yaml
    assert doc["total"] == pytest.approx(sum(x["monthly"] for x in doc["lines"]), abs=0.01)
