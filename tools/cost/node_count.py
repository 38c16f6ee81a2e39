"""Modelled node count of a stack at a multiple of normal load (`python -m tools.cost.node_count --stack prod`).

Cluster Autoscaler adds a node when a pod does not fit by its *requests* and drains one that stays under
`autoscaling.scaleDownUtilization`; the HPAs grow each service from the catalog's minimum (sized for normal traffic)
toward its maximum. So the model is requests, not usage: at `load` x normal, each catalog service runs
clamp(ceil(min x load), min, max) pods, each requesting its container's CPU plus the Linkerd proxy's; the platform's
own pods (every Deployment/StatefulSet the stack's Helm releases render, measured from the real renders and kept
current by tests/tools/cost/test_node_count.py) come on top, and each node gives up what its DaemonSets and EKS's own
agents request. CPU is the binding resource for these pods (memory requests are a quarter of a node's per CPU).
The result is bounded by the node pools' min/max, which is also where a 5x launch stops growing.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Final

from tools.engine.mock_engine import Plan, run_stack
from tools.engine.plan_facts import dig

# CPU requests (millicores) of the pods the stack's releases render, summed over replicas (measured 2026-12-07 from
# the real Helm renders of the four plans, Flagger's controller included where rollout.progressive is on: dev 1 x 10m,
# staging/prod 2 x 10m; the test re-measures them and fails when a release grows past the figure).
# The Vault Agent injector adds 50m per replica (1 outside HA, 3 in HA) where a service has a Vault role.
PLATFORM_CPU_M: Final = {"sandbox": 1100, "dev": 1860, "staging": 4395, "prod": 4395}
# Per node: the releases' DaemonSets (Linkerd CNI, node-exporter where monitoring runs: measured as above) plus EKS's
# own agents, an assumption: kube-proxy 100m and aws-node 25m (EKS add-on defaults) and the EBS CSI node pod and
# the CloudWatch agent / Fluent Bit, ~75m together.
DAEMONSET_CPU_M: Final = {"sandbox": 20, "dev": 120, "staging": 120, "prod": 120}
EKS_AGENTS_CPU_M: Final = 200
# A 2-vCPU node's allocatable CPU: EKS reserves 6 % of the first core and 1 % of the second for the kubelet.
# Ref: https://github.com/awslabs/amazon-eks-ami (bootstrap kube-reserved CPU formula)
NODE_ALLOCATABLE_CPU_M: Final = 2000 - 60 - 10


def _cpu_m(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


@dataclass(frozen=True)
class NodeCount:
    load: float
    app_pods: int
    requested_cpu_m: float
    nodes_needed: int
    nodes: int  # bounded by the pools' min/max
    capped: bool  # demand exceeds the pools' max or some service its catalog max


def node_count(stack: str, plan: Plan, load: float) -> NodeCount:
    proxy_m = 100.0
    for r in plan.of_type("kubernetes:helm.sh/v3:Release"):
        if r.inputs["name"] == "linkerd-control-plane":
            proxy_m = _cpu_m(str(dig(r.inputs, "values.proxy.resources.cpu.request", "100m")))
    deployments = {r.inputs["metadata"]["name"]: r for r in plan.of_type("kubernetes:apps/v1:Deployment")}
    pods, cpu, capped = 0, float(PLATFORM_CPU_M[stack]), False
    for hpa in plan.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler"):
        spec = hpa.inputs["spec"]
        target = deployments.get(spec["scaleTargetRef"]["name"])
        if target is None:
            continue
        low, high = int(spec["minReplicas"]), int(spec["maxReplicas"])
        want = math.ceil(low * load)
        replicas = min(max(want, low), high)
        capped = capped or want > high
        containers = target.inputs["spec"]["template"]["spec"]["containers"]
        per_pod = sum(_cpu_m(str(c["resources"]["requests"]["cpu"])) for c in containers) + proxy_m
        pods += replicas
        cpu += replicas * per_pod
    per_node = NODE_ALLOCATABLE_CPU_M - DAEMONSET_CPU_M[stack] - EKS_AGENTS_CPU_M
    needed = math.ceil(cpu / per_node)
    groups = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    low = sum(int(g.inputs["scalingConfig"]["minSize"]) for g in groups)
    high = sum(int(g.inputs["scalingConfig"]["maxSize"]) for g in groups)
    return NodeCount(load, pods, cpu, needed, min(max(needed, low), high), capped or needed > high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", required=True, choices=sorted(PLATFORM_CPU_M))
    parser.add_argument("--load", type=float, action="append", help="multiples of normal load (default 1 and 5)")
    args = parser.parse_args(argv)
    plan = run_stack(args.stack)
    for load in args.load or [1.0, 5.0]:
        n = node_count(args.stack, plan, load)
        print(f"{args.stack} at {load:g}x: {n.app_pods} app pods, {n.requested_cpu_m / 1000:.2f} vCPU requested -> "
              f"{n.nodes_needed} nodes needed, {n.nodes} within the pools' bounds"
              + (" (capped: raise the catalog's maxReplicas or the pools' max sizes)" if n.capped else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
