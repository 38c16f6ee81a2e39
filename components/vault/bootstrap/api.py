"""How the Vault bootstrap talks to Vault: its error type and the wrappers every bootstrap step runs inside.

`vault_step` turns hvac and transport errors into a `VaultBootstrapError` naming the step (never key material or
tokens, and without the chained traceback that could carry them); `store_step` does the same for the recovery secret's
store; `vault_data` unwraps the `data` object of a Vault response. Shared by the bootstrap flow
(`steps.py`), the configuration steps (`configure.py`) and the recovery material (`recovery.py`).

A transport failure becomes a `VaultUnreachable` that says whether waiting can help (`permanent`): a listener
certificate the given CA did not sign, or that does not name the address the bootstrap connects to, stays so however
long one waits, while a refused or dropped connection (the pod still starting, the port-forward not yet possible)
may heal. `steps.py` retries only the latter, so a wrong CA is reported in seconds, not after the ready timeout.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from typing import Any

import hvac
import hvac.exceptions


class VaultBootstrapError(RuntimeError):
    """A bootstrap step failed. The message names the step and the cause, never key material or tokens."""


class VaultUnreachable(VaultBootstrapError):
    """No HTTP answer from Vault. `permanent`: the cause will not heal by waiting (see transport_cause)."""

    def __init__(self, step: str, vault_url: object, cause: str, *, permanent: bool) -> None:
        super().__init__(f"{step}: Vault is unreachable at {vault_url}: {cause}")
        self.step, self.vault_url, self.permanent = step, vault_url, permanent


# OpenSSL's X509_V_ERR_* codes (include/openssl/x509_vfy.h), as ssl.SSLCertVerificationError.verify_code carries them.
# Ref: https://github.com/openssl/openssl/blob/openssl-3.0.0/include/openssl/x509_vfy.h.in
_NAME_MISMATCH = {62: "host name", 63: "e-mail address", 64: "IP address"}
_EXPIRED, _NOT_YET_VALID = 10, 9
# no issuer certificate, signature failure (a CA of the same name but another key: a stale CA input after the
# listener CA was replaced), self-signed, unknown local issuer, chain unverifiable
_UNTRUSTED = {2, 7, 18, 19, 20, 21}


def transport_cause(exc: BaseException) -> tuple[bool, str]:
    """(permanent, cause) of a transport error from requests/urllib3/ssl; `cause` names what to fix when permanent."""
    for link in _chain(exc):
        if isinstance(link, ssl.SSLCertVerificationError):
            code, message = int(getattr(link, "verify_code", 0) or 0), str(getattr(link, "verify_message", link))
            if code in _NAME_MISMATCH:
                return True, (
                    f"Vault's listener certificate does not name the {_NAME_MISMATCH[code]} the bootstrap connects to "
                    f"({message}); behind the port-forward that is 127.0.0.1, which must be one of the certificate's "
                    "SANs (components/vault/vault_tls.py)")
            if code in (_EXPIRED, _NOT_YET_VALID):
                return True, (f"Vault's listener certificate is not valid now ({message}): renew it, or check the "
                              "clock of this machine")
            if code in _UNTRUSTED:
                return True, (f"Vault's listener certificate is not signed by the CA given as vault_ca_pem "
                              f"({message}); the listener serves another certificate than the one this stack "
                              "made, or the CA input is stale")
            return True, f"Vault's listener certificate failed verification ({message})"
        if isinstance(link, ssl.SSLError) and getattr(link, "reason", "") == "WRONG_VERSION_NUMBER":
            return True, "the port answers without TLS: Vault's listener has TLS disabled or another service is there"
    return False, f"{type(exc).__name__}: no answer yet (the pod may still be starting)"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it wraps: requests wraps urllib3's MaxRetryError (`.reason`), which wraps ssl's."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        link = todo.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        nested = [*link.args, getattr(link, "reason", None), link.__cause__, link.__context__]
        todo += [item for item in nested if isinstance(item, BaseException)]


# What Vault answers when its seal cannot use its key (awskms here; transit in the tests): initialisation encrypts
# the new barrier keys with the seal. Ref: https://github.com/openbao/openbao/blob/v2.6.2/vault/init.go ("failed to
# store keys") and vault/seal_autoseal.go ("failed to encrypt keys for storage"); seen from OpenBao 2.7.2 as a 400.
_SEAL_KEY_ERRORS = ("failed to encrypt keys for storage", "failed to store keys")


@contextlib.contextmanager
def vault_step(name: str, vault_url: object) -> Iterator[None]:
    """Turn hvac / transport errors into a VaultBootstrapError naming the step (and drop the chained traceback)."""
    try:
        yield
    except VaultBootstrapError:
        raise
    except hvac.exceptions.Forbidden as exc:
        raise VaultBootstrapError(
            f"{name}: Vault answered 403 permission denied ({exc}); the token in use lacks that capability") from None
    except hvac.exceptions.VaultDown as exc:
        raise VaultBootstrapError(f"{name}: Vault answered 503, it is sealed or has no active node ({exc})") from None
    except hvac.exceptions.VaultError as exc:
        if any(text in str(exc) for text in _SEAL_KEY_ERRORS):
            raise VaultBootstrapError(
                f"{name}: Vault could not use its seal's key ({' '.join(str(exc).split())}). With the awskms "
                "seal: check that the vault pods reach KMS and that their IRSA role may use the unseal key "
                "(kms:Encrypt/Decrypt/DescribeKey, key enabled). A failed initialisation can leave Vault reporting "
                "itself initialised with keys nobody holds: then delete its storage (the vault pods' data volumes) "
                "before running again") from None
        raise VaultBootstrapError(f"{name}: Vault answered {type(exc).__name__}: {exc}") from None
    except OSError as exc:  # requests' ConnectionError / Timeout / SSLError derive from OSError
        permanent, cause = transport_cause(exc)
        raise VaultUnreachable(name, vault_url, cause, permanent=permanent) from None


@contextlib.contextmanager
def store_step(name: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # AWS errors name the operation and the code, never the secret value
        raise VaultBootstrapError(f"{name}: {type(exc).__name__}: {exc}") from None


def vault_data(response: Any) -> dict[str, Any]:
    """The `data` object of a Vault response (sys/ endpoints also repeat it at the top level)."""
    if not isinstance(response, dict):
        return {}
    data = response.get("data")
    return data if isinstance(data, dict) else response



def vault_read(client: hvac.Client, path: str) -> dict[str, Any]:
    """GET /v1/<path>'s data (hvac's generic read is unannotated); 404 raises hvac.exceptions.InvalidPath."""
    return vault_data(client.read(path))  # type: ignore[no-untyped-call]


def vault_list(client: hvac.Client, path: str) -> dict[str, Any]:
    """LIST /v1/<path>'s data (`keys`, and `key_info` where the endpoint gives it)."""
    return vault_data(client.list(path))  # type: ignore[no-untyped-call]


def require_only_policy(who: str, policies: list[str], policy: str, error: type[VaultBootstrapError]) -> None:
    """A controller's token must carry exactly its own policy: anything else (root, a broader set) is refused."""
    if policies != [policy]:
        raise error(f"{who} login: the token carries policies {policies}, not exactly [{policy!r}]; "
                    "refusing to run with it")


def kubernetes_login(client: hvac.Client, who: str, mount_point: str, role: str, policy: str, jwt: str,
                     error: type[VaultBootstrapError]) -> None:
    """Kubernetes auth login as `role` (the in-cluster controllers' own); the client keeps the token only if it
    carries exactly `policy`."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#login (unauthenticated; answers auth.policies)
    with vault_step(f"{who} login", client.url):
        answer = client.auth.kubernetes.login(role, jwt, use_token=False, mount_point=mount_point)
    auth = answer.get("auth") or {}
    require_only_policy(who, list(auth.get("policies") or []), policy, error)
    client.token = str(auth["client_token"])
