"""Cost view: the monthly AWS bill of what a stack's offline plan registers, priced from a dated table kept as data.

    python -m tools.cost --stack prod                 # line items, assumptions, total, budget check
    python -m tools.cost --stack prod --json          # the same as one JSON document (for CI comments and diffs)
    python -m tools.cost --stack prod --budget 900 --fail-over-budget

Prices come from `pricing/prices.yaml` (us-east-1, each row with its source and date); usage-based items (NAT GB,
log GB, S3 GB, load-balancer LCUs, spot discount) come from `Assumptions`, printed next to the estimate. Every
registered type is either priced by its pricer (`tools/cost/cost_lines.py`), known to be free, or listed as unpriced
(assumed
$0), so nothing is dropped silently; the table and report types are in `tools/cost/cost_model.py`. Monthly = hourly x
730. Exit codes: 0 ok (an over-budget estimate only warns), 1 over budget with `--fail-over-budget`, 2 invalid stack
configuration.
"""


from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any, Final

from tools.cost.cost_choices import choices
from tools.cost.cost_lines import FREE_PREFIXES, PRICERS, price_stack_wide
from tools.cost.cost_model import PRICES_FILE, Assumptions, CostReport, LineItem, Price, PriceTable, PricingContext
from tools.engine.mock_engine import ROOT, Plan, list_stacks, load_stack_settings, run_stack
from tools.engine.plan_facts import emit, load_plan

# The report types live in tools.cost.cost_model; importers keep using tools.cost.cost for them.
__all__ = ["PRICES_FILE", "Assumptions", "CostReport", "LineItem", "Price", "PriceTable", "brief_comparison",
           "budget_for", "estimate", "main", "render_cost", "render_report", "report_json"]

DEFAULT_BUDGET: Final = 600.0  # USD/month: the budget the customer's brief states ("about $600")
BUDGET_KEY: Final = "mtls-platform:budget"  # optional stack config key; `--budget` wins over it


def estimate(plan: Plan, assumptions: Assumptions | None = None, table: PriceTable | None = None,
             budget: float | None = None) -> CostReport:
    """Price every registration of `plan`; usage-based items follow `assumptions`."""
    c = PricingContext(plan, table or PriceTable.load(), assumptions or Assumptions())
    unpriced: dict[str, int] = {}
    for r in plan.resources:
        pricer = PRICERS.get(r.type)
        if pricer is not None:
            pricer(r, c)
        elif r.custom and not r.type.startswith(FREE_PREFIXES):
            unpriced[r.type] = unpriced.get(r.type, 0) + 1
    price_stack_wide(c)
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
        f"{a.flow_logs_gb:g} GB/month, container logs "
        f"{a.container_application_logs_gb:g} GB/month, Container Insights performance events "
        f"{a.container_performance_logs_gb:g} GB/month, each other group {a.other_log_group_gb:g} GB/month, "
        f"each AWS-created group "
        f"{a.service_log_group_gb:g} GB/month; storage at steady state (groups without retention: "
        f"{a.no_retention_months:g} months)",
        f"S3: {a.s3_gb_per_bucket:g} GB per bucket; Amazon MQ: {a.mq_storage_gb:g} GB at rest; load balancers: "
        f"{a.lb_lcu:g} LCU average",
        "t3 nodes run in unlimited mode: surplus CPU credits ($0.05/vCPU-h above baseline) are not included",
        "not included: data transfer between AZs and to the internet, KMS/S3/Secrets Manager API requests, "
        "RDS backups beyond the free allowance, Performance Insights beyond 7 days (free tier)",
    )


def budget_for(stack: str) -> float:
    """`mtls-platform:budget` from the stack's config when set, else the brief's $600."""
    try:
        value = load_stack_settings(stack).get(BUDGET_KEY)
    except FileNotFoundError:
        value = None
    return float(value) if value is not None else DEFAULT_BUDGET


# --- the brief's figure -----------------------------------------------------------------------------------------------

def brief_comparison(table: PriceTable) -> list[tuple[str, float, float]]:
    """(item, the brief's figure, this table's figure) for the $521/month estimate in the customer's brief.

    The brief priced 7 x t3.large at $0.10/h x 720 h ($504.00) and 2 TB of gp3 at $0.80; the remaining $16.20 is
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
    """The text view (also usable as a `tools.engine.plan` view: a function of the plan alone)."""
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
    by_layer = ", ".join(f"{k} ${v:,.2f}" for k, v in report.by_category().items())
    lines.append(f"per layer: {by_layer}")
    unverified = [x.item for x in report.lines if not x.verified]
    if unverified:
        lines.append(f"unverified or missing prices in: {'; '.join(unverified)}")
    table = PriceTable.load()
    options = choices(report, table)
    if options:
        lines += ["", "choices (what the other setting costs per month, and what the dearer side buys):"]
        for ch in options:
            lines.append(f"  {ch.lever}: {ch.current} -> {ch.alternative}: {ch.monthly_delta:+,.2f}/mo  [{ch.buys}]")
    lines += ["", "assumptions:"] + [f"  - {a}" for a in report.assumptions]
    if report.unpriced:
        lines += ["", "registered but not priced (no pricer in tools/cost/cost_lines.py):"]
        lines += [f"  - {u}" for u in report.unpriced]
    if report.stack == "prod":
        lines += ["", "the brief's \"$521/month\", re-priced from the same table:"]
        brief = brief_comparison(PriceTable.load())
        for item, was, now in brief:
            lines.append(f"  {item:<60} brief {was:>8,.2f}   table {now:>8,.2f}")
        lines.append(f"  {'its own items':<60} brief {sum(s[1] for s in brief):>8,.2f}   table "
                     f"{sum(s[2] for s in brief):>8,.2f}")
        lines.append("  wrong rate ($0.10/h vs $0.0832/h) and hours (720 vs 730) for t3.large; gp3 priced at $0.80 "
                     "for 2 TB instead of $0.08 per GB-month; and it left out the EKS control plane, NAT gateways, "
                     f"public IPv4, RDS, Amazon MQ, ElastiCache, KMS and logs: this plan is ${report.total:,.2f}.")
    return "\n".join(lines)


def report_json(report: CostReport) -> str:
    doc = {**asdict(report), "over_budget": report.over_budget, "by_category": report.by_category(),
           "price_table": str(PRICES_FILE.relative_to(ROOT)),
           "choices": [asdict(ch) for ch in choices(report, PriceTable.load())]}
    return json.dumps(doc, indent=2, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=list_stacks())
    parser.add_argument("--json", action="store_true", help="the report as one JSON document")
    parser.add_argument("--budget", type=float, default=None,
                        help=f"USD/month (default: {BUDGET_KEY} from the stack config, else {DEFAULT_BUDGET:g})")
    parser.add_argument("--fail-over-budget", action="store_true", help="exit 1 when the total exceeds the budget")
    args = parser.parse_args(argv)
    plan = load_plan(run_stack, args.stack)
    if plan is None:
        return 2
    report = estimate(plan, budget=args.budget)
    if not emit(report_json(report) if args.json else render_report(report)):
        return 0
    if report.over_budget:
        print(f"warning: stack {args.stack} is estimated at ${report.total:,.2f}/month, over the budget of "
              f"${report.budget:,.2f}", file=sys.stderr)
        return 1 if args.fail_over_budget else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
