"""Helm values for Velero (optional, sandbox only, off by default: the customer's brief declined it).

Velero backs up Kubernetes objects to its own SSE-KMS bucket through the AWS plugin, with credentials from IRSA (no
key file, `credentials.useSecret` off). Volume snapshots and the node agent stay off: the platform's state lives in
Vault (raft snapshots, docs/vault-restore.md) and in managed data services with their own backups, so the role needs
no EC2 rights (its IAM policy: `velero_specs.py`). Every key is checked against the chart's values.yaml at tag
velero-11.4.0 (tests/upstream_facts/chart_keys/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pulumi

from config import versions
from config.names import VELERO_NAMESPACE

NAMESPACE: Final = VELERO_NAMESPACE
SERVICE_ACCOUNT: Final = "velero-server"  # the chart's default (templates/_helpers.tpl velero.serverServiceAccount)



@dataclass(frozen=True)
class VeleroValuesArgs:
    bucket: pulumi.Input[str]
    region: str
    kms_key_arn: pulumi.Input[str]
    role_arn: pulumi.Input[str]


def _restricted() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def velero_values(args: VeleroValuesArgs) -> dict[str, Any]:
    """Values for the velero chart (Ref: vmware-tanzu/helm-charts velero-11.4.0 charts/velero/values.yaml)."""
    return {
        "image": {"tag": versions.VELERO_VERSION},
        # values.yaml `initContainers:` (documented, commented): the plugin copies itself into the `plugins` volume.
        "initContainers": [{
            "name": "velero-plugin-for-aws", "image": versions.VELERO_PLUGIN_AWS_IMAGE,
            "imagePullPolicy": "IfNotPresent", "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
            "securityContext": _restricted(),
        }],
        # Restricted Pod Security; fsGroup lets the non-root process read IRSA's projected token.
        "podSecurityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
                               "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": _restricted(),
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        # The CRDs come from the chart's crds/ directory on install; the upgrade Job (a kubectl image running with
        # cluster-admin) stays off, so a chart bump applies new CRDs by hand (see docs/vault-restore.md, Velero).
        "upgradeCRDs": False,
        "configuration": {"backupStorageLocation": [{
            "name": "default", "provider": "aws", "bucket": args.bucket, "default": True,
            "config": {"region": args.region, "kmsKeyId": args.kms_key_arn},
        }]},
        "snapshotsEnabled": False,
        "deployNodeAgent": False,
        "credentials": {"useSecret": False},  # IRSA instead of a key file
        "serviceAccount": {"server": {"name": SERVICE_ACCOUNT,
                                      "annotations": {"eks.amazonaws.com/role-arn": args.role_arn}}},
    }
