"""The credential report's Kubernetes side, with only the RBAC it is given (credential_report_specs.py): list the
app namespace's pods (which services are running), patch the one status ConfigMap `vault/credential-report`."""

from __future__ import annotations

import importlib
from typing import Any

from components.vault.credential_report.report import REPORT_KEY


def in_cluster_core() -> Any:
    """CoreV1Api from the pod's service-account token (the client ships no types)."""
    kubernetes = importlib.import_module("kubernetes")
    kubernetes.config.load_incluster_config()
    return kubernetes.client.CoreV1Api()


class KubeReport:
    def __init__(self, core: Any, app_namespace: str, namespace: str, configmap: str) -> None:
        self.core, self.app_namespace, self.namespace, self.configmap = core, app_namespace, namespace, configmap

    def pods(self) -> list[dict[str, Any]]:
        """The app namespace's pods as API JSON (phase and service account are all the report reads)."""
        found = self.core.list_namespaced_pod(self.app_namespace)
        return [{"status": {"phase": pod.status.phase if pod.status else None},
                 "spec": {"serviceAccountName": pod.spec.service_account_name if pod.spec else None}}
                for pod in found.items]

    def write(self, report_json: str) -> None:
        self.core.patch_namespaced_config_map(self.configmap, self.namespace, {"data": {REPORT_KEY: report_json}})
