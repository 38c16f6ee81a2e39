"""The rotation's Kubernetes side: phases.Cluster over the official Python client, with only the RBAC it is given.

What it reads and writes (components/mesh/trust_anchor_rotation.py grants exactly these):
- the status ConfigMap `trust-anchor-rotation` and Linkerd's trust roots ConfigMap (get, patch) in `linkerd`;
- Deployments of `linkerd` and of the meshed namespaces (list, patch: the pod template's restart annotation, which
  rolls them under their own strategy - maxUnavailable 0 for the app's - the way `kubectl rollout restart` does);
- the identity issuer Certificate (get; patch of its status subresource: the `Issuing` condition that `cmctl renew`
  sets) and its CertificateRequests (list: the signed certificate, public, to check it chains to the new root);
- Certificates in `linkerd` and Pods of `linkerd` and the meshed namespaces (list) for the health gate.
Prometheus, when the stack runs it, answers the gate's authorization-denial and plaintext queries over HTTP.
"""

from __future__ import annotations

import base64
import importlib
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.mesh.anchor_rotation.phases import RESTART_ANNOTATION, Health, IssuerCertificate

CERT_MANAGER = ("cert-manager.io", "v1")
POLL_S = 10.0


@dataclass(frozen=True)
class KubeTargets:
    control_plane_namespace: str  # linkerd: the status and trust-roots ConfigMaps, the identity issuer
    meshed_namespaces: tuple[str, ...]
    status_configmap: str
    trust_roots_configmap: str
    identity_issuer: str
    prometheus_url: str  # "" when the stack runs no Prometheus: the gate then has no traffic evidence
    window: str = "10m"  # the gate's look-back for denials and plaintext calls


def in_cluster_apis() -> tuple[Any, Any, Any]:
    """CoreV1Api, AppsV1Api, CustomObjectsApi from the pod's service-account token (the client ships no types)."""
    kubernetes = importlib.import_module("kubernetes")
    kubernetes.config.load_incluster_config()
    return kubernetes.client.CoreV1Api(), kubernetes.client.AppsV1Api(), kubernetes.client.CustomObjectsApi()


class KubeCluster:
    """phases.Cluster against the Kubernetes API."""

    def __init__(self, core: Any, apps: Any, custom: Any, targets: KubeTargets) -> None:
        self.core, self.apps, self.custom, self.t = core, apps, custom, targets

    def read_status(self) -> dict[str, str]:
        found = self.core.read_namespaced_config_map(self.t.status_configmap, self.t.control_plane_namespace)
        return dict(found.data or {})

    def write_status(self, data: dict[str, str]) -> None:
        self.core.patch_namespaced_config_map(self.t.status_configmap, self.t.control_plane_namespace,
                                              {"data": data})

    def trust_bundle(self) -> str:
        found = self.core.read_namespaced_config_map(self.t.trust_roots_configmap, self.t.control_plane_namespace)
        return str((found.data or {}).get("ca-bundle.crt", ""))

    def write_trust_bundle(self, pem: str) -> None:
        self.core.patch_namespaced_config_map(self.t.trust_roots_configmap, self.t.control_plane_namespace,
                                              {"data": {"ca-bundle.crt": pem}})

    def deployments(self, namespace: str) -> list[str]:
        return sorted(d.metadata.name for d in self.apps.list_namespaced_deployment(namespace).items)

    def restart(self, namespace: str, deployment: str, mark: str) -> None:
        found = self.apps.read_namespaced_deployment(deployment, namespace)
        annotations = (found.spec.template.metadata.annotations or {}) if found.spec.template.metadata else {}
        if annotations.get(RESTART_ANNOTATION) != mark:
            self.apps.patch_namespaced_deployment(deployment, namespace, {"spec": {"template": {"metadata": {
                "annotations": {RESTART_ANNOTATION: mark}}}}})

    def rollouts_pending(self, namespace: str, deployments: Sequence[str], mark: str, timeout_s: float) -> list[str]:
        # Ref: https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#complete-deployment (what
        # `kubectl rollout status` waits for: the new generation observed, every replica updated and available, no
        # old replica left).
        deadline = time.monotonic() + timeout_s
        while True:
            pending = [name for name in deployments
                       if not _rolled(self.apps.read_namespaced_deployment(name, namespace))]
            if not pending or time.monotonic() >= deadline:
                return pending
            time.sleep(POLL_S)

    def issuer_certificate(self) -> IssuerCertificate:
        group, version = CERT_MANAGER
        found = self.custom.get_namespaced_custom_object(group, version, self.t.control_plane_namespace,
                                                         "certificates", self.t.identity_issuer)
        status = found.get("status") or {}
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        revision = int(status.get("revision") or 0)
        return IssuerCertificate(revision, conditions.get("Ready") == "True", conditions.get("Issuing") == "True",
                                 self._request_certificate(revision))

    def _request_certificate(self, revision: int) -> str:
        # Ref: https://cert-manager.io/docs/usage/certificaterequest/ (annotations certificate-name and
        # certificate-revision; status.certificate: the signed certificate, base64 PEM)
        group, version = CERT_MANAGER
        requests = self.custom.list_namespaced_custom_object(group, version, self.t.control_plane_namespace,
                                                             "certificaterequests")
        for item in requests.get("items") or []:
            notes = (item.get("metadata") or {}).get("annotations") or {}
            if notes.get("cert-manager.io/certificate-name") == self.t.identity_issuer and \
                    notes.get("cert-manager.io/certificate-revision") == str(revision):
                encoded = (item.get("status") or {}).get("certificate") or ""
                return base64.b64decode(encoded).decode() if encoded else ""
        return ""

    def trigger_reissue(self) -> None:
        # What `cmctl renew` does: the Issuing condition, reason ManuallyTriggered, on the status subresource.
        # Ref: https://cert-manager.io/docs/reference/cmctl/#renew (marks the Certificate for re-issuance through
        # this condition; the issuing controller then re-issues it whatever its renewal time)
        group, version = CERT_MANAGER
        found = self.custom.get_namespaced_custom_object(group, version, self.t.control_plane_namespace,
                                                         "certificates", self.t.identity_issuer)
        conditions = [c for c in (found.get("status") or {}).get("conditions") or [] if c.get("type") != "Issuing"]
        conditions.append({"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
                           "message": "re-issued by the trust-anchor rotation",
                           "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "observedGeneration": found["metadata"].get("generation")})
        self.custom.patch_namespaced_custom_object_status(group, version, self.t.control_plane_namespace,
                                                          "certificates", self.t.identity_issuer,
                                                          {"status": {"conditions": conditions}})

    def health(self) -> Health:
        group, version = CERT_MANAGER
        certificates = self.custom.list_namespaced_custom_object(group, version, self.t.control_plane_namespace,
                                                                 "certificates").get("items") or []
        not_ready = tuple(c["metadata"]["name"] for c in certificates if not any(
            x.get("type") == "Ready" and x.get("status") == "True" for x in (c.get("status") or {}).get("conditions")
            or []))
        pods_not_ready: list[str] = []
        unmeshed: list[str] = []
        for namespace in (self.t.control_plane_namespace, *self.t.meshed_namespaces):
            for pod in self.core.list_namespaced_pod(namespace).items:
                if pod.status.phase == "Succeeded" or (pod.metadata.labels or {}).get("job-name"):
                    continue  # finished pods and Jobs (this rotation's own) are not workloads to gate on
                where = f"{namespace}/{pod.metadata.name}"
                if not any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
                    pods_not_ready.append(where)
                # linkerd-proxy: a container, or a native sidecar (an init container that keeps running)
                names = {c.name for c in [*(pod.spec.containers or []), *(pod.spec.init_containers or [])]}
                if namespace in self.t.meshed_namespaces and "linkerd-proxy" not in names:
                    unmeshed.append(where)
        denials = plaintext = None
        if self.t.prometheus_url:
            denials, plaintext = self._traffic()
        return Health(not_ready, tuple(pods_not_ready), tuple(unmeshed), denials, plaintext)

    def _traffic(self) -> tuple[float, float]:
        # The same series the MeshAuthorizationDenied / MeshMtlsSuccessRateLow alerts read
        # (components/monitoring/alert_specs.py); plaintext on the callers' side, where kubelet probes do not count.
        total = 0.0
        for namespace in self.t.meshed_namespaces:
            ns, w = f'namespace="{namespace}"', self.t.window
            total += self._query(f"sum(increase(inbound_http_authz_deny_total{{{ns}}}[{w}]))")
            total += self._query(f"sum(increase(inbound_tcp_authz_deny_total{{{ns}}}[{w}]))")
        plaintext = sum(self._query(f'sum(increase(response_total{{direction="outbound",dst_namespace="{n}",'
                                    f'tls!="true"}}[{self.t.window}]))') for n in self.t.meshed_namespaces)
        return total, plaintext

    def _query(self, expr: str) -> float:
        # Ref: https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries (an empty vector: 0)
        url = f"{self.t.prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        with urllib.request.urlopen(url, timeout=10) as answer:  # in-cluster http URL from the stack
            body = json.loads(answer.read())
        result = body.get("data", {}).get("result") or []
        return sum(float(item["value"][1]) for item in result)

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)


def _rolled(deployment: Any) -> bool:
    spec, status = deployment.spec, deployment.status
    wanted = spec.replicas if spec.replicas is not None else 1
    return ((status.observed_generation or 0) >= (deployment.metadata.generation or 0)
            and (status.updated_replicas or 0) == wanted and (status.available_replicas or 0) >= wanted
            and (status.replicas or 0) == wanted)
