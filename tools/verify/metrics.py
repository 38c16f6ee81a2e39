"""The PromQL behind `make verify`'s edge and denial checks, and those checks as pure functions over the answers.

Label names are the ones the Linkerd proxy of edge-26.8.3 writes (linkerd2 `.proxy-version` at tag edge-26.8.3 =
v2.366.0; read in linkerd2-proxy at tag release/v2.366.0):
- outbound `response_total` / `tcp_open_total` (`direction="outbound"`, transport metrics with `peer="dst"`) carry
  `tls="true"` plus `server_id` when the connection was mTLS, else `tls="no_identity"` plus `no_tls_reason`
  (or `tls="disabled"`); the destination's workload labels arrive prefixed `dst_` (`dst_namespace`,
  `dst_deployment`: `prefix_labels("dst", ...)` of the endpoint metadata). Ref: linkerd2-proxy
  linkerd/app/core/src/transport/labels.rs (TlsConnect, TlsAccept, `peer="dst"`), linkerd/app/outbound/src/*/
  concrete.rs (`prefix_labels("dst", ...)`), linkerd/transport-metrics (`tcp_open_total`).
- `inbound_http_authz_deny_total` and `inbound_tcp_authz_deny_total` (linkerd/app/inbound/src/metrics/authz.rs)
  carry the server (`srv_kind`, `srv_name`, `srv_port`), `target_addr` and the caller: `tls="true"` +
  `client_id` (`<sa>.<ns>.serviceaccount.identity.<linkerd ns>.<trust domain>`), else `no_tls_reason`; a default
  policy shows as `srv_kind="default"`, `srv_name=<policy>` (linkerd/proxy/server-policy/src/meta.rs).
- The source workload's `namespace` and `deployment` are added by the scrape, as linkerd-viz's `linkerd-proxy`
  job does (labelmap of the pod label `linkerd.io/proxy-deployment`, linkerd-viz templates/prometheus.yaml at
  edge-26.8.3); the
  kube-prometheus-stack PodMonitor must relabel the same way for the source column to be filled.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Final

from tools.verify.model import Expectations, Obj, Row, Snapshot, Status, meshed_namespaces

_WINDOW = re.compile(r"^[1-9][0-9]*[smhd]$")
EDGE_LABELS = "namespace, deployment, dst_namespace, dst_deployment, tls, no_tls_reason"
DENY_LABELS = "namespace, deployment, srv_kind, srv_name, client_id, no_tls_reason"


def valid_window(window: str) -> bool:
    return bool(_WINDOW.match(window))


def edge_queries(window: str) -> list[str]:
    """Outbound requests and connections per (source, destination, tls) over the window."""
    if not valid_window(window):
        raise ValueError(f"window {window!r} is not a Prometheus duration like 30m, 1h or 1d")
    return [f'sum by ({EDGE_LABELS}) (increase(response_total{{direction="outbound"}}[{window}]))',
            f'sum by ({EDGE_LABELS}) (increase(tcp_open_total{{direction="outbound",peer="dst"}}[{window}]))']


def denial_queries(window: str) -> list[str]:
    if not valid_window(window):
        raise ValueError(f"window {window!r} is not a Prometheus duration like 30m, 1h or 1d")
    return [f"sum by ({DENY_LABELS}) (increase({metric}[{window}])) > 0"
            for metric in ("inbound_http_authz_deny_total", "inbound_tcp_authz_deny_total")]


# Vault's database plugin error counters (the alerts' metrics, components/monitoring/alert_specs.py
# credential_alerts): what each operation means for the services.
CREDENTIAL_OPERATIONS: Final = {"NewUser": "issuing a credential", "Initialize": "connecting to the database",
                                "UpdateUser": "rotating a static credential / rotate-root"}


def credential_queries(window: str) -> dict[str, str]:
    """Per operation: errors per Vault pod in the window (a counter's first appearance counts, as in the alerts).
    Read from Prometheus: Vault's own lease and role state needs a Vault token, which `make verify` does not hold."""
    if not valid_window(window):
        raise ValueError(f"window {window!r} is not a Prometheus duration like 30m, 1h or 1d")
    out = {}
    for op in CREDENTIAL_OPERATIONS:
        metric = f"vault_database_{op}_error"
        out[op] = (f"sum by (pod) (increase({metric}[{window}])) > 0 or "
                   f"sum by (pod) ({metric} unless {metric} offset {window}) > 0")
    return out


def check_credentials(snap: Snapshot, exp: Expectations) -> list[Row]:
    """Vault's database engine issued, connected and rotated without an error in the window (stacks with clients)."""
    if not exp.vault_credentials:
        return []
    if snap.credential_errors is None:
        return _unavailable("vault-credentials", snap, exp)
    rows = []
    for sample in sorted(snap.credential_errors, key=lambda s: sorted((s.get("metric") or {}).items())):
        labels, value = sample.get("metric") or {}, _value(sample)
        op = labels.get("operation", "?")
        if value > 0:
            rows.append(Row("vault-credentials", f"vault/{labels.get('pod', '?')}", Status.FAIL,
                            f"{value:.0f} error(s) {CREDENTIAL_OPERATIONS.get(op, op)} ({op}) in {exp.window}: "
                            "docs/observability.md#vaultcredentialissuancefailed"))
    if not rows:
        rows.append(Row("vault-credentials", "database engine", Status.OK,
                        f"no issuance, connection or rotation errors in the last {exp.window}"))
    return rows


def _value(sample: Obj) -> float:
    try:
        return float(sample["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return 0.0


def _workload(namespace: str | None, deployment: str | None) -> str:
    return f"{namespace or '?'}/{deployment or '?'}"


def _unavailable(check: str, snap: Snapshot, exp: Expectations) -> list[Row]:
    """No metrics: a failure where the stack runs Prometheus (monitoring.enabled), else a warning (nothing to ask)."""
    if exp.metrics_required:
        return [Row(check, "prometheus", Status.FAIL,
                    f"metrics unavailable although monitoring is enabled: {snap.metrics_error}")]
    return [Row(check, "prometheus", Status.WARN, f"metrics unavailable, not verified: {snap.metrics_error}")]


def check_edges(snap: Snapshot, exp: Expectations) -> list[Row]:
    """Every observed edge into a meshed namespace was mTLS only; traffic leaving the mesh is listed as such."""
    if snap.edges is None:
        return _unavailable("mtls-edges", snap, exp)
    meshed = set(meshed_namespaces(snap, exp))
    by_edge: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for sample in snap.edges:
        labels, value = sample.get("metric") or {}, _value(sample)
        if value <= 0:
            continue
        tls = labels.get("tls", "?")
        key = tls if tls == "true" else f"tls={tls}" + (f" ({labels['no_tls_reason']})"
                                                        if labels.get("no_tls_reason") else "")
        edge = (_workload(labels.get("namespace"), labels.get("deployment")),
                _workload(labels.get("dst_namespace"), labels.get("dst_deployment")))
        by_edge[edge][key] += value
    if not by_edge:
        return [Row("mtls-edges", "mesh", Status.WARN,
                    f"no service-to-service traffic observed in the last {exp.window}: mTLS not proven")]
    rows = []
    for (src, dst), counts in sorted(by_edge.items()):
        plain = {k: v for k, v in counts.items() if k != "true"}
        secured = counts.get("true", 0.0)
        subject = f"{src} -> {dst}"
        if not plain:
            rows.append(Row("mtls-edges", subject, Status.OK,
                            f"mTLS only ({secured:.0f} requests+connections in {exp.window})"))
        elif dst.split("/")[0] in meshed:
            what = ", ".join(f"{v:.0f} {k}" for k, v in sorted(plain.items()))
            rows.append(Row("mtls-edges", subject, Status.FAIL,
                            f"PLAINTEXT inside the mesh: {what} (besides {secured:.0f} mTLS) in {exp.window}"))
        else:
            rows.append(Row("mtls-edges", subject, Status.OK,
                            "leaves the mesh (no Linkerd identity at the destination): its TLS is the "
                            "application's, e.g. RDS/MQ/Valkey"))
    return rows


def caller_of(client_id: str | None) -> tuple[str, str] | None:
    """(namespace, service account) of a Linkerd identity `<sa>.<ns>.serviceaccount.identity.<...>`."""
    parts = (client_id or "").split(".")
    if len(parts) > 3 and parts[2] == "serviceaccount":
        return parts[1], parts[0]
    return None


def check_denials(snap: Snapshot, exp: Expectations) -> list[Row]:
    """Authorization denials in the window: from a meshed caller = a missing/undeclared edge (fail); else warn."""
    if snap.denials is None:
        return _unavailable("authz-denials", snap, exp)
    meshed = set(meshed_namespaces(snap, exp))
    rows = []
    for sample in sorted(snap.denials, key=lambda s: sorted((s.get("metric") or {}).items())):
        labels, value = sample.get("metric") or {}, _value(sample)
        if value <= 0:
            continue
        target = f"{_workload(labels.get('namespace'), labels.get('deployment'))} " \
                 f"({labels.get('srv_kind', 'server')} {labels.get('srv_name', '?')})"
        caller = caller_of(labels.get("client_id"))
        if caller and caller[0] in meshed:
            rows.append(Row("authz-denials", target, Status.FAIL,
                            f"{value:.0f} denied from meshed caller {caller[0]}/{caller[1]} in {exp.window}: "
                            "a call the service catalog does not declare"))
        else:
            who = f"{caller[0]}/{caller[1]}" if caller else \
                f"unauthenticated ({labels.get('no_tls_reason') or 'no client identity'})"
            rows.append(Row("authz-denials", target, Status.WARN,
                            f"{value:.0f} denied from {who} in {exp.window}: policy held; find the caller"))
    if not rows:
        rows.append(Row("authz-denials", "mesh", Status.OK, f"no authorization denials in the last {exp.window}"))
    return rows
