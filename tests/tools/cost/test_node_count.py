"""The node-count model: its platform figures match what the real Helm renders request, and its counts follow the
plan (HPA bounds, pool bounds) at 1x and 5x load."""

from __future__ import annotations

import pytest

from tests.conftest import STACKS, plan_of
from tests.helpers.helm_render import rendered
from tests.helpers.k8s_schemas import flatten
from tests.helpers.pod_security import pod_templates
from tools.cost.node_count import DAEMONSET_CPU_M, PLATFORM_CPU_M, _cpu_m, node_count


def _requested(stack: str) -> tuple[float, float]:
    replicated = per_node = 0.0
    for objects in rendered(stack).values():
        for obj in flatten(objects):
            if obj.get("kind") not in ("Deployment", "StatefulSet", "DaemonSet"):
                continue
            for _, spec in pod_templates(obj):
                cpu = sum(_cpu_m(str(((c.get("resources") or {}).get("requests") or {}).get("cpu", "0")))
                          for c in spec.get("containers", []))
                if obj["kind"] == "DaemonSet":
                    per_node += cpu
                else:
                    replicated += cpu * obj["spec"].get("replicas", 1)
    return replicated, per_node


@pytest.mark.parametrize("stack", STACKS)
def test_platform_figures_are_the_rendered_requests(stack: str) -> None:
    assert _requested(stack) == (PLATFORM_CPU_M[stack], DAEMONSET_CPU_M[stack])


@pytest.mark.parametrize("stack", STACKS)
def test_counts_grow_with_load_within_the_pools(stack: str) -> None:
    plan = plan_of(stack)
    normal, launch = node_count(stack, plan, 1.0), node_count(stack, plan, 5.0)
    groups = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    high = sum(g.inputs["scalingConfig"]["maxSize"] for g in groups)
    assert normal.nodes <= launch.nodes <= high
    assert normal.app_pods < launch.app_pods
    # The default catalog's maxReplicas (6) stops every service at 1.5x its minimum (4): 5x is capped.
    assert launch.capped
