"""The rotation's Vault side: hvac calls with the rotation's own token, exactly what its ACL policy allows.

The CronJob logs in through Kubernetes auth with its projected, audience-bound service-account token
(`login`); a token carrying any other policy than the rotation's - a root token above all - is refused before any
request is made. The operations are those of `spec.rotation_policy`: list and read issuers, generate a root in the
same mount with the bootstrap's own parameters (`spec.rotation_root_request`), set the default issuer by name,
revoke an issuer that is not the default.
"""

from __future__ import annotations

from typing import Any

import hvac
import hvac.exceptions

from components.mesh.anchor_rotation.phases import Issuer
from components.vault.bootstrap.api import (
    VaultBootstrapError,
    kubernetes_login,
    require_only_policy,
    vault_data,
    vault_list,
    vault_read,
    vault_step,
)
from components.vault.bootstrap.spec import BootstrapSpec, anchor_issuer_name, rotation_root_request


class RotationVaultError(VaultBootstrapError):
    """A Vault call of the rotation failed; the message names the step, never a token."""


def login(client: hvac.Client, spec: BootstrapSpec, jwt: str) -> None:
    """Kubernetes auth login as the rotation's role; refuses a token with any other policy set."""
    kubernetes_login(client, "rotation", spec.kubernetes_auth_path, spec.rotation_role, spec.rotation_policy, jwt,
                     RotationVaultError)


def require_rotation_token(spec: BootstrapSpec, policies: list[str]) -> None:
    require_only_policy("rotation", policies, spec.rotation_policy, RotationVaultError)


class HvacAnchorVault:
    """phases.AnchorVault over hvac. The client holds the rotation token (`login`)."""

    def __init__(self, client: hvac.Client, spec: BootstrapSpec) -> None:
        self.client, self.spec = client, spec

    def issuers(self) -> list[Issuer]:
        pki = self.spec.pki_path
        with vault_step("rotation: read issuers", self.client.url):
            # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#list-issuers and #read-issuer (the
            # reference `default` names the mount's default issuer)
            info: dict[str, Any] = vault_list(self.client, f"{pki}/issuers").get("key_info") or {}
            default = str(vault_read(self.client, f"{pki}/issuer/default").get("issuer_id") or "")
            found = []
            for issuer_id, item in info.items():
                detail = vault_read(self.client, f"{pki}/issuer/{issuer_id}")
                found.append(Issuer(name=str(item.get("issuer_name") or issuer_id),
                                    pem=str(detail["certificate"]).strip() + "\n", revoked=bool(detail.get("revoked")),
                                    default=issuer_id == default))
        return found

    def generate(self, generation: int) -> Issuer:
        name = anchor_issuer_name(self.spec, generation)
        for issuer in self.issuers():
            if issuer.name == name:
                return issuer  # a resumed run: generated before the kill
        with vault_step("rotation: generate the new root", self.client.url):
            # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#generate-root (type internal: the key
            # never leaves Vault). A new root on a multi-issuer mount does not become the default by itself unless
            # default_follows_latest_issuer is set, which the bootstrap keeps false.
            answer = vault_data(self.client.write_data(f"{self.spec.pki_path}/root/generate/internal",
                                                       data=rotation_root_request(self.spec, generation)))
        return Issuer(name=name, pem=str(answer["certificate"]).strip() + "\n", revoked=False, default=False)

    def set_default(self, name: str) -> None:
        with vault_step("rotation: set the default issuer", self.client.url):
            # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#set-issuers-configuration (default by name)
            self.client.write_data(f"{self.spec.pki_path}/config/issuers",
                                   data={"default": name, "default_follows_latest_issuer": "false"})

    def revoke(self, name: str) -> None:
        issuer = next((i for i in self.issuers() if i.name == name), None)
        if issuer is None or issuer.revoked:
            return
        if issuer.default:
            raise RotationVaultError(f"rotation: refusing to revoke {name!r}, the mount's default issuer")
        with vault_step("rotation: revoke the retired root", self.client.url):
            # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#revoke-issuer
            self.client.write_data(f"{self.spec.pki_path}/issuer/{name}/revoke", data={})
