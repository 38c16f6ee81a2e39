"""How the Vault bootstrap talks to Vault: its error type and the wrappers every bootstrap step runs inside.

`vault_step` turns hvac and transport errors into a `VaultBootstrapError` naming the step (never key material or
tokens, and without the chained traceback that could carry them); `store_step` does the same for the recovery secret's
store; `vault_data` unwraps the `data` object of a Vault response. Shared by the bootstrap flow
(`steps.py`), the configuration steps (`configure.py`) and the recovery material (`recovery.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import hvac
import hvac.exceptions


class VaultBootstrapError(RuntimeError):
    """A bootstrap step failed. The message names the step and the cause, never key material or tokens."""


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
        raise VaultBootstrapError(f"{name}: Vault answered {type(exc).__name__}: {exc}") from None
    except OSError as exc:  # requests' ConnectionError / Timeout / SSLError derive from OSError
        raise VaultBootstrapError(f"{name}: Vault is unreachable at {vault_url} ({type(exc).__name__})") from None


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
