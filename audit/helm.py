"""Helm releases and Kubernetes objects as the rules read them: which chart, its values, its namespace.

A release is `kubernetes:helm.sh/v3:Release` (or a v4 `Chart`) with `chart` and `values` inputs; values keys are the
pinned charts' own (vault-helm 0.34.1, cert-manager v1.21.1, linkerd-control-plane 2026.8.3; config/versions.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from audit import kinds
from audit.model import Resource, Stack, UnknownValue


def chart_of(r: Resource) -> str:
    """The chart's name from `chart` ("vault", "hashicorp/vault", "oci://.../vault", ".../vault-0.34.1.tgz")."""
    chart = r.get("chart", default="")
    if not isinstance(chart, str):
        return ""
    last = chart.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"-v?\d+\.\d+\.\d+.*\.tgz$", "", last)


def chart(name: str) -> Callable[[Resource], bool]:
    """A rule selector: releases of the named chart."""
    return lambda r: chart_of(r) == name


def values(r: Resource, *path: str, default: Any = None) -> Any:
    return r.get("values", *path, default=default)


def releases(stack: Stack, name: str) -> list[Resource]:
    return [r for r in stack.of_type(*kinds.HELM_RELEASES) if chart_of(r) == name]


def namespace_of(r: Resource) -> Any:
    """The literal namespace, or None while it is unknown (a stack rule should not give up on one resource)."""
    try:
        return r.get("namespace") if r.type in kinds.HELM_RELEASES else r.get("metadata", "namespace")
    except UnknownValue:
        return None
