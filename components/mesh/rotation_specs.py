"""Pure builders for the trust-anchor rotation CronJob (components/mesh/anchor_rotation runs in it): its RBAC rules,
status ConfigMap, CronJob spec and the ConfigMap carrying Vault's listener CA into `linkerd`.

Permissions (also README "Trust-anchor rotation"): in `linkerd`, get/patch on exactly the status and trust-roots
ConfigMaps, get on the identity issuer Certificate and patch on its status subresource (the `Issuing` condition),
list on Certificates and CertificateRequests (health gate, the re-issued certificate), list/get/patch on Deployments
(the restart annotation) and list on Pods; in each meshed namespace list/get/patch on Deployments and list on Pods.
No Secret, no create or delete of anything, nothing cluster-wide. In Vault: the `trust-anchor-rotation` policy
(components/vault/bootstrap/spec.py rotation_policy) through Kubernetes auth bound to this service account only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from components.mesh.namespace_specs import ROTATION_POD_LABELS
from components.vault.bootstrap.spec import BootstrapSpec, spec_to_props
from components.vault.job_pod_specs import CA_DIR, TOKEN_DIR, vault_job_pod
from config.names import IDENTITY_ISSUER, TRUST_ROOTS_CONFIGMAP

Spec = dict[str, Any]
JOB_NAME: Final = "trust-anchor-rotation"
STATUS_CONFIGMAP: Final = "trust-anchor-rotation"
VAULT_CA_CONFIGMAP: Final = "trust-anchor-rotation-vault-ca"
POD_LABELS: Final = ROTATION_POD_LABELS


def control_plane_rules() -> list[Spec]:
    """The Role in `linkerd`: only the objects and verbs the rotation uses (kube_side.py)."""
    return [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [STATUS_CONFIGMAP, TRUST_ROOTS_CONFIGMAP],
         "verbs": ["get", "patch"]},
        {"apiGroups": ["cert-manager.io"], "resources": ["certificates"], "resourceNames": [IDENTITY_ISSUER],
         "verbs": ["get"]},
        {"apiGroups": ["cert-manager.io"], "resources": ["certificates/status"], "resourceNames": [IDENTITY_ISSUER],
         "verbs": ["patch"]},
        {"apiGroups": ["cert-manager.io"], "resources": ["certificates", "certificaterequests"], "verbs": ["list"]},
        *meshed_rules(),
    ]


def meshed_rules() -> list[Spec]:
    """The Role in each meshed namespace (and part of the control plane's): restart Deployments, watch their pods."""
    return [
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list", "get", "patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    ]


def initial_status() -> dict[str, str]:
    """What the status ConfigMap holds before any rotation; the CronJob owns it from then on."""
    return {"phase": "idle", "request": ""}


@dataclass(frozen=True)
class RotationJobArgs:
    namespace: str  # linkerd
    meshed_namespaces: tuple[str, ...]
    image: str  # repository:tag of the documented image build (components/mesh/anchor_rotation/Dockerfile)
    schedule: str
    threshold_days: int
    stuck_hours: int
    spec: BootstrapSpec  # names, paths and the rotation's role/audience
    prometheus_url: str  # "" without monitoring
    vault_addr: str = "https://vault-active.vault.svc:8200"  # the active node (vault-helm's vault-active Service)


def cronjob_spec(args: RotationJobArgs) -> Spec:
    """batch/v1 CronJob: one run at a time (a run may wait for rollouts for hours), resumable, history kept."""
    env = {
        "BOOTSTRAP_SPEC": json.dumps(spec_to_props(args.spec), sort_keys=True),
        "VAULT_ADDR": args.vault_addr, "VAULT_CACERT": f"{CA_DIR}/ca.crt", "VAULT_TOKEN_FILE": f"{TOKEN_DIR}/token",
        "CONTROL_PLANE_NAMESPACE": args.namespace, "MESHED_NAMESPACES": ",".join(args.meshed_namespaces),
        "STATUS_CONFIGMAP": STATUS_CONFIGMAP, "TRUST_ROOTS_CONFIGMAP": TRUST_ROOTS_CONFIGMAP,
        "IDENTITY_ISSUER": IDENTITY_ISSUER, "PROMETHEUS_URL": args.prometheus_url,
        "THRESHOLD_DAYS": str(args.threshold_days), "STUCK_HOURS": str(args.stuck_hours), "HOME": "/tmp",
    }
    pod = vault_job_pod(
        container="rotation", image=args.image, env=env, service_account=args.spec.rotation_service_account,
        # A CPU limit like the snapshot job's (CKV_K8S_11): a stuck run cannot take a node's CPU from the mesh.
        resources={"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        audience=args.spec.rotation_audience, ca_volume={"configMap": {"name": VAULT_CA_CONFIGMAP}})
    # Ref: https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ (concurrencyPolicy, timeZone)
    return {
        "schedule": args.schedule,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",  # never two rotations at once; a long run makes the next ticks skip
        "startingDeadlineSeconds": 600,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 5,
        "jobTemplate": {"metadata": {"labels": POD_LABELS}, "spec": {
            "backoffLimit": 0,  # the next scheduled run is the retry; it resumes from the status
            "activeDeadlineSeconds": 6 * 3600,
            "template": {"metadata": {"labels": POD_LABELS}, "spec": pod},
        }},
    }
