"""How a service's credentials reach its pods: Vault Agent templates and the injector annotations that carry them.

Pure: for a service with a Vault role (components/vault/bootstrap/app_secrets.py), one file per credential in the
agent's in-memory volume (`/vault/secrets/<name>.env`, `KEY=value` lines a process or a connection pool re-reads when
the agent re-renders it before the lease ends), and the pod annotations the vault chart's injector reads. The same
templates are rendered by a real agent in tests/components/vault/test_app_secrets_openbao.py; the app layer applies
them to every Deployment of a service with a Vault role (`with_vault_agent`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

from components.vault.bootstrap.app_secrets import (
    CACHE,
    POSTGRES,
    AppSecretsSpec,
    AppService,
    cache_role,
    postgres_role,
    role_name,
)
from config.names import VAULT_AGENT_LABEL

SECRETS_DIR: Final = "/vault/secrets"  # the injector's default secret-volume-path (an emptyDir in memory)
# Ref: https://github.com/hashicorp/vault-k8s/blob/v1.7.6/agent-inject/agent/annotations.go (annotation keys, the
# tag the vault chart 0.34.1 pins: values.yaml injector.image.tag).
_PREFIX: Final = "vault.hashicorp.com"
# The projected token the agent logs in with (audience-bound, 10 min; the kubelet renews it). vault-k8s v1.7.6
# agent.go serviceaccount(): a named projected volume not mounted by the app is mounted into the agent only.
TOKEN_VOLUME: Final = "vault-token"
TOKEN_SECONDS: Final = 600
# The Secret (app namespace) holding Vault's CA as ca.crt: `tls-secret` mounts it into the agent at /vault/tls.
VAULT_CA_SECRET: Final = "vault-ca"
VAULT_CA_PATH: Final = "/vault/tls/ca.crt"
VAULT_PORT: Final = 8200


class VaultPaths(Protocol):
    """Where the services' auth method and database engine are mounted (AppSecretsSpec carries them)."""

    @property
    def kubernetes_auth_path(self) -> str: ...

    @property
    def database_path(self) -> str: ...


@dataclass(frozen=True)
class Paths:
    """The mounts of AppSecretsSpec's defaults, for the app layer (which never sees the endpoint-bearing spec)."""

    kubernetes_auth_path: str = AppSecretsSpec.kubernetes_auth_path
    database_path: str = AppSecretsSpec.database_path


def templates(spec: VaultPaths, service: AppService) -> dict[str, str]:
    """File name -> agent template (consul-template syntax) for each credential the service has."""
    out: dict[str, str] = {}
    if POSTGRES in service.data_services:
        path = f"{spec.database_path}/creds/{postgres_role(service.name)}"
        out["postgres.env"] = (f'{{{{- with secret "{path}" -}}}}\n'
                               "PGUSER={{ .Data.username }}\nPGPASSWORD={{ .Data.password }}\n"
                               "{{- end }}\n")
    if CACHE in service.data_services:
        path = f"{spec.database_path}/static-creds/{cache_role(service.name)}"
        out["cache.env"] = (f'{{{{- with secret "{path}" -}}}}\n'
                            "CACHE_USER={{ .Data.username }}\nCACHE_PASSWORD={{ .Data.password }}\n"
                            "{{- end }}\n")
    return out


def injector_annotations(spec: VaultPaths, service: AppService, vault_ca_path: str) -> dict[str, str]:
    """The pod annotations that make the injector add the agent (init + sidecar) rendering `templates`."""
    annotations = {
        f"{_PREFIX}/agent-inject": "true",
        f"{_PREFIX}/role": role_name(service.name),
        f"{_PREFIX}/auth-path": f"auth/{spec.kubernetes_auth_path}",
        f"{_PREFIX}/ca-cert": vault_ca_path,
        # The agent's init container runs before the Linkerd proxy is up; with the CNI plugin its traffic would be
        # redirected to a proxy not yet listening. Vault is outside the mesh and speaks TLS itself.
        # Ref: https://linkerd.io/2-edge/features/cni/ (init containers and skip-outbound-ports).
        "config.linkerd.io/skip-outbound-ports": str(VAULT_PORT),
        # The agent's init container first (before Linkerd's proxy, itself an init container), and the credentials
        # written before the app starts (pre-populate, vault-k8s's default, stated). Ref: annotations.go v1.7.6
        # AnnotationAgentInitFirst, AnnotationAgentPrePopulate.
        f"{_PREFIX}/agent-init-first": "true",
        f"{_PREFIX}/agent-pre-populate": "true",
        # vault-k8s's own context (v1.7.6 container_sidecar.go securityContext: uid 100, gid 1000, runAsNonRoot,
        # read-only root, drop ALL, no privilege escalation) stated on; seccomp comes from the pod's context.
        f"{_PREFIX}/agent-set-security-context": "true",
        f"{_PREFIX}/agent-service-account-token-volume-name": TOKEN_VOLUME,
        f"{_PREFIX}/tls-secret": VAULT_CA_SECRET,
    }
    for name, template in templates(spec, service).items():
        key = name.removesuffix(".env")
        annotations[f"{_PREFIX}/agent-inject-secret-{key}"] = template.split('"')[1]
        annotations[f"{_PREFIX}/agent-inject-template-{key}"] = template
        annotations[f"{_PREFIX}/agent-inject-file-{key}"] = name
    return annotations


def token_volume(audience: str) -> dict[str, Any]:
    """The projected service account token the agent presents to Vault: the role's audience, 10 minutes."""
    return {"name": TOKEN_VOLUME, "projected": {"sources": [{"serviceAccountToken": {
        "path": "token", "audience": audience, "expirationSeconds": TOKEN_SECONDS}}]}}


def with_vault_agent(deployment: dict[str, Any], annotations: dict[str, str], audience: str) -> dict[str, Any]:
    """A Deployment spec whose pods get the agent: the label the injector's objectSelector matches, the
    annotations, and the token volume."""
    # Copied level by level, not deep-copied: the image may be a Pulumi Output.
    template = deployment["template"]
    metadata = {**template["metadata"], "labels": {**template["metadata"]["labels"], VAULT_AGENT_LABEL: "true"},
                "annotations": {**template["metadata"].get("annotations", {}), **annotations}}
    spec = {**template["spec"], "volumes": [*template["spec"].get("volumes", []), token_volume(audience)]}
    return {**deployment, "template": {**template, "metadata": metadata, "spec": spec}}
