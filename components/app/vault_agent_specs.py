"""How a service's credentials reach its pods: Vault Agent templates and the injector annotations that carry them.

Pure: for a service with a Vault role (components/vault/bootstrap/app_secrets.py), one file per credential in the
agent's in-memory volume (`/vault/secrets/<name>.env`, `KEY=value` lines a process or a connection pool re-reads when
the agent re-renders it before the lease ends), and the pod annotations the vault chart's injector reads. The same
templates are rendered by a real agent in tests/components/vault/test_app_secrets_openbao.py. Not yet applied to
the Deployments: the injector is not switched on (README "Application secrets from Vault").
"""

from __future__ import annotations

from typing import Final

from components.vault.bootstrap.app_secrets import (
    CACHE,
    POSTGRES,
    AppSecretsSpec,
    AppService,
    cache_role,
    postgres_role,
    role_name,
)

SECRETS_DIR: Final = "/vault/secrets"  # the injector's default secret-volume-path (an emptyDir in memory)
# Ref: https://github.com/hashicorp/vault-k8s/blob/main/agent-inject/agent/annotations.go (annotation keys; the
# chart pins vault-k8s 1.7.6).
_PREFIX: Final = "vault.hashicorp.com"


def templates(spec: AppSecretsSpec, service: AppService) -> dict[str, str]:
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


def injector_annotations(spec: AppSecretsSpec, service: AppService, vault_ca_path: str) -> dict[str, str]:
    """The pod annotations that make the injector add the agent (init + sidecar) rendering `templates`."""
    annotations = {
        f"{_PREFIX}/agent-inject": "true",
        f"{_PREFIX}/role": role_name(service.name),
        f"{_PREFIX}/auth-path": f"auth/{spec.kubernetes_auth_path}",
        f"{_PREFIX}/ca-cert": vault_ca_path,
        # The agent's init container runs before the Linkerd proxy is up; with the CNI plugin its traffic would be
        # redirected to a proxy not yet listening. Vault is outside the mesh and speaks TLS itself.
        # Ref: https://linkerd.io/2-edge/features/cni/ (init containers and skip-outbound-ports).
        "config.linkerd.io/skip-outbound-ports": "8200",
    }
    for name, template in templates(spec, service).items():
        key = name.removesuffix(".env")
        annotations[f"{_PREFIX}/agent-inject-secret-{key}"] = template.split('"')[1]
        annotations[f"{_PREFIX}/agent-inject-template-{key}"] = template
        annotations[f"{_PREFIX}/agent-inject-file-{key}"] = name
    return annotations
