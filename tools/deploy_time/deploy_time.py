"""Deploy-time view: the modelled wall time of a fresh `pulumi up` of a stack, from its offline plan.

    python -m tools.deploy_time --stack prod          # total, critical path, findings
    python -m tools.deploy_time --stack prod --json

Pulumi creates a resource as soon as everything it waits for exists, with ample parallelism (4 x CPUs), so a fresh
`up` lasts as long as the longest chain of waits. What a resource waits for, as the Python SDK sends it:
- its `dependencies`: every resource whose Output flowed into an input, plus `depends_on`, where a local component
  stands for its custom descendants (`rpc._expand_dependencies`);
- its parent's URN, which the SDK awaits before registering: a custom parent is created first; a component parent
  registers at once, after *its own* `depends_on` (so a component's `depends_on` gates all its children, but a child
  never waits for its siblings);
- its provider, when that provider is configured from another resource's Output (the Kubernetes provider waits for
  the cluster's kubeconfig). The plan does not record providers, so a resource of package P is given the plan's
  explicit `pulumi:providers:P` (the nearest one when there are several).
Durations per type are typical figures from public apply logs (`DURATIONS`, with sources); anything unlisted takes
`DEFAULT_SECONDS`. The preview that `pulumi up` runs first is not modelled. This module assembles and renders the
report; the duration and ordering tables are in `tools/deploy_time/durations.py`, the waits and the schedule in
`tools/deploy_time/schedule.py`, the findings in `tools/deploy_time/findings.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Final

from tools.deploy_time.durations import durations_of
from tools.deploy_time.findings import Finding, ordering_findings
from tools.deploy_time.schedule import Step, chain_to, peak_concurrency, predecessors, schedule, simulate, wall_time
from tools.engine.mock_engine import Plan, list_stacks, run_stack
from tools.engine.plan_facts import emit, load_plan

DEFAULT_PARALLELISM: Final = 8  # Pulumi's default, 4 x CPUs, on a 2-CPU runner (this project's CI)


@dataclass(frozen=True)
class DeployTimeReport:
    stack: str
    total_seconds: float
    critical_path: tuple[Step, ...]
    findings: tuple[Finding, ...]
    peak_concurrency: int  # most resources being created at once in the modelled schedule
    steps: Mapping[str, Step]
    parallelism: int  # the engine's limit used for the check below
    limited_seconds: float  # wall time when at most `parallelism` creations run at once

    def cluster_chain(self) -> tuple[Step, ...]:
        """The longest chain that passes through an EKS cluster (the platform's own critical path)."""
        clusters = {u for u, s in self.steps.items() if s.type in ("eks:index:Cluster", "aws:eks/cluster:Cluster")}
        chains = [self.path_to(u) for u in self.steps]
        through = [c for c in chains if clusters & {s.urn for s in c}]
        return max(through, key=lambda c: c[-1].finish, default=())

    def path_to(self, urn: str) -> tuple[Step, ...]:
        """The chain of waits that ends at `urn` (its own critical path)."""
        return chain_to(self.steps, urn)


def model(plan: Plan, parallelism: int = DEFAULT_PARALLELISM) -> DeployTimeReport:
    """Modelled wall time of a fresh `pulumi up`, its critical path and the ordering findings."""
    preds = predecessors(plan)
    durations = durations_of(plan)
    steps = schedule(plan, preds, durations)
    total = wall_time(steps)
    last = max(steps.values(), key=lambda s: s.finish, default=None)
    path = chain_to(steps, last.urn) if last is not None else ()
    findings = ordering_findings(plan, preds, durations, total)
    return DeployTimeReport(plan.stack, total, path, tuple(findings), peak_concurrency(steps.values()), steps,
                            parallelism, simulate(plan, parallelism, preds, durations))


# --- views ------------------------------------------------------------------------------------------------------------

def mmss(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def render_deploy_time(plan: Plan, parallelism: int = DEFAULT_PARALLELISM) -> str:
    report = model(plan, parallelism)
    lines = [f"deploy time: stack {report.stack}, fresh `pulumi up` (resource creation; preview not included)",
             f"  modelled wall time: {mmss(report.total_seconds)} (m:ss) = {report.total_seconds / 60:.1f} min",
             f"  peak concurrency {report.peak_concurrency}; with Pulumi's default limit of {report.parallelism} at "
             f"once (4 x 2 CPUs): {mmss(report.limited_seconds)}", "",
             "critical path (start  +duration  resource  [why it waits])", *_path_lines(report.critical_path)]
    chain = report.cluster_chain()
    if chain and chain != report.critical_path:
        lines += ["", f"longest chain through the EKS cluster (ends at {mmss(chain[-1].finish)})", *_path_lines(chain)]
    lines += ["", f"findings ({len(report.findings)})"]
    for f in report.findings:
        cost = f" (+{mmss(f.cost_seconds)} on the total)" if f.cost_seconds > 0 else ""
        lines.append(f"  [{f.kind}] {f.resource}: {f.detail}{cost}")
    if not report.findings:
        lines.append("  none")
    return "\n".join(lines)


def _path_lines(path: Iterable[Step]) -> list[str]:
    return [f"  {mmss(s.start):>6}  +{mmss(s.seconds):>5}  {s.type} {s.name}  "
            f"[{'after ' + s.via if s.via else 'first'}; {s.basis}]" for s in path]


def report_json(report: DeployTimeReport) -> str:
    doc = {"stack": report.stack, "total_seconds": report.total_seconds, "peak_concurrency": report.peak_concurrency,
           "parallelism": report.parallelism, "limited_seconds": report.limited_seconds,
           "critical_path": [asdict(s) for s in report.critical_path],
           "findings": [asdict(f) for f in report.findings]}
    return json.dumps(doc, indent=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=list_stacks())
    parser.add_argument("--json", action="store_true", help="total, critical path and findings as JSON")
    parser.add_argument("--parallelism", type=int, default=DEFAULT_PARALLELISM,
                        help="the engine's limit on concurrent operations (pulumi up --parallel)")
    args = parser.parse_args(argv)
    plan = load_plan(run_stack, args.stack)
    if plan is None:
        return 2
    emit(report_json(model(plan, args.parallelism)) if args.json else render_deploy_time(plan, args.parallelism))
    return 0


if __name__ == "__main__":
    sys.exit(main())
