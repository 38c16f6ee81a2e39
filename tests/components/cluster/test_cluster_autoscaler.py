"""Cluster Autoscaler per stack, read off the objects the real Helm engine renders for the release the plan registers:
it discovers exactly this cluster's node groups, runs as the service account its IRSA role trusts, runs the image of
the cluster's Kubernetes minor, prefers the spot pool, drains under the configured utilisation, is HA where the
environment is, and cannot take Vault or the Linkerd control plane below their budgets.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from components.cluster.cluster_autoscaler_values import POD_LABELS, SPOT_PRIORITY, SYSTEM_PRIORITY
from config.profiles import PROFILES
from config.versions import CLUSTER_AUTOSCALER_CHART, KUBERNETES_VERSION
from tests.conftest import HA, STACKS, plan_of
from tests.helpers.helm_render import RELEASE, named, rendered
from tests.helpers.k8s_schemas import Obj, flatten

DEPLOYMENT = "cluster-autoscaler-aws-cluster-autoscaler"


def args_of(stack: str) -> dict[str, str]:
    deployment = named(rendered(stack)["cluster-autoscaler"], "Deployment", DEPLOYMENT)
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    return dict(a.removeprefix("--").split("=", 1) for a in command if a.startswith("--"))


@pytest.mark.parametrize("stack", STACKS)
def test_release_is_the_pin_in_kube_system_as_the_irsa_service_account(stack: str) -> None:
    plan = plan_of(stack)
    release = next(r for r in plan.of_type(RELEASE) if r.inputs["name"] == "cluster-autoscaler")
    assert (release.inputs["version"], release.inputs["namespace"]) == (CLUSTER_AUTOSCALER_CHART, "kube-system")
    trust = json.loads(plan.one("aws:iam/role:Role", "cluster-autoscaler").inputs["assumeRolePolicy"])
    subjects = [v for s in trust["Statement"] for c in s["Condition"].values() for k, v in c.items()
                if k.endswith(":sub")]
    objects = rendered(stack)["cluster-autoscaler"]
    account = named(objects, "ServiceAccount", "cluster-autoscaler")
    assert subjects == [f"system:serviceaccount:kube-system:{account['metadata']['name']}"]
    assert "eks.amazonaws.com/role-arn" in account["metadata"]["annotations"]
    pod = named(objects, "Deployment", DEPLOYMENT)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_discovers_the_tags_node_pools_put_on_this_clusters_groups_only(stack: str) -> None:
    plan = plan_of(stack)
    discovery = args_of(stack)["node-group-auto-discovery"]
    assert discovery.startswith("asg:tag=")
    wanted = set(discovery.removeprefix("asg:tag=").split(","))
    assert wanted == {"k8s.io/cluster-autoscaler/enabled", f"k8s.io/cluster-autoscaler/mtls-platform-{stack}"}
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert wanted <= set(group.inputs["tags"]), group.name


@pytest.mark.parametrize("stack", STACKS)
def test_image_minor_matches_the_clusters_kubernetes_minor(stack: str) -> None:
    pod = named(rendered(stack)["cluster-autoscaler"], "Deployment", DEPLOYMENT)["spec"]["template"]["spec"]
    image = pod["containers"][0]["image"]
    assert image.startswith("registry.k8s.io/autoscaling/cluster-autoscaler:v")
    m = re.match(r"^v(\d+)\.(\d+)\.\d+$", image.rsplit(":", 1)[1])
    assert m is not None and f"{m.group(1)}.{m.group(2)}" == KUBERNETES_VERSION


@pytest.mark.parametrize("stack", STACKS)
def test_scale_down_follows_config_and_priority_prefers_the_spot_pool(stack: str) -> None:
    profile = PROFILES[stack]
    args = args_of(stack)
    assert float(args["scale-down-utilization-threshold"]) == profile.scale_down_utilization
    assert 0.5 <= float(args["scale-down-utilization-threshold"]) <= 0.8
    assert args["scale-down-unneeded-time"] == f"{profile.scale_down_unneeded_minutes}m"
    assert args["expander"] == "priority,least-waste"
    priorities = yaml.safe_load(named(rendered(stack)["cluster-autoscaler"], "ConfigMap",
                                      "cluster-autoscaler-priority-expander")["data"]["priorities"])
    groups = {g.name: g for g in plan_of(stack).of_type("aws:eks/nodeGroup:NodeGroup")}
    # An EKS managed node group's ASG is named eks-<node group name>-<uuid>; the mock engine names a group after
    # its resource name, as Pulumi's auto-naming prefixes it.
    ranked = {p: [g for g in groups if any(re.fullmatch(rx, f"eks-{g}-abc123-0000") for rx in rxs)]
              for p, rxs in priorities.items()}
    assert ranked[SYSTEM_PRIORITY] == ["cluster-system-ng"]
    if profile.spot_nodes_enabled:
        assert ranked[SPOT_PRIORITY] == ["cluster-spot-ng"] and SPOT_PRIORITY > SYSTEM_PRIORITY
    else:
        assert set(ranked) == {SYSTEM_PRIORITY}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("stack", STACKS)
def test_ha_where_the_environment_is_ha(stack: str) -> None:
    objects = rendered(stack)["cluster-autoscaler"]
    deployment = named(objects, "Deployment", DEPLOYMENT)
    pdb = named(objects, "PodDisruptionBudget", DEPLOYMENT)
    assert _selects(pdb["spec"]["selector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"])
    assert deployment["spec"]["replicas"] == (2 if stack in HA else 1)
    assert args_of(stack).get("leader-elect", "true") == "true"  # the second replica waits (the flag's default)
    spec = deployment["spec"]["template"]["spec"]
    if stack in HA:
        anti = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert anti["topologyKey"] == "kubernetes.io/hostname" and anti["labelSelector"]["matchLabels"] == POD_LABELS
        assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    else:
        assert "affinity" not in spec


def _pods(stack: str, release: str) -> list[tuple[Obj, int]]:
    return [(o, o["spec"].get("replicas", 1)) for o in flatten(rendered(stack)[release])
            if o.get("kind") in ("Deployment", "StatefulSet")]


@pytest.mark.parametrize("stack", STACKS)
def test_vault_and_linkerd_control_plane_keep_their_budgets_under_scale_down(stack: str) -> None:
    """In HA every Vault and Linkerd control-plane workload has a PDB the autoscaler honours (it evicts through the
    eviction API); outside HA the single Vault pod is marked not safe to evict, so its node is never drained to
    save capacity. (Linkerd outside HA: one replica each, the chart marks them safe to evict; they restart on
    another node, a brief gap for new meshed pods only.)"""
    for release in ("vault", "linkerd-control-plane"):
        pdbs = [o for o in flatten(rendered(stack)[release]) if o.get("kind") == "PodDisruptionBudget"]
        for workload, replicas in _pods(stack, release):
            labels = workload["spec"]["template"]["metadata"]["labels"]
            covering = [p for p in pdbs if _selects(p["spec"]["selector"]["matchLabels"], labels)]
            annotations = workload["spec"]["template"]["metadata"].get("annotations") or {}
            if stack in HA:
                assert covering, f"{release} {workload['metadata']['name']}: no PDB"
                assert replicas >= 3 and all(p["spec"].get("maxUnavailable") == 1 for p in covering)
            elif release == "vault" and workload["kind"] == "StatefulSet":
                # (The agent injector outside HA is like Linkerd's: evictable, a brief gap for new pods only.)
                assert annotations.get("cluster-autoscaler.kubernetes.io/safe-to-evict") == "false"
