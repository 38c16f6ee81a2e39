"""The pod of an in-cluster controller that runs the project's own image and logs in to Vault (the trust-anchor
rotation, the credential report): restricted Pod Security, Vault's CA and an audience-bound projected token mounted,
a small writable /tmp, no retry of its own (each CronJob's next run is the retry).

Pure. Each controller keeps its own env, resources, CA source and audience; the shape is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

Spec = dict[str, Any]
TOKEN_DIR: Final = "/var/run/secrets/vault"  # VAULT_TOKEN_FILE = f"{TOKEN_DIR}/token"
CA_DIR: Final = "/etc/vault-ca"  # VAULT_CACERT = f"{CA_DIR}/ca.crt"
RUN_AS: Final = 65532  # the image's USER (components/mesh/anchor_rotation/Dockerfile)
TOKEN_SECONDS: Final = 600


def container_security() -> Spec:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def vault_job_pod(*, container: str, image: Any, env: Mapping[str, Any], resources: Spec, service_account: str,
                  audience: str, ca_volume: Spec, command: Sequence[str] = ()) -> Spec:
    """The pod spec. `ca_volume` is the volume source of Vault's CA (a ConfigMap or a Secret item `ca.crt`)."""
    spec: Spec = {
        "name": container, "image": image,
        "imagePullPolicy": "Always",  # as the app's containers (CKV_K8S_15)
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "volumeMounts": [{"name": "vault-ca", "mountPath": CA_DIR, "readOnly": True},
                         {"name": "vault-token", "mountPath": TOKEN_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
        "resources": resources,
        "securityContext": container_security(),
    }
    if command:
        # `command` replaces the image's ENTRYPOINT (the rotation controller) with another module of the image.
        # Ref: https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/
        spec["command"] = list(command)
    return {
        "serviceAccountName": service_account,
        # The Kubernetes API token: the client reads it from the standard path.
        "automountServiceAccountToken": True,
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [spec],
        "volumes": [
            {"name": "vault-ca", **ca_volume},
            {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
            # Ref: https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken
            {"name": "vault-token", "projected": {"sources": [{"serviceAccountToken": {
                "audience": audience, "expirationSeconds": TOKEN_SECONDS, "path": "token"}}]}},
        ],
    }
