"""Shared pieces of the platform's Helm values builders, and the key flattener the chart key lists are made with.

The values for each chart come from a pure builder beside its component, `components/<domain>/<chart>_values.py`:
no resources are created there, Pulumi Outputs appear only as leaf values, and every key a builder sets must exist in
the pinned chart (checked by tests/helpers/chart_keys.py against the key lists in tests/upstream_facts/chart_keys/,
which tools/chart_data/chart_keys.py generates from the charts' own values.yaml with the same `flatten` as below).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

Values = dict[str, Any]

ZONE: Final = "topology.kubernetes.io/zone"
HOSTNAME: Final = "kubernetes.io/hostname"


def _segment(key: object) -> str:
    """A key as one path segment; keys that contain a dot (label and annotation names) are quoted."""
    text = str(key)
    return f'"{text}"' if "." in text or not text else text


def flatten(values: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Dotted key paths of a values tree: maps are descended, a list is one leaf `path[]`, an empty map `path{}`.

    Lists are not descended because Helm replaces a list wholesale (it merges maps only), so a list's items are the
    value of one key, not keys of the chart. Anything else (scalars, None, Pulumi Outputs) is a leaf `path`.
    """
    paths: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}.{_segment(key)}" if prefix else _segment(key)
        if isinstance(value, Mapping):
            paths |= flatten(value, path) if value else {f"{path}{{}}"}
        elif isinstance(value, list | tuple):
            paths.add(f"{path}[]")
        else:
            paths.add(path)
    return paths


def resources(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str) -> Values:
    """A Kubernetes ResourceRequirements: requests and limits for both CPU and memory (CKV_K8S_10-13)."""
    return {"requests": {"cpu": cpu_request, "memory": memory_request},
            "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def zone_spread(match_labels: Mapping[str, str], *, hard: bool = False) -> list[Values]:
    """One topology spread constraint: pods with these labels spread evenly over availability zones.

    `hard` (DoNotSchedule) for quorum workloads that must survive an AZ loss; otherwise ScheduleAnyway, so a zone
    without capacity delays nothing.
    """
    return [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule" if hard else "ScheduleAnyway",
             "labelSelector": {"matchLabels": dict(match_labels)}}]


def prefer_other_nodes(match_labels: Mapping[str, str]) -> Values:
    """A Kubernetes Affinity preferring not to co-locate two replicas on one node (soft: never blocks a rollout)."""
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100,
        "podAffinityTerm": {"topologyKey": HOSTNAME, "labelSelector": {"matchLabels": dict(match_labels)}},
    }]}}
