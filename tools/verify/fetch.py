"""The only part of `make verify` that talks to a cluster: fetch the objects the checks read, as plain API JSON.

The kubeconfig comes from `--kubeconfig` or from the stack's `kubeconfig` output (`pulumi stack output`, which needs
the Pulumi CLI logged in to the state backend); it runs `aws eks get-token`, so AWS credentials for the admin or
DevOps role must be in the environment. Prometheus is reached through the API server's service proxy, so no port is
exposed and no port-forward is needed. Read-only RBAC needed: list namespaces, pods (meshed namespaces, vault),
certificates.cert-manager.io; get the ConfigMap and Secret `linkerd-identity-*` in linkerd, the ConfigMap
`credential-report` in vault (stacks whose services get Vault credentials); get services/proxy of Prometheus.
Only `tls.crt` and `ca.crt` of the identity issuer Secret are kept; its private key is dropped at once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes
import yaml

from components.vault.credential_report.report import STATUS_CONFIGMAP as CREDENTIAL_REPORT
from config.names import IDENTITY_ISSUER, LINKERD_NAMESPACE, TRUST_ROOTS_CONFIGMAP, VAULT_NAMESPACE
from tools.verify.metrics import credential_queries, denial_queries, edge_queries
from tools.verify.model import (
    Expectations,
    Obj,
    Snapshot,
    meshed_namespaces,
)

# vault-helm 0.34.1 server pod labels (values.yaml server.affinity selects them the same way; fullnameOverride does
# not change `vault.name`, and components/vault/vault_values.py sets no nameOverride).
VAULT_POD_SELECTOR = "app.kubernetes.io/name=vault,component=server"


class CannotConnect(Exception):
    """The cluster (or the stack's outputs) cannot be reached; the message says what is missing."""


@dataclass(frozen=True)
class Source:
    stack: str
    kubeconfig: str | None = None
    trust_anchor: str | None = None
    prometheus_namespace: str = "monitoring"
    prometheus_service: str = "prometheus-operated:9090"
    timeout: float = 20.0


def stack_output(stack: str, name: str) -> Any:
    """`pulumi stack output <name> --show-secrets --json` for the stack, decoded."""
    if shutil.which("pulumi") is None:
        raise CannotConnect(f"no --kubeconfig given and the Pulumi CLI is not on PATH to read the stack's {name!r} "
                            f"output (install it and `pulumi login <backend>`, or pass --kubeconfig PATH)")
    proc = subprocess.run(["pulumi", "stack", "output", name, "--show-secrets", "--json", "--stack", stack],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CannotConnect(f"`pulumi stack output {name} --stack {stack}` failed: {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout)


def load_kubeconfig(source: Source) -> dict[str, Any]:
    if source.kubeconfig:
        path = Path(source.kubeconfig)
        if not path.is_file():
            raise CannotConnect(f"kubeconfig file {path} not found")
        raw: Any = yaml.safe_load(path.read_text())
    else:
        raw = stack_output(source.stack, "kubeconfig")
        raw = yaml.safe_load(raw) if isinstance(raw, str) else raw  # an object (pulumi-eks) or a YAML string
    if not isinstance(raw, dict) or not raw.get("clusters"):
        raise CannotConnect("the kubeconfig has no clusters")
    return raw


def trust_anchor_pem(source: Source) -> str | None:
    if source.trust_anchor:
        return Path(source.trust_anchor).read_text()
    if source.kubeconfig and shutil.which("pulumi") is None:
        return None  # offline kubeconfig, no CLI: the bundle is checked without comparing to Vault's root
    value = stack_output(source.stack, "trust_anchor_pem")
    return value if isinstance(value, str) else None


class Cluster:
    """Thin wrapper over the kubernetes client returning API JSON (dicts), 404 as None."""

    def __init__(self, kubeconfig: dict[str, Any], timeout: float) -> None:
        self.errors = kubernetes.client.exceptions.ApiException
        try:
            # Ref: kubernetes-client/python config/kube_config.py new_client_from_config_dict
            self.api = kubernetes.config.new_client_from_config_dict(kubeconfig, persist_config=False)
        except Exception as err:  # ConfigException, exec plugin errors: a missing `aws` CLI or credentials
            raise CannotConnect(f"cannot use the kubeconfig: {err}") from None
        self.host = self.api.configuration.host
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)
        self.timeout = timeout

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            response = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            return json.loads(response.data)
        except self.errors as err:
            if err.status == 404:
                return None
            raise CannotConnect(f"{what}: HTTP {err.status} {err.reason} from {self.host}") from None
        except Exception as err:  # urllib3 connection errors, timeouts, DNS
            raise CannotConnect(f"{what}: API server {self.host} unreachable ({type(err).__name__}: {err}); "
                                "a private endpoint needs a runner inside the VPC") from None

    def items(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> list[Obj]:
        return list((self._call(what, fn, *args, **kwargs) or {}).get("items") or [])

    def get(self, what: str, fn: Any, *args: Any) -> Obj | None:
        result = self._call(what, fn, *args)
        return result if isinstance(result, dict) else None

    def prometheus(self, source: Source, query: str) -> list[Obj]:
        """One instant query through the service proxy; raises ValueError on any failure (metrics are optional)."""
        path = f"/api/v1/namespaces/{source.prometheus_namespace}/services/{source.prometheus_service}/proxy" \
               "/api/v1/query"
        try:
            response = self.api.call_api(path, "GET", query_params=[("query", query)], auth_settings=["BearerToken"],
                                         _preload_content=False, _request_timeout=self.timeout)
            body = json.loads(response[0].data if isinstance(response, tuple) else response.data)
        except Exception as err:
            raise ValueError(f"{source.prometheus_namespace}/{source.prometheus_service}: {err}") from None
        if body.get("status") != "success" or (body.get("data") or {}).get("resultType") != "vector":
            raise ValueError(f"query failed: {body.get('error', body)}")
        return list(body["data"]["result"])


def _public_secret(secret: Obj | None) -> Obj | None:
    """Keep the certificates, never the private key."""
    if secret is None:
        return None
    data = {k: v for k, v in (secret.get("data") or {}).items() if k in ("tls.crt", "ca.crt")}
    return {"metadata": secret.get("metadata") or {}, "data": data}


def fetch_snapshot(source: Source, exp: Expectations) -> Snapshot:
    cluster = Cluster(load_kubeconfig(source), source.timeout)
    anchor = trust_anchor_pem(source)
    snap = Snapshot(now=datetime.now(UTC), expected_anchor_pem=anchor,
                    namespaces=cluster.items("list namespaces", cluster.core.list_namespace))
    pods = [pod for ns in meshed_namespaces(snap, exp)
            for pod in cluster.items(f"list pods in {ns}", cluster.core.list_namespaced_pod, ns)]
    snap = replace(
        snap, pods=pods,
        vault_pods=cluster.items("list Vault pods", cluster.core.list_namespaced_pod, VAULT_NAMESPACE,
                                 label_selector=VAULT_POD_SELECTOR),
        certificates=cluster.items("list cert-manager Certificates", cluster.custom.list_cluster_custom_object,
                                   "cert-manager.io", "v1", "certificates"),
        trust_roots=cluster.get("read the trust roots ConfigMap", cluster.core.read_namespaced_config_map,
                                TRUST_ROOTS_CONFIGMAP, LINKERD_NAMESPACE),
        issuer_secret=_public_secret(cluster.get("read the identity issuer Secret",
                                                 cluster.core.read_namespaced_secret, IDENTITY_ISSUER,
                                                 LINKERD_NAMESPACE)),
        credential_report=cluster.get("read the credential report ConfigMap", cluster.core.read_namespaced_config_map,
                                      CREDENTIAL_REPORT, VAULT_NAMESPACE) if exp.vault_credentials else None)
    try:
        edges = [s for q in edge_queries(exp.window) for s in cluster.prometheus(source, q)]
        denials = [s for q in denial_queries(exp.window) for s in cluster.prometheus(source, q)]
        credential_errors = [{**s, "metric": {**(s.get("metric") or {}), "operation": op}}
                             for op, q in credential_queries(exp.window).items()
                             for s in cluster.prometheus(source, q)] if exp.vault_credentials else []
    except ValueError as err:
        return replace(snap, metrics_error=str(err))
    return replace(snap, edges=edges, denials=denials, credential_errors=credential_errors)
