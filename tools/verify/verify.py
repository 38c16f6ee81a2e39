"""Post-deploy verification of a live stack, like `linkerd check` for this platform (`make verify STACK=prod`).

    python -m tools.verify --stack prod                       # kubeconfig from `pulumi stack output kubeconfig`
    python -m tools.verify --stack prod --kubeconfig kc.json  # or a file (then --trust-anchor is optional)
    python -m tools.verify --stack prod --json --window 30m

Reads the cluster through the stack's kubeconfig (and Prometheus through the API server's service proxy), then runs
the pure checks of tools/verify/checks.py and tools/verify/metrics.py: trust anchor and identity issuer windows,
every cert-manager Certificate Ready, Vault initialised/unsealed/one leader, every pod of the meshed namespaces
carrying the proxy, every observed edge mTLS, authorization denials. docs/verify.md explains each check.
Exit codes: 0 all ok (warnings allowed), 1 a check failed, 2 cannot connect (or invalid stack configuration).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from components.mesh.mesh import vault_app_clients
from config.load import build_stack_config, run_date
from config.model import ConfigError
from tools.engine.mock_engine import list_stacks, load_stack_settings
from tools.verify.checks import run_checks
from tools.verify.fetch import CannotConnect, Source, fetch_snapshot
from tools.verify.metrics import valid_window
from tools.verify.model import Expectations, Row, Snapshot, Status, worst

Fetcher = Callable[[Source, Expectations], Snapshot]
MARK = {Status.OK: "ok", Status.WARN: "WARN", Status.FAIL: "FAIL"}


def expectations(stack: str, window: str) -> Expectations:
    """The stack's configuration, offline (same settings `make plan` reads): app namespace and Vault size."""
    cfg = build_stack_config(stack, load_stack_settings(stack), today=run_date(stack))
    vault_services = vault_app_clients(cfg)  # the services with a Vault role, as the mesh layer admits them
    return Expectations(stack=stack, app_namespace=cfg.app_namespace_name, vault_replicas=3 if cfg.is_ha else 1,
                        window=window, metrics_required=cfg.monitoring_enabled,
                        vault_credentials=bool(vault_services), vault_services=vault_services)


def render_table(stack: str, rows: Sequence[Row]) -> str:
    widths = [max([len(h)] + [len(getattr(r, h.lower())) for r in rows]) for h in ("CHECK", "SUBJECT")]
    lines = [f"{'CHECK':<{widths[0]}}  {'SUBJECT':<{widths[1]}}  STATUS  DETAIL"]
    lines += [f"{r.check:<{widths[0]}}  {r.subject:<{widths[1]}}  {MARK[r.status]:<6}  {r.detail}" for r in rows]
    counts = Counter(r.status for r in rows)
    lines.append("")
    lines.append(f"stack {stack}: {worst(rows).value.upper()} - {counts[Status.OK]} ok, {counts[Status.WARN]} warn, "
                 f"{counts[Status.FAIL]} fail (docs/verify.md: what each failure means and what to do first)")
    return "\n".join(lines)


def render_json(stack: str, rows: Sequence[Row]) -> str:
    counts = Counter(r.status.value for r in rows)
    doc: dict[str, Any] = {
        "stack": stack, "status": worst(rows).value,
        "counts": {s.value: counts[s.value] for s in Status},
        "results": [{"check": r.check, "subject": r.subject, "status": r.status.value, "detail": r.detail}
                    for r in rows],
    }
    return json.dumps(doc, indent=2)


def settled_rows(fetch: Fetcher, source: Source, exp: Expectations, settle: float, interval: float = 20.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> list[Row]:
    """Fetch and check; while something fails and `settle` seconds have not passed, wait and try again. Right after
    `pulumi up`, a Certificate may still be issuing or a pod starting: a smoke test should judge the settled state,
    and a real failure still fails once the time is up."""
    deadline = clock() + settle
    while True:
        rows = run_checks(fetch(source, exp), exp)
        if worst(rows) is not Status.FAIL or clock() + interval > deadline:
            return rows
        print(f"verify {exp.stack}: {sum(r.status is Status.FAIL for r in rows)} failing check(s); "
              f"retrying in {interval:g} s", file=sys.stderr)
        sleep(interval)


def main(argv: list[str] | None = None, fetch: Fetcher = fetch_snapshot) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=list_stacks())
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: the stack's `kubeconfig` output)")
    parser.add_argument("--trust-anchor", help="PEM of Vault's root (default: the stack's `trust_anchor_pem`)")
    parser.add_argument("--json", action="store_true", help="machine-readable result")
    parser.add_argument("--window", default="1h", help="PromQL range of the edge and denial checks (default 1h)")
    parser.add_argument("--prometheus-namespace", default="monitoring")
    parser.add_argument("--prometheus-service", default="prometheus-operated:9090",
                        help="<service>:<port> reached through the API server's service proxy")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per API call")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds to keep retrying while a check fails (e.g. 300 right after `pulumi up`)")
    args = parser.parse_args(argv)
    if not valid_window(args.window):
        parser.error(f"--window {args.window!r}: a Prometheus duration like 30m, 1h or 1d")
    try:
        exp = expectations(args.stack, args.window)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    source = Source(stack=args.stack, kubeconfig=args.kubeconfig, trust_anchor=args.trust_anchor,
                    prometheus_namespace=args.prometheus_namespace, prometheus_service=args.prometheus_service,
                    timeout=args.timeout)
    try:
        rows = settled_rows(fetch, source, exp, args.settle)
    except CannotConnect as err:
        print(f"verify {args.stack}: cannot connect: {err}", file=sys.stderr)
        if args.json:  # machines get a document on stdout too
            print(json.dumps({"stack": args.stack, "status": "error", "error": f"cannot connect: {err}"}))
        return 2
    print(render_json(args.stack, rows) if args.json else render_table(args.stack, rows))
    return 1 if worst(rows) is Status.FAIL else 0


if __name__ == "__main__":
    sys.exit(main())
