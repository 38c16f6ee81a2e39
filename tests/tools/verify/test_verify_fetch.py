"""The `make verify` fetcher against a local fake Kubernetes API: the real kubernetes client, real paths and selectors.

The fake answers the fixture objects (tests/fixtures/verify/healthy) at the API paths the fetcher must use, and
Prometheus answers at the API server's service-proxy path; anything else is a 404 like the real API server's.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from tests.conftest import FACTS, FIXTURES
from tools.verify.fetch import VAULT_POD_SELECTOR, CannotConnect, Source, fetch_snapshot
from tools.verify.model import Expectations

HEALTHY = FIXTURES / "verify" / "healthy"
PROD = Expectations(stack="prod", app_namespace="prod-app", vault_replicas=3)
PROXY = "/api/v1/namespaces/monitoring/services/prometheus-operated:9090/proxy/api/v1/query"
FIELDS = yaml.safe_load((FACTS / "verify_crd_fields.yaml").read_text())


def _fixture(name: str) -> Any:
    return json.loads((HEALTHY / name).read_text())


class FakeApi(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, list[str]], str]] = []
    overrides: dict[str, tuple[int, Any]] = {}

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path in self.overrides:
            return self.overrides[path]
        secret = _fixture("issuer-secret.json")
        secret["data"]["tls.key"] = base64.b64encode(b"-----BEGIN EC PRIVATE KEY-----").decode()
        routes = {
            "/api/v1/namespaces": _fixture("namespaces.json"),
            "/api/v1/namespaces/prod-app/pods": _fixture("pods.json"),
            "/apis/cert-manager.io/v1/certificates": _fixture("certificates.json"),
            "/api/v1/namespaces/linkerd/configmaps/linkerd-identity-trust-roots": _fixture("trust-roots.json"),
            "/api/v1/namespaces/linkerd/secrets/linkerd-identity-issuer": secret,
        }
        if path == "/api/v1/namespaces/vault/pods" and query.get("labelSelector") == [VAULT_POD_SELECTOR]:
            return 200, _fixture("vault-pods.json")
        if path == PROXY:
            promql = query["query"][0]
            edges, denials = _fixture("edges.json"), _fixture("denials.json")
            for needle, answer in (("response_total", edges[0]), ("tcp_open_total", edges[1]),
                                   ("inbound_http_authz_deny_total", denials[0]),
                                   ("inbound_tcp_authz_deny_total", denials[1])):
                if needle in promql:
                    return 200, answer
        if path in routes:
            return 200, routes[path]
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        self.requests.append((url.path, query, self.headers.get("Authorization", "")))
        code, body = self._answer(url.path, query)
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Source]:
    FakeApi.requests, FakeApi.overrides = [], {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "ci"}}],
        "users": [{"name": "ci", "user": {"token": "k8s-aws-v1.token"}}]}))
    try:
        yield Source(stack="prod", kubeconfig=str(kubeconfig), trust_anchor=str(HEALTHY / "trust-anchor.pem"),
                     timeout=5)
    finally:
        server.shutdown()
        server.server_close()


def test_fetches_every_object_through_the_api_paths(api: Source) -> None:
    snap = fetch_snapshot(api, PROD)
    assert [p["metadata"]["name"] for p in snap.vault_pods] == ["vault-0", "vault-1", "vault-2"]
    assert len(snap.pods) == 8 and {p["metadata"]["namespace"] for p in snap.pods} == {"prod-app"}
    assert len(snap.certificates) == 5 and snap.trust_roots is not None
    assert snap.issuer_secret is not None and set(snap.issuer_secret["data"]) == {"tls.crt", "ca.crt"}
    assert snap.expected_anchor_pem == (HEALTHY / "trust-anchor.pem").read_text()
    assert snap.edges is not None and len(snap.edges) == 9 and snap.denials == [] and snap.metrics_error is None
    queries = [q["query"][0] for path, q, _ in FakeApi.requests if path == PROXY]
    assert len(queries) == 4 and all("[1h]" in q for q in queries)
    assert {auth for *_, auth in FakeApi.requests} == {"Bearer k8s-aws-v1.token"}


def test_prometheus_down_is_reported_not_fatal(api: Source) -> None:
    FakeApi.overrides[PROXY] = (503, {"kind": "Status", "code": 503, "message": "no endpoints available"})
    snap = fetch_snapshot(api, PROD)
    assert snap.edges is None and snap.denials is None
    assert snap.metrics_error and "monitoring/prometheus-operated:9090" in snap.metrics_error
    assert len(snap.certificates) == 5  # the cluster checks still run


def test_forbidden_object_is_cannot_connect_naming_it(api: Source) -> None:
    FakeApi.overrides["/api/v1/namespaces/linkerd/secrets/linkerd-identity-issuer"] = (
        403, {"kind": "Status", "code": 403, "reason": "Forbidden"})
    with pytest.raises(CannotConnect, match="read the identity issuer Secret: HTTP 403"):
        fetch_snapshot(api, PROD)


def test_missing_objects_become_none(api: Source) -> None:
    FakeApi.overrides["/api/v1/namespaces/linkerd/configmaps/linkerd-identity-trust-roots"] = (404, {"code": 404})
    assert fetch_snapshot(api, PROD).trust_roots is None


def test_certificate_status_fields_exist_in_the_pinned_crd() -> None:
    """The fields the checks read, and those in the fixtures, are cert-manager v1.21.1 Certificate status fields."""
    read = {"conditions", "notAfter", "renewalTime"}
    assert read <= set(FIELDS["Certificate"]["status"])
    for cert in _fixture("certificates.json")["items"]:
        assert set(cert["status"]) <= set(FIELDS["Certificate"]["status"])
        for condition in cert["status"]["conditions"]:
            assert set(condition) <= set(FIELDS["Certificate"]["status.conditions"])
