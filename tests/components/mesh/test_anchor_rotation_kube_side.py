"""The rotation's Kubernetes adapter (kube_side.KubeCluster) over recording stand-ins of the official client's APIs
(no API server here), with the client's own model classes as answers: what it patches, when it does not, how it
reads a finished rollout, the re-issue trigger `cmctl renew` would write, and the health it reports."""

from __future__ import annotations

import base64
from typing import Any

from kubernetes import client as k8s

from components.mesh.anchor_rotation.kube_side import KubeCluster, KubeTargets, _rolled
from components.mesh.anchor_rotation.phases import RESTART_ANNOTATION

TARGETS = KubeTargets("linkerd", ("prod-app",), "trust-anchor-rotation", "linkerd-identity-trust-roots",
                      "linkerd-identity-issuer", prometheus_url="")


def deployment(annotations: dict[str, str] | None = None, *, generation: int = 2, observed: int = 2,
               replicas: int = 4, updated: int = 4, available: int = 4, total: int = 4) -> Any:
    return k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name="payment-gateway", generation=generation),
        spec=k8s.V1DeploymentSpec(replicas=replicas, selector=k8s.V1LabelSelector(), template=k8s.V1PodTemplateSpec(
            metadata=k8s.V1ObjectMeta(annotations=annotations))),
        status=k8s.V1DeploymentStatus(observed_generation=observed, updated_replicas=updated,
                                      available_replicas=available, replicas=total))


class Apps:
    def __init__(self, found: Any) -> None:
        self.found, self.patches = found, []

    def read_namespaced_deployment(self, name: str, namespace: str) -> Any:
        return self.found

    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any) -> None:
        self.patches.append((namespace, name, body))


class Custom:
    def __init__(self, certificate: dict[str, Any], requests: list[dict[str, Any]]) -> None:
        self.certificate, self.requests, self.status_patches = certificate, requests, []

    def get_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, name: str) -> Any:
        assert (group, plural, name) == ("cert-manager.io", "certificates", "linkerd-identity-issuer")
        return self.certificate

    def list_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str) -> Any:
        return {"items": self.requests if plural == "certificaterequests" else [self.certificate]}

    def patch_namespaced_custom_object_status(self, group: str, version: str, namespace: str, plural: str,
                                              name: str, body: Any) -> None:
        self.status_patches.append(body)


def test_a_restart_patches_the_pod_template_once_per_mark() -> None:
    apps = Apps(deployment({RESTART_ANNOTATION: "2-restart-trust"}))
    cluster = KubeCluster(None, apps, None, TARGETS)
    cluster.restart("prod-app", "payment-gateway", "2-restart-trust")  # a resumed run: already marked
    assert apps.patches == []
    cluster.restart("prod-app", "payment-gateway", "2-restart-issuer")
    assert apps.patches == [("prod-app", "payment-gateway", {"spec": {"template": {"metadata": {
        "annotations": {RESTART_ANNOTATION: "2-restart-issuer"}}}}})]


def test_a_rollout_is_done_only_when_every_replica_is_new_and_available() -> None:
    assert _rolled(deployment())
    assert not _rolled(deployment(observed=1))  # the controller has not seen the new template yet
    assert not _rolled(deployment(updated=3))
    assert not _rolled(deployment(available=3))
    assert not _rolled(deployment(total=5))  # the surge pod or an old one is still there


def test_the_reissue_trigger_is_the_issuing_condition_and_the_request_certificate_is_read() -> None:
    certificate = {"metadata": {"name": "linkerd-identity-issuer", "generation": 3}, "status": {
        "revision": 4, "conditions": [{"type": "Ready", "status": "True"}]}}
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    requests = [{"metadata": {"annotations": {"cert-manager.io/certificate-name": "linkerd-identity-issuer",
                                              "cert-manager.io/certificate-revision": "4"}},
                 "status": {"certificate": base64.b64encode(pem.encode()).decode()}},
                {"metadata": {"annotations": {"cert-manager.io/certificate-name": "other",
                                              "cert-manager.io/certificate-revision": "4"}}, "status": {}}]
    custom = Custom(certificate, requests)
    cluster = KubeCluster(None, None, custom, TARGETS)
    state = cluster.issuer_certificate()
    assert (state.revision, state.ready, state.issuing, state.certificate_pem) == (4, True, False, pem)
    cluster.trigger_reissue()
    [patch] = custom.status_patches
    conditions = patch["status"]["conditions"]
    assert conditions[0] == {"type": "Ready", "status": "True"}  # kept
    issuing = conditions[1]
    assert (issuing["type"], issuing["status"], issuing["reason"], issuing["observedGeneration"]) == (
        "Issuing", "True", "ManuallyTriggered", 3)


class Core:
    def __init__(self, pods: dict[str, list[Any]]) -> None:
        self.pods = pods

    def list_namespaced_pod(self, namespace: str) -> Any:
        return k8s.V1PodList(items=self.pods.get(namespace, []))


def pod(name: str, containers: list[str], ready: bool = True, labels: dict[str, str] | None = None,
        init: list[str] | None = None) -> Any:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name, labels=labels),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name=c) for c in containers],
                           init_containers=[k8s.V1Container(name=c) for c in init or []]),
        status=k8s.V1PodStatus(phase="Running", conditions=[
            k8s.V1PodCondition(type="Ready", status="True" if ready else "False")]))


def test_health_reports_unready_and_unmeshed_pods_and_skips_the_rotation_job() -> None:
    core = Core({"linkerd": [pod("linkerd-identity-1", ["identity"]),
                             pod("trust-anchor-rotation-1-x", ["rotation"], ready=False,
                                 labels={"job-name": "trust-anchor-rotation-1"})],
                 "prod-app": [pod("a-1", ["app", "linkerd-proxy"]), pod("b-1", ["app"], init=["linkerd-proxy"]),
                              pod("c-1", ["app"]), pod("d-1", ["app", "linkerd-proxy"], ready=False)]})
    certificate = {"metadata": {"name": "linkerd-identity-issuer"}, "status": {"conditions": [
        {"type": "Ready", "status": "False"}]}}
    health = KubeCluster(core, None, Custom(certificate, []), TARGETS).health()
    assert health.certificates_not_ready == ("linkerd-identity-issuer",)
    assert health.pods_unmeshed == ("prod-app/c-1",)  # b-1 runs the proxy as a native sidecar
    assert health.pods_not_ready == ("prod-app/d-1",)
    assert health.authz_denials is None and health.plaintext_responses is None  # no Prometheus in this stack
