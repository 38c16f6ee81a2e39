"""Every Helm values key the program sets is read by its chart and changes what the chart renders, and every container
the charts render has the platform's resource requests and memory limit: both read off real renders.

The releases are the plan's own (`releases_of`: chart, version, name, namespace, values as registered), rendered by
the real Helm engine from the pinned charts (tests/helpers/values_effect.py explains how a few renders per release
show the effect of every key). A key without effect fails with its stack, release, key and why; the fix belongs in
the values builder (`components/**/*_values.py`), not in an allow-list.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import STACKS
from tests.helpers.values_effect import (
    ALLOWED,
    ReleaseInputs,
    analyse,
    chart_of,
    go_text,
    leaves,
    releases_of,
    workloads,
)

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
# The house convention (audit/rules_workloads.py container-resources, CKV_K8S_10/11/12): requests for CPU and memory,
# and a memory limit (a CPU limit is optional there).
REQUIRED = (("requests", "cpu"), ("requests", "memory"), ("limits", "memory"))


def test_every_key_the_program_sets_changes_what_its_chart_renders() -> None:
    problems, checked = [], 0
    for stack in STACKS:
        for name, inputs in sorted(releases_of(stack).items()):
            report = analyse(inputs)
            keys = {leaf.key for leaf in leaves(inputs.values)}
            assert set(report.proof) | set(report.findings) == keys, f"{stack}/{name}: a key got no verdict"
            checked += len(keys)
            problems += [f"{stack}/{name}: {key}: {why}" for key, why in sorted(report.findings.items())]
    assert checked > 800  # every release of every stack was analysed
    assert not problems, "values keys that change nothing rendered (fix the values builder):\n" + "\n".join(problems)


@pytest.mark.parametrize(("value", "printed"), [(3.0, "3"), (2102, "2102"), (0.5, "0.5"), (870001, "870001"),
                                               (1000000, "1e+06"), (1234567.0, "1.234567e+06"), (0.00001, "1e-05"),
                                               (True, "true"), (None, "null"), ("100m", "100m")])
def test_markers_are_put_back_as_go_prints_the_values_they_replaced(value: Any, printed: str) -> None:
    # Helm decodes every number as a float64 and Go prints one >= 1e6 in exponent form: number markers stay below.
    assert go_text(value) == printed


def _cni_release(extra: dict[str, Any]) -> ReleaseInputs:
    """prod's linkerd2-cni release (the cheapest chart to render) with values added."""
    inputs = releases_of("prod")["linkerd2-cni"]
    values = inputs.values
    for key, value in extra.items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    return ReleaseInputs(inputs.chart, inputs.version, inputs.name, inputs.namespace, json.dumps(values))


def test_the_check_fails_for_a_key_no_template_reads_and_for_one_switched_off() -> None:
    report = analyse(_cni_release({"repairControler": {"enabled": True},  # misspelt: read by nothing
                                   "repairController": {"enabled": False}}))  # its resources then change nothing
    assert set(report.findings) == {"repairControler.enabled"} | {
        f"repairController.resources.{part}" for part in ("cpu.limit", "cpu.request", "memory.limit", "memory.request")}
    assert report.findings["repairControler.enabled"] == (
        "not declared in the chart's values.yaml, and no template reads it: changing it changes nothing rendered")
    switched_off = report.findings["repairController.resources.cpu.limit"]
    assert switched_off.startswith("declared in the chart's values.yaml") and "templates/cni-plugin.yaml reads it" in \
        switched_off and switched_off.endswith("what reads it is switched off")
    assert report.proof["repairController.enabled"].startswith("changes linkerd2-cni/templates/")
    assert report.proof["iptablesMode"] == "its marker is rendered"


@pytest.mark.parametrize("chart", sorted(ALLOWED))
def test_allowed_keys_are_set_and_read_by_no_template(chart: str) -> None:
    releases = [r for stack in STACKS for r in releases_of(stack).values() if r.chart == chart]
    assert releases, f"no stack installs {chart}"
    source = chart_of(chart, releases[0].version)
    for key in ALLOWED[chart]:
        path = tuple(key.split("."))
        assert any(path in {leaf.path for leaf in leaves(r.values)} for r in releases), f"{chart}: {key} is never set"
        readers = [f for f in source.sources if any(c and (c[:len(path)] == path or path[:len(c)] == c)
                                                    for c in source.chains(f))]
        assert readers == [], f"{chart}: {key} is read by {readers}: no allow-list entry needed"


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec["template"]["spec"]
    return [*(pod.get("initContainers") or []), *pod["containers"]]


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_container_requests_cpu_and_memory_and_caps_memory(stack: str) -> None:
    missing, containers = [], 0
    for name, inputs in sorted(releases_of(stack).items()):
        for obj in workloads(inputs):
            assert obj["kind"] in WORKLOADS
            for container in _containers(obj):
                containers += 1
                resources = container.get("resources") or {}
                absent = [".".join(p) for p in REQUIRED if not (resources.get(p[0]) or {}).get(p[1])]
                if absent:
                    missing.append(f"{stack}/{name}: {obj['kind']} {obj['metadata']['name']} container "
                                   f"{container['name']}: no {', '.join(absent)}")
    assert containers >= 15
    assert not missing, "containers without requests or a memory limit:\n" + "\n".join(missing)
