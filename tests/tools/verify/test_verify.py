"""`make verify`: each failure class flagged from realistic fixtures, a healthy cluster passes, output, exit codes.

Fixtures (tests/fixtures/verify/, made by its generate.py) are API-shaped objects of a prod cluster and Prometheus
vector answers; a failure directory overrides only the files that differ from `healthy/`. Checks run at the fixed
NOW the certificates were generated around.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tools.verify import verify
from tools.verify.checks import (
    check_identity_issuer,
    check_meshed_pods,
    check_trust_anchor,
    check_vault,
    has_proxy,
    run_checks,
)
from tools.verify.fetch import CannotConnect, Source, _public_secret
from tools.verify.metrics import caller_of, check_edges, denial_queries, edge_queries
from tools.verify.model import Expectations, Row, Snapshot, Status, worst

FIXTURES = FIXTURES / "verify"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PROD = Expectations(stack="prod", app_namespace="prod-app", vault_replicas=3)


def _read(case: str, name: str) -> object:
    path = FIXTURES / case / name if (FIXTURES / case / name).exists() else FIXTURES / "healthy" / name
    return path.read_text() if path.suffix == ".pem" else json.loads(path.read_text())


def snapshot(case: str = "healthy") -> Snapshot:
    def items(name: str) -> list[dict]:  # type: ignore[type-arg]
        return list(_read(case, name)["items"])  # type: ignore[index]

    def vectors(name: str) -> list[dict]:  # type: ignore[type-arg]
        return [s for answer in _read(case, name) for s in answer["data"]["result"]]  # type: ignore[attr-defined]

    return Snapshot(now=NOW, namespaces=items("namespaces.json"), pods=items("pods.json"),
                    vault_pods=items("vault-pods.json"), certificates=items("certificates.json"),
                    trust_roots=_read(case, "trust-roots.json"),  # type: ignore[arg-type]
                    issuer_secret=_read(case, "issuer-secret.json"),  # type: ignore[arg-type]
                    expected_anchor_pem=str(_read(case, "trust-anchor.pem")),
                    edges=vectors("edges.json"), denials=vectors("denials.json"), credential_errors=[],
                    credential_report=_read(case, "credential-report.json"))  # type: ignore[arg-type]


def failures(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.status is Status.FAIL]


def test_healthy_cluster_passes_every_check() -> None:
    rows = run_checks(snapshot(), PROD)
    assert worst(rows) is Status.OK, [r for r in rows if r.status is not Status.OK]
    checks = {r.check for r in rows}
    assert checks == {"trust-anchor", "identity-issuer", "certificate", "vault", "mesh", "mtls-edges",
                      "authz-denials"}
    assert {r.subject for r in rows if r.check == "certificate"} == {
        "linkerd/linkerd-identity-issuer", "linkerd/linkerd-webhook-issuer", "linkerd/linkerd-policy-validator",
        "linkerd/linkerd-proxy-injector", "linkerd/linkerd-sp-validator"}
    assert any(r.detail.startswith("mTLS only") for r in rows if r.check == "mtls-edges")


@pytest.mark.parametrize(("case", "check", "subject", "detail"), [
    ("expired-issuer", "identity-issuer", "linkerd/linkerd-identity-issuer", "EXPIRED 23 day(s) ago"),
    ("expired-issuer", "certificate", "linkerd/linkerd-identity-issuer", "not Ready (Expired: Certificate expired"),
    ("issuer-wrong-root", "identity-issuer", "linkerd/linkerd-identity-issuer", "does not chain to any trust anchor"),
    ("unready-certificate", "certificate", "linkerd/linkerd-sp-validator", "not Ready (Issuing: Issuing certificate"),
    ("sealed-vault", "vault", "vault/vault-1", "SEALED"),
    ("no-leader", "vault", "vault leader", "no active node: expected exactly one"),
    ("unmeshed-pod", "mesh", "prod-app/inventory-management-7d9f8c6b5-b7r2c", "no linkerd-proxy"),
    ("inject-disabled", "mesh", "prod-app/inventory-management-7d9f8c6b5-b7r2c", "linkerd.io/inject: disabled"),
    ("plaintext-edge", "mtls-edges", "prod-app/product-catalog -> prod-app/inventory-management",
     "PLAINTEXT inside the mesh: 9 tls=no_identity (not_provided_by_service_discovery)"),
    ("denials", "authz-denials", "prod-app/payment-gateway (server payment-gateway-grpc)",
     "17 denied from meshed caller prod-app/product-catalog"),
])
def test_each_failure_class_is_flagged(case: str, check: str, subject: str, detail: str) -> None:
    rows = run_checks(snapshot(case), PROD)
    assert any(r.check == check and r.subject == subject and detail in r.detail for r in failures(rows)), \
        failures(rows)
    # Only the broken area fails: the rest of the fixture is the healthy cluster.
    assert {r.check for r in failures(rows)} <= {check, "certificate", "identity-issuer"}


def test_unauthenticated_denials_warn_with_the_caller() -> None:
    rows = [r for r in run_checks(snapshot("denials"), PROD) if r.check == "authz-denials"]
    warn = [r for r in rows if r.status is Status.WARN]
    assert len(warn) == 1 and "unauthenticated (no_tls_from_remote)" in warn[0].detail
    assert warn[0].subject == "prod-app/customer-profile (default deny)"


def test_traffic_leaving_the_mesh_is_not_a_failure() -> None:
    rows = check_edges(snapshot(), PROD)
    out = [r for r in rows if r.subject == "prod-app/order-processing -> ?/?"]
    assert out and out[0].status is Status.OK and "leaves the mesh" in out[0].detail


def test_no_traffic_or_no_prometheus_warns_but_does_not_fail() -> None:
    quiet = run_checks(replace(snapshot(), edges=[], denials=[]), PROD)
    assert [r.status for r in quiet if r.check == "mtls-edges"] == [Status.WARN]
    down = run_checks(replace(snapshot(), edges=None, denials=None, metrics_error="HTTP 503"), PROD)
    assert {r.status for r in down if r.check in ("mtls-edges", "authz-denials")} == {Status.WARN}
    assert worst(down) is Status.WARN


def test_no_prometheus_fails_where_the_stack_runs_one() -> None:
    """With monitoring.enabled the smoke test must not pass without mTLS evidence."""
    down = run_checks(replace(snapshot(), edges=None, denials=None, metrics_error="HTTP 503"),
                      replace(PROD, metrics_required=True))
    rows = [r for r in down if r.check in ("mtls-edges", "authz-denials")]
    assert {r.status for r in rows} == {Status.FAIL} and "monitoring is enabled" in rows[0].detail
    assert worst(down) is Status.FAIL


def test_issuer_near_expiry_warns_and_overdue_renewal_is_reported() -> None:
    later = replace(snapshot(), now=datetime(2027, 1, 10, tzinfo=UTC))
    rows = check_identity_issuer(later, PROD)
    assert rows[0].status is Status.WARN and rows[0].detail.startswith("20 days left")
    assert any(r.status is Status.WARN and "renewal overdue since 2026-11-30" in r.detail for r in rows)


def test_trust_anchor_window_bundle_and_stack_output() -> None:
    assert check_trust_anchor(snapshot(), PROD)[0].detail.startswith("3333 days left")
    early = check_trust_anchor(replace(snapshot(), now=datetime(2025, 12, 1, tzinfo=UTC)), PROD)
    assert early[0].status is Status.FAIL and early[0].detail.startswith("not yet valid")
    missing = check_trust_anchor(replace(snapshot(), trust_roots=None), PROD)
    assert [r.status for r in missing] == [Status.FAIL]
    foreign = _read("issuer-wrong-root", "issuer-secret.json")["data"]["ca.crt"]  # type: ignore[index]
    rotated = check_trust_anchor(replace(snapshot(), expected_anchor_pem=base64.b64decode(foreign).decode()), PROD)
    assert any(r.status is Status.FAIL and "does not contain the stack's trust_anchor_pem" in r.detail
               for r in rotated)


def test_vault_replica_count_follows_the_environment() -> None:
    two = replace(snapshot(), vault_pods=snapshot().vault_pods[:2])
    assert next(r for r in check_vault(two, PROD) if r.subject == "vault replicas").status is Status.WARN
    one = replace(snapshot(), vault_pods=snapshot().vault_pods[:1])
    assert next(r for r in check_vault(one, PROD) if r.subject == "vault replicas").status is Status.FAIL
    sandbox = Expectations(stack="sandbox", app_namespace="sandbox-app", vault_replicas=1)
    assert worst(check_vault(one, sandbox)) is Status.OK
    unlabelled = [{**p, "metadata": {**p["metadata"], "labels": {"component": "server"}}} for p in two.vault_pods]
    assert "no service-registration label" in check_vault(replace(two, vault_pods=unlabelled), PROD)[0].detail


def test_app_namespace_must_exist_and_be_injected() -> None:
    snap = snapshot()
    missing = check_meshed_pods(replace(snap, namespaces=[n for n in snap.namespaces
                                                          if n["metadata"]["name"] != "prod-app"]), PROD)
    assert any(r.subject == "prod-app" and r.detail == "namespace missing" for r in failures(missing))
    plain = [{**n, "metadata": {**n["metadata"], "annotations": {}}} for n in snap.namespaces]
    rows = failures(check_meshed_pods(replace(snap, namespaces=plain), PROD))
    assert any("lacks linkerd.io/inject" in r.detail for r in rows)


def test_proxy_detection_native_sidecar_or_container() -> None:
    native = {"spec": {"initContainers": [{"name": "linkerd-proxy", "restartPolicy": "Always"}], "containers": []}}
    plain_init = {"spec": {"initContainers": [{"name": "linkerd-proxy"}], "containers": []}}  # a one-shot init
    classic = {"spec": {"containers": [{"name": "app"}, {"name": "linkerd-proxy"}]}}
    assert has_proxy(native) and has_proxy(classic) and not has_proxy(plain_init)


def test_queries_use_the_proxy_label_names() -> None:
    edges = edge_queries("30m")
    assert edges[0] == ('sum by (namespace, deployment, dst_namespace, dst_deployment, tls, no_tls_reason) '
                        '(increase(response_total{direction="outbound"}[30m]))')
    assert 'tcp_open_total{direction="outbound",peer="dst"}' in edges[1]
    assert [q.split("increase(")[1].split("[")[0] for q in denial_queries("1h")] == [
        "inbound_http_authz_deny_total", "inbound_tcp_authz_deny_total"]
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        edge_queries("1h) or vector(1")
    assert caller_of("web.shop.serviceaccount.identity.linkerd.cluster.local") == ("shop", "web")
    assert caller_of("") is None


def test_the_identity_issuer_private_key_is_never_kept() -> None:
    kept = _public_secret({"metadata": {"name": "x"}, "data": {"tls.crt": "Yw==", "tls.key": "aw==", "ca.crt": "Yw=="}})
    assert kept is not None and set(kept["data"]) == {"tls.crt", "ca.crt"}


@pytest.mark.parametrize(("stack", "namespace", "replicas"), [("sandbox", "sandbox-app", 1), ("dev", "dev-app", 1),
                                                               ("staging", "staging-app", 3), ("prod", "prod-app", 3)])
def test_expectations_come_from_the_stack_config(stack: str, namespace: str, replicas: int) -> None:
    exp = verify.expectations(stack, "1h")
    assert (exp.app_namespace, exp.vault_replicas) == (namespace, replicas)


def _fake(case: str) -> verify.Fetcher:
    def fetch(source: Source, exp: Expectations) -> Snapshot:
        assert source.stack == exp.stack == "prod"
        return snapshot(case)
    return fetch


def test_main_exit_codes_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert verify.main(["--stack", "prod"], fetch=_fake("healthy")) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["CHECK", "SUBJECT", "STATUS", "DETAIL"]
    assert "stack prod: OK - " in table and " 0 fail" in table
    assert verify.main(["--stack", "prod", "--json"], fetch=_fake("sealed-vault")) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "fail" and doc["counts"]["fail"] >= 1
    assert {"check": "vault", "subject": "vault/vault-1", "status": "fail",
            "detail": "SEALED (vault-sealed=true): check the awskms seal"} in doc["results"]


def test_main_cannot_connect_is_exit_2_without_traceback(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def down(source: Source, exp: Expectations) -> Snapshot:
        raise CannotConnect("API server https://example.eks.amazonaws.com unreachable")
    assert verify.main(["--stack", "prod"], fetch=down) == 2
    assert "verify prod: cannot connect: API server" in capsys.readouterr().err
    assert verify.main(["--stack", "prod", "--json"], fetch=down) == 2
    assert json.loads(capsys.readouterr().out)["status"] == "error"
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi CLI
    assert verify.main(["--stack", "prod"]) == 2
    assert "Pulumi CLI is not on PATH" in capsys.readouterr().err
    assert verify.main(["--stack", "prod", "--kubeconfig", str(tmp_path / "nope")]) == 2
    assert "kubeconfig file" in capsys.readouterr().err
    kubeconfig = tmp_path / "kubeconfig.json"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9", "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}]}))
    assert verify.main(["--stack", "prod", "--kubeconfig", str(kubeconfig), "--timeout", "2"]) == 2
    assert "unreachable" in capsys.readouterr().err


def test_bad_window_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        verify.main(["--stack", "prod", "--window", "an hour"], fetch=_fake("healthy"))
    assert exc.value.code == 2


def test_settle_retries_a_failure_until_it_clears_or_time_is_up() -> None:
    """Right after `pulumi up` a certificate may still be issuing: --settle judges the settled state."""
    states = iter(["sealed-vault", "sealed-vault", "healthy"])
    now = [0.0]

    def fetch(source: Source, exp: Expectations) -> Snapshot:
        return snapshot(next(states))

    def sleep(seconds: float) -> None:
        now[0] += seconds

    source = Source(stack="prod", kubeconfig=None, trust_anchor=None)
    rows = verify.settled_rows(fetch, source, PROD, settle=60, interval=20, clock=lambda: now[0], sleep=sleep)
    assert worst(rows) is not Status.FAIL and now[0] == 40
    stuck = verify.settled_rows(lambda s, e: snapshot("sealed-vault"), source, PROD, settle=30, interval=20,
                                clock=lambda: now[0], sleep=sleep)
    assert worst(stuck) is Status.FAIL  # a real failure still fails once the time is up
