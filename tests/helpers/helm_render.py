"""Render a Helm release of the offline plan with the real Helm engine (helm-python-sdk: Helm v4's Go SDK).

What is rendered is exactly what the program registered: the `kubernetes:helm.sh/v3:Release`'s chart, version,
release name, namespace and values as the plan recorded them, so a test cannot drift from the program. The pinned
charts come from the optional upstream chart data next to the repository or from the cache `make charts` fills
(`.charts/`, tools/charts); without either the tests skip with one line. Rendering is offline (Helm's `lookup` returns
nothing), like `helm template`. `crd_documents` gives the CRDs Helm installs from a chart's `crds/` directories.
"""

from __future__ import annotations

import functools
from typing import Any

import helm_python as helm
import pytest

from tests.conftest import STACKS, plan_of
from tests.helpers.shared_cache import shared
from tools.engine.helm_render import (
    CHART_CACHE,
    CHARTS,
    RELEASE,
    SEPARATOR,
    Obj,
    find_chart,
    parse_manifests,
    render_inputs,
)
from tools.engine.mock_engine import Registration

__all__ = ["CHARTS", "CHART_CACHE", "RELEASE", "SEPARATOR", "Obj", "chart_dir", "crd_documents", "named",
           "parse_manifests", "render", "rendered"]


def chart_dir(chart: str, version: str) -> Any:
    found = find_chart(chart, version, (CHARTS, CHART_CACHE))  # read here: tests patch them
    if found is None:
        pytest.skip(f"pinned chart {chart} {version} is neither in the upstream chart data nor in .charts/ "
                    "(make charts)")
    return found


@functools.cache
def _load(chart: str, version: str) -> helm.Chart:
    """A chart read only for its metadata, values and CRDs (a render loads its own: Helm may prune subcharts)."""
    return helm.Chart.load(str(chart_dir(chart, version)))


def render(release: Registration) -> list[Obj]:
    """Every object the chart renders for this registration (NOTES.txt and empty documents left out)."""
    inputs = release.inputs
    return render_inputs(inputs, chart_dir(inputs["chart"], inputs["version"]))


def rendered(stack: str) -> dict[str, list[Obj]]:
    """Release name -> rendered objects, for every release the stack's plan registers (once per test run)."""
    others = [(f"render-{other}", functools.partial(_render_stack, other)) for other in STACKS if other != stack]
    result: dict[str, list[Obj]] = shared(f"render-{stack}", functools.partial(_render_stack, stack), also=others)
    return result


def _render_stack(stack: str) -> dict[str, list[Obj]]:
    return {r.inputs["name"]: render(r) for r in plan_of(stack).of_type(RELEASE)}


def named(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name]
    names = sorted(o["metadata"]["name"] for o in objects if o.get("kind") == kind)
    assert len(found) == 1, f"expected one {kind} {name}, rendered: {names}"
    return found[0]


def crd_documents(release: Registration) -> list[tuple[str, str]]:
    """(file, YAML text) of every CRD document Helm installs from the chart's `crds/` directories for this release.

    Helm installs them before the templates, from the chart and from every subchart its dependency conditions
    enable (helm.sh/helm/v4 pkg/action/install.go: ProcessDependencies, then CRDObjects), unless `skipCrds` is set.
    Left as text: the CRD schema loader parses only the documents whose kinds it needs (a few MB of CRDs).
    Ref: https://helm.sh/docs/chart_best_practices/custom_resource_definitions/ ;
    https://helm.sh/docs/topics/charts/#tags-and-condition-fields-in-dependencies
    """
    inputs = release.inputs
    if inputs.get("skipCrds"):
        return []
    chart = _load(inputs["chart"], inputs["version"])
    values = chart.merge_values(inputs["values"])
    disabled = {dep["name"] for dep in chart.metadata.get("dependencies", [])
                if not _condition(values, dep.get("condition", ""))}
    # filename: "<chart>/crds/x.yaml" or "<chart>/charts/<subchart>/crds/x.yaml"
    return [(file, text) for file, text in _crd_files(inputs["chart"], inputs["version"])
            if not (file.split("/")[1:2] == ["charts"] and file.split("/")[2] in disabled)]


@functools.cache
def _crd_files(chart: str, version: str) -> tuple[tuple[str, str], ...]:
    return tuple((crd["filename"], part) for crd in _load(chart, version).crds
                 for part in SEPARATOR.split(crd["data"]) if part.strip())


def _condition(values: dict[str, Any], condition: str) -> bool:
    """A dependency's `condition`: the first of its comma-separated value paths that is set decides; none: enabled."""
    for path in filter(None, (p.strip() for p in condition.split(","))):
        node: Any = values
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, bool):
            return node
    return True
