"""The cost view's data: the dated price table, the usage assumptions, line items and the report they add up to.

`PriceTable.load()` reads `pricing/prices.yaml` (us-east-1, every row with its source and date); `Assumptions` holds
the usage the plan cannot know, each figure printed next to the estimate it feeds. `PricingContext` is what the
pricers (`tools.cost.cost_lines`) write into: `charge()` multiplies a quantity by the product of the priced rows,
and a row missing from the table prices at $0 and is flagged rather than dropped. `CostReport` is what
`tools.cost.cost` renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml

from tools.engine.mock_engine import ROOT, Plan

PRICES_FILE: Final = ROOT / "pricing" / "prices.yaml"


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
    # Container Insights (CloudWatch Observability add-on): every container's stdout incl. Linkerd proxies and Vault's
    # audit log; and the agent's standard performance events (about 1 KB per node/pod/container per minute).
    container_application_logs_gb: float = 15.0
    container_performance_logs_gb: float = 5.0
    no_retention_months: float = 12.0  # storage horizon for log groups that never expire
    s3_gb_per_bucket: float = 5.0  # Vault snapshots, access logs
    mq_storage_gb: float = 5.0  # messages at rest on the broker's storage
    # Per consumed SQS queue: two pollers long-polling (20 s) make ~0.26 M receives a month, plus sends and deletes
    # at the customer's traffic (5,000 requests a day at peak): about half a million requests.
    sqs_requests_millions_per_queue: float = 0.5
    lb_lcu: float = 1.0  # average LCUs per load balancer
    vault_storage_class: str = "gp3"  # Vault PVCs; priced at EBS gp3
    s3_replication_gb_per_month: float = 1.5  # Vault snapshots copied to the DR region: ~50 MB a day



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
    unpriced: tuple[str, ...]  # "type x n": registered, no pricer for it, assumed $0
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



@dataclass
class PricingContext:
    """The plan being priced, the table and assumptions, and the charges the pricers have made so far."""

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

