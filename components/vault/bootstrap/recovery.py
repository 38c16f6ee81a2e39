"""Vault's recovery material and where it is kept: the awskms recovery key shares and, transiently, a root token.

`RecoveryMaterial` is the one JSON document a team needs to get back into Vault; a `SecretStore` holds it
(`SecretsManagerStore` in AWS Secrets Manager for real runs, `InMemorySecretStore` for tests and dry runs).
`decode_root_token` turns the generate-root flow's encoded token back into a usable token with the attempt's one-time
password. Nothing here talks to Vault; `vault_bootstrap.py` writes the material before anything else it does.
"""

from __future__ import annotations

import base64
import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from components.vault.bootstrap.api import VaultBootstrapError

PENDING_MARKER = json.dumps({"format": 1, "state": "initialising"})  # written before init: proves write access

@dataclass(frozen=True)
class RecoveryMaterial:
    """What a team needs to get back into Vault: the recovery key shares (and, transiently, a root token)."""

    recovery_keys_b64: tuple[str, ...] = field(repr=False)
    recovery_threshold: int
    root_token: str | None = field(default=None, repr=False)  # only between init/generation and revocation
    # True from just before a root token generation is authorised until its token is stored: a run killed in
    # between leaves a root token nobody holds, which the next run finds and revokes (steps._revoke_orphans).
    root_generation_pending: bool = False

    def to_json(self) -> str:
        return json.dumps({
            "format": 1,
            "state": "initialised",
            "note": "Vault awskms recovery key shares (base64); any recovery_threshold of them authorise generate-root",
            "recovery_threshold": self.recovery_threshold,
            "recovery_keys_b64": list(self.recovery_keys_b64),
            "root_token": self.root_token,
            "root_generation_pending": self.root_generation_pending,
        })

    @classmethod
    def from_json(cls, text: str | None) -> RecoveryMaterial | None:
        """None when the store holds nothing usable (empty, or only the marker written before init)."""
        if not text:
            return None
        blob = json.loads(text)
        if not isinstance(blob, dict) or blob.get("state") != "initialised":
            return None
        return cls(tuple(blob["recovery_keys_b64"]), int(blob["recovery_threshold"]), blob.get("root_token") or None,
                   bool(blob.get("root_generation_pending")))


class SecretStore(Protocol):
    """Where the recovery material lives: one JSON document."""

    def get(self) -> str | None: ...

    def put(self, value: str) -> None: ...


class InMemorySecretStore:
    """A SecretStore for tests and dry runs; `writes` keeps every value put, in order."""

    def __init__(self, value: str | None = None) -> None:
        self.writes: list[str] = []
        self._value = value

    def get(self) -> str | None:
        return self._value

    def put(self, value: str) -> None:
        self.writes.append(value)
        self._value = value


class SecretsManagerStore:
    """The recovery secret in AWS Secrets Manager: the program creates it (customer KMS key, access limited to the
    deployer and a break-glass role); operators read it with `aws secretsmanager get-secret-value`."""

    def __init__(self, secret_arn: str, region: str, client: Any | None = None) -> None:
        self._arn = secret_arn
        # boto3 ships no type information; imported here so the module loads without it.
        self._client = client or importlib.import_module("boto3").client("secretsmanager", region_name=region)

    def get(self) -> str | None:
        # Ref: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
        # (ResourceNotFoundException also when the secret has no AWSCURRENT value yet, as right after creation).
        try:
            response = self._client.get_secret_value(SecretId=self._arn)
        except self._client.exceptions.ResourceNotFoundException:
            return None
        value = response.get("SecretString")
        return value if isinstance(value, str) else None

    def put(self, value: str) -> None:
        # Ref: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html (new version,
        # labelled AWSCURRENT; the former one stays readable as AWSPREVIOUS).
        self._client.put_secret_value(SecretId=self._arn, SecretString=value)


def decode_root_token(encoded: str, otp: str) -> str:
    """Decode generate-root's `encoded_token` with the attempt's OTP."""
    # Ref: https://github.com/hashicorp/vault/blob/main/sdk/helper/roottoken/decode.go (otpLength > 0: base64
    # RawStdEncoding, then XOR with the OTP's bytes; both must have the same length).
    raw = base64.b64decode(encoded.rstrip("=") + "=" * (-len(encoded.rstrip("=")) % 4))
    if len(raw) != len(otp):
        raise VaultBootstrapError("generate a root token: the encoded token and the one-time password differ in length")
    return bytes(a ^ b for a, b in zip(raw, otp.encode(), strict=True)).decode()

