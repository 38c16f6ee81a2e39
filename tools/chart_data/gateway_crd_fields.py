"""Regenerates tests/upstream_facts/gateway_crd_fields.yaml from the Gateway API CRDs the linkerd-crds chart installs.

Usage: python -m tools.chart_data.gateway_crd_fields <dir with gateway.networking.k8s.io_{grpc,http}routes.yaml> >
out.yaml The chart's templates are Helm files: lines that are only `{{ ... }}` are dropped, inline ones blanked.
Lists, per kind, the served and storage versions and, for the storage version, the property names of every
object under `spec` (path with list items flattened) plus the enum values of enumerated leaf fields.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

_TEMPLATE = re.compile(r"\{\{.*?\}\}")


def _walk(schema: dict[str, Any], path: str, out: dict[str, Any]) -> None:
    if schema.get("type") == "array":
        _walk(schema.get("items", {}), path, out)
        return
    props = schema.get("properties")
    if props:
        out[path] = sorted(props)
        for name, sub in props.items():
            _walk(sub, f"{path}.{name}", out)
    elif "enum" in schema:
        out[f"{path}(enum)"] = sorted(str(v) for v in schema["enum"])


def fields(crd_file: Path) -> tuple[str, dict[str, Any]]:
    text = "\n".join(line for line in crd_file.read_text().splitlines() if not line.lstrip().startswith("{{"))
    crd = yaml.safe_load(_TEMPLATE.sub("x", text))
    versions = crd["spec"]["versions"]
    storage = next(v for v in versions if v.get("storage"))
    out: dict[str, Any] = {"served": sorted(v["name"] for v in versions if v.get("served")),
                           "storage": storage["name"]}
    _walk(storage["schema"]["openAPIV3Schema"]["properties"]["spec"], "spec", out)
    return str(crd["spec"]["names"]["kind"]), out


def main(directory: str) -> None:
    result = dict(fields(Path(directory) / f"gateway.networking.k8s.io_{n}.yaml") for n in ("grpcroutes", "httproutes"))
    print(yaml.safe_dump(result, sort_keys=True), end="")


if __name__ == "__main__":
    main(sys.argv[1])
