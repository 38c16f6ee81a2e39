"""Render a Helm release of the offline plan with the real Helm engine (helm-python-sdk: Helm v4's Go SDK).

Shared by the render tests (tests/helpers/helm_render.py, which skip when a chart is absent) and `make audit` (the
rendered manifests are what checkov scans). What is rendered is exactly what the program registered: the
`kubernetes:helm.sh/v3:Release`'s chart, version, release name, namespace and values as the plan recorded them.
The pinned charts come from the optional upstream chart data next to the repository or from the cache `make charts`
fills (`.charts/`, tools/charts). Rendering is offline (Helm's `lookup` returns nothing), like `helm template`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from tools.engine.mock_engine import ROOT

CHARTS = ROOT.parent / "shared" / "reference" / "upstream" / "charts"
CHART_CACHE = ROOT / ".charts"  # `make charts` (tools/charts) unpacks the pinned charts here
RELEASE = "kubernetes:helm.sh/v3:Release"
# Helm's manifest separator (helm.sh/helm/v4 pkg/release/util SplitManifests, `(?:^|\s*\n)---\s*`): a `---` at a
# line start, which templates may follow directly with a comment (`---# ...`). Written without Helm's leading `\s*`,
# which only moves trailing whitespace out of the previous document and backtracks quadratically over the deep
# indentation of CRDs (~1 s per stack).
SEPARATOR = re.compile(r"(?:^|\n)---\s*")
Obj = dict[str, Any]


class Loader(yaml.CSafeLoader):
    """libyaml's safe loader (~10x faster on megabytes of rendered charts), plus a bare `=`, which YAML 1.1 reads as
    the `value` tag and Prometheus Operator's CRDs contain (PyYAML issue #89)."""


def _value(loader: yaml.BaseLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


Loader.add_constructor("tag:yaml.org,2002:value", _value)


def find_chart(chart: str, version: str, bases: Sequence[Path] = (CHARTS, CHART_CACHE)) -> Path | None:
    """The pinned chart's directory (upstream chart data first, then `.charts/`), None when neither has it."""
    for base in bases:
        if (base / f"{chart}-{version}").is_dir():
            return base / f"{chart}-{version}"
    return None


def render_inputs(inputs: Mapping[str, Any], chart_path: Path) -> list[Obj]:
    """Every object the chart at `chart_path` renders for a release's inputs (NOTES.txt, empty documents left out)."""
    chart = helm.Chart.load(str(chart_path))
    manifests = chart.render(values=inputs["values"], name=inputs["name"], namespace=inputs["namespace"],
                             is_install=True)
    return [_as_installed(obj) for obj in parse_manifests(manifests)]


# Helm's offline capabilities (helm.sh/helm/v4 pkg/chart/common DefaultVersionSet: client-go's scheme) do not list
# apiregistration.k8s.io, which the API server itself serves; an install asks the cluster and sees v1 (v1beta1 was
# removed in Kubernetes 1.22). Charts that branch on `.Capabilities.APIVersions.Has "apiregistration.k8s.io/v1"`
# (prometheus-adapter 5.3.0 templates/*-apiservice.yaml) get here what the cluster gives them; both versions have
# the same fields.
_INSTALL_API_VERSIONS: dict[str, str] = {"apiregistration.k8s.io/v1beta1": "apiregistration.k8s.io/v1"}


def _as_installed(obj: Obj) -> Obj:
    version = obj.get("apiVersion")
    if isinstance(version, str) and version in _INSTALL_API_VERSIONS:
        return {**obj, "apiVersion": _INSTALL_API_VERSIONS[version]}
    return obj


def parse_manifests(manifests: dict[str, str]) -> list[Obj]:
    """The objects of a `Chart.render` result (NOTES.txt and empty documents left out)."""
    return [obj for path, text in sorted(manifests.items()) if not path.endswith("NOTES.txt")
            for part in SEPARATOR.split(text) if part.strip() for obj in [yaml.load(part, Loader=Loader)] if obj]
