"""Render a Helm release of the offline plan with the real Helm engine (helm-python-sdk: Helm v4's Go SDK).

What is rendered is exactly what the program registered: the `kubernetes:helm.sh/v3:Release`'s chart, version,
release name, namespace and values as the plan recorded them, so a test cannot drift from the program. The pinned
charts come from the optional upstream chart data next to the repository; without it the tests skip with one line.
Rendering is offline (Helm's `lookup` returns nothing), like `helm template`.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.conftest import ROOT, plan_of
from tools.engine.mock_engine import Registration

CHARTS = ROOT.parent / "shared" / "reference" / "upstream" / "charts"
RELEASE = "kubernetes:helm.sh/v3:Release"
# Helm's own manifest separator (helm.sh/helm/v4 pkg/release/util SplitManifests): a `---` at a line start, which
# templates may follow directly with a comment (`---# ...`).
_SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")
Obj = dict[str, Any]


def chart_dir(chart: str, version: str) -> Any:
    path = CHARTS / f"{chart}-{version}"
    if not path.is_dir():
        pytest.skip(f"pinned chart {chart} {version} not found under the upstream chart data ({CHARTS})")
    return path


def render(release: Registration) -> list[Obj]:
    """Every object the chart renders for this registration (NOTES.txt and empty documents left out)."""
    inputs = release.inputs
    chart = helm.Chart.load(str(chart_dir(inputs["chart"], inputs["version"])))
    manifests = chart.render(values=inputs["values"], name=inputs["name"], namespace=inputs["namespace"],
                             is_install=True)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects += [obj for part in _SEPARATOR.split(text) if part.strip() for obj in [yaml.safe_load(part)] if obj]
    return objects


@functools.cache
def rendered(stack: str) -> dict[str, list[Obj]]:
    """Release name -> rendered objects, for every release the stack's plan registers."""
    return {r.inputs["name"]: render(r) for r in plan_of(stack).of_type(RELEASE)}


def named(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name]
    names = sorted(o["metadata"]["name"] for o in objects if o.get("kind") == kind)
    assert len(found) == 1, f"expected one {kind} {name}, rendered: {names}"
    return found[0]


def parse_manifests(manifests: dict[str, str]) -> list[Obj]:
    """The objects of a `Chart.render` result, as `render` reads them (NOTES.txt and empty documents left out), with
    libyaml's safe loader where PyYAML has it (the same objects, ~10x faster)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [obj for path, text in sorted(manifests.items()) if not path.endswith("NOTES.txt")
            for part in _SEPARATOR.split(text) if part.strip() for obj in [yaml.load(part, Loader=loader)] if obj]
