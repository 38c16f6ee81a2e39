"""The shared vocabulary of `make verify`: what is fetched (`Snapshot`), what the stack's configuration expects
(`Expectations`), a result row and its `Status`, plus the cluster names the fetch and the checks both read.

tools/verify/fetch.py fills a `Snapshot`; the pure checks of tools/verify/checks.py and tools/verify/metrics.py
turn it into rows; tools/verify/verify.py prints them. Every module of the package imports these types from here
and none of them from each other's checks, so the package's import graph has no cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

Obj = dict[str, Any]

INJECT_ANNOTATION = "linkerd.io/inject"


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Row:
    check: str
    subject: str
    status: Status
    detail: str


@dataclass(frozen=True)
class Expectations:
    """What the stack's configuration says the cluster should look like."""

    stack: str
    app_namespace: str  # StackConfig.app_namespace_name: always meshed
    vault_replicas: int  # 3 in HA environments, else 1
    window: str = "1h"  # PromQL range of the edge and denial checks
    metrics_required: bool = False  # the stack runs Prometheus (monitoring.enabled): no metrics is a failure
    vault_credentials: bool = False  # some catalog service gets its credentials from Vault's database engine
    vault_services: tuple[str, ...] = ()  # those services (the credential report must have a row for each)


@dataclass(frozen=True)
class Snapshot:
    """Everything the checks read, fetched once. `None` = the object does not exist (or metrics unavailable)."""

    now: datetime
    namespaces: list[Obj] = field(default_factory=list)
    pods: list[Obj] = field(default_factory=list)  # pods of the meshed namespaces
    vault_pods: list[Obj] = field(default_factory=list)
    certificates: list[Obj] = field(default_factory=list)  # cert-manager.io/v1 Certificates, all namespaces
    trust_roots: Obj | None = None  # ConfigMap linkerd/linkerd-identity-trust-roots
    issuer_secret: Obj | None = None  # Secret linkerd/linkerd-identity-issuer (tls.crt and ca.crt only)
    expected_anchor_pem: str | None = None  # stack output trust_anchor_pem (Vault's current root)
    edges: list[Obj] | None = None  # Prometheus vector samples (tools/verify/metrics.py queries)
    denials: list[Obj] | None = None
    metrics_error: str | None = None
    credential_errors: list[Obj] | None = None  # samples of credential_queries, labelled with `operation`
    credential_report: Obj | None = None  # ConfigMap vault/credential-report (components/vault/credential_report)


Check = Callable[[Snapshot, Expectations], list[Row]]


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def meshed_namespaces(snap: Snapshot, exp: Expectations) -> list[str]:
    """The app namespace plus every namespace annotated for injection: where a pod without the proxy is a failure
    (tools/verify/checks.py) and plaintext into it is a failure (tools/verify/metrics.py)."""
    annotated = {meta(ns)["name"] for ns in snap.namespaces
                 if (meta(ns).get("annotations") or {}).get(INJECT_ANNOTATION) == "enabled"}
    return sorted(annotated | {exp.app_namespace})


def worst(rows: Iterable[Row]) -> Status:
    statuses = {r.status for r in rows}
    return next((s for s in (Status.FAIL, Status.WARN) if s in statuses), Status.OK)
