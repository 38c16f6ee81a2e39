"""The schedule of the deploy-time view: what each registration waits for, and when it starts and finishes.

`predecessors()` derives the waits the Python SDK sends (dependencies, the parent, a provider configured from another
resource's Output) plus the physical ones the cluster imposes (`runtime_waits`: pods need a schedulable node, Vault's
PVCs need the EBS CSI driver). `schedule()` gives every registration its earliest start with unbounded parallelism,
each `Step` remembering the wait that set its start, so a critical path is a walk back along `waits_for`;
`simulate()` replays the plan with the engine's limit on concurrent operations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from tools.deploy_time.durations import CRD_ONLY_CHARTS, NODE_GROUP_TYPES, PVC_CHARTS, WORKLOAD_TYPES, durations_of
from tools.engine.mock_engine import Plan, Registration
from tools.engine.plan_facts import ebs_csi_addons, helm_chart

Edge = Literal["dependency", "parent", "provider", "runtime"]


@dataclass(frozen=True)
class Step:
    urn: str
    type: str
    name: str
    seconds: float
    basis: str
    start: float
    finish: float
    waits_for: str  # URN of the predecessor that set `start` ('' when none)
    via: str  # "dependency", "parent" or "provider"




def chain_to(steps: Mapping[str, Step], urn: str) -> tuple[Step, ...]:
    """The chain of waits that ends at `urn`, first step first."""
    chain: list[Step] = []
    step: Step | None = steps.get(urn)
    while step is not None:
        chain.append(step)
        step = steps.get(step.waits_for)
    return tuple(reversed(chain))


def predecessors(plan: Plan, runtime: bool = True) -> dict[str, list[tuple[str, Edge]]]:
    """What each registration waits for, with the kind of wait.

    `runtime` adds the waits the engine does not know about but the cluster imposes (`runtime_waits`).
    """
    known = {r.urn: r for r in plan.resources}
    providers: dict[str, list[Registration]] = {}
    for r in plan.resources:
        if r.type.startswith("pulumi:providers:"):
            providers.setdefault(r.type.removeprefix("pulumi:providers:"), []).append(r)
    preds: dict[str, list[tuple[str, Edge]]] = {}
    for r in plan.resources:
        edges: list[tuple[str, Edge]] = [(u, "dependency") for u in dict.fromkeys(r.dependencies) if u in known]
        if r.parent in known:
            edges.append((r.parent, "parent"))
        provider = _provider_of(r, plan, providers)
        if provider in known and provider != r.urn:  # default providers are not registrations of the plan
            edges.append((provider, "provider"))
        preds[r.urn] = edges
    if runtime:
        for urn, waits in runtime_waits(plan).items():
            preds[urn] += [(w, "runtime") for w in waits if w not in {p for p, _ in preds[urn]}]
    return preds


def runtime_waits(plan: Plan) -> dict[str, list[str]]:
    """Physical waits outside the dependency graph: pods run only on a schedulable node, Vault's PVCs bind only once
    the EBS CSI driver runs. A release that does not wait for them is modelled as finishing after them anyway (its
    pods cannot be ready before), and `tools.deploy_time.findings` reports the absent dependency."""
    schedulable = [r.urn for r in plan.resources if r.type in NODE_GROUP_TYPES and not r.inputs.get("taints")]
    ebs_csi = ebs_csi_addons(plan)
    waits: dict[str, list[str]] = {}
    for r in plan.resources:
        chart = helm_chart(r)
        if (chart and chart not in CRD_ONLY_CHARTS) or r.type in WORKLOAD_TYPES:
            waits[r.urn] = list(schedulable)
        if chart in PVC_CHARTS:
            waits[r.urn] = waits.get(r.urn, []) + ebs_csi
    return waits


def _provider_of(r: Registration, plan: Plan, providers: Mapping[str, list[Registration]]) -> str:
    recorded = str(getattr(r, "provider", "") or "")  # "urn::id" when the recorder keeps it
    if recorded:
        return recorded.rsplit("::", 1)[0]
    if not r.custom or r.type.startswith("pulumi:providers:"):
        return ""
    candidates = providers.get(r.type.split(":", 1)[0], [])
    if len(candidates) <= 1:
        return candidates[0].urn if candidates else ""
    ancestors = _ancestors(r, plan)
    return max(candidates, key=lambda p: _depth_in(p.parent, ancestors)).urn


def _ancestors(r: Registration, plan: Plan) -> list[str]:
    chain: list[str] = []
    node = plan.by_urn(r.parent)
    while node is not None:
        chain.append(node.urn)
        node = plan.by_urn(node.parent)
    return chain


def _depth_in(urn: str, ancestors: list[str]) -> int:
    return len(ancestors) - ancestors.index(urn) if urn in ancestors else -1


def schedule(plan: Plan, preds: Mapping[str, list[tuple[str, Edge]]] | None = None,
             durations: Mapping[str, tuple[float, str]] | None = None) -> dict[str, Step]:
    """Earliest start and finish of every registration (unbounded parallelism)."""
    preds = preds if preds is not None else predecessors(plan)
    durations = durations or durations_of(plan)
    by_urn = {r.urn: r for r in plan.resources}
    steps: dict[str, Step] = {}
    visiting: set[str] = set()

    def visit(urn: str) -> Step:
        if urn in steps:
            return steps[urn]
        if urn in visiting:
            raise ValueError(f"dependency cycle through {urn}")
        visiting.add(urn)
        start, waits_for, via = 0.0, "", ""
        for pred, kind in preds.get(urn, []):
            finish = visit(pred).finish
            if finish > start:
                start, waits_for, via = finish, pred, kind
        r = by_urn[urn]
        seconds, basis = durations[urn]
        steps[urn] = Step(urn, r.type, r.name, seconds, basis, start, start + seconds, waits_for, via)
        visiting.discard(urn)
        return steps[urn]

    for r in plan.resources:
        visit(r.urn)
    return steps


def wall_time(steps: Mapping[str, Step]) -> float:
    """When the last step finishes."""
    return max((s.finish for s in steps.values()), default=0.0)


def peak_concurrency(steps: Iterable[Step]) -> int:
    """Most steps that take time running at once."""
    events = sorted([(s.start, 1) for s in steps if s.seconds > 0] + [(s.finish, -1) for s in steps if s.seconds > 0],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def simulate(plan: Plan, parallelism: int, preds: Mapping[str, list[tuple[str, Edge]]] | None = None,
             durations: Mapping[str, tuple[float, str]] | None = None) -> float:
    """Wall time when at most `parallelism` creations run at once (ready resources start in program order)."""
    preds = preds if preds is not None else predecessors(plan)
    durations = durations or durations_of(plan)
    order = [r.urn for r in plan.resources]
    waiting = {u: {p for p, _ in preds.get(u, [])} for u in order}
    done: set[str] = set()
    running: list[tuple[float, str]] = []  # (finish, urn)
    now = 0.0
    while len(done) < len(order):
        ready = [u for u in order if u in waiting and waiting[u] <= done]
        for urn in ready[: max(0, parallelism - len(running))]:
            del waiting[urn]
            running.append((now + durations[urn][0], urn))
        if not running:
            raise ValueError("dependency cycle: nothing can start")
        running.sort()
        now, finished = running.pop(0)
        done.add(finished)
    return now

