"""The Vault bootstrap killed at every step against a real OpenBao server, then run again.

A kill is SIGKILL semantics: a forked child runs the bootstrap and calls os._exit() right after its k-th step - a
state-changing request to Vault (anything but GET/LIST) has been answered, or a write to the recovery secret has
completed - so no `finally` block, no revocation, no cleanup runs. Kills after a read are not separate cases: the
server and the secret are then exactly as after the step before. The recovery secret is a file written atomically
(like Secrets Manager, it lives outside the killed process). The child records every response it received, so the
test knows every privileged token that was minted (the init answer's root token, each generate-root token decoded
with its OTP) and checks, right after the kill, that every one still alive is the one the recovery secret holds; after
the re-run, a test-held root token lists the token accessors and finds no other root token, the trust anchor is the
first one generated, and the secret holds the recovery keys and no token.

Two phases: the first run on a fresh server (each kill point gets its own server, run side by side), and an update
run (a changed spec, so the generate-root path and a configuration write happen) on one converged server.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
import requests

from components.vault.bootstrap.steps import (
    PENDING_MARKER,
    BootstrapSpec,
    RecoveryMaterial,
    VaultBootstrapError,
    bootstrap,
    cert_manager_default_audience,
    decode_root_token,
)
from tests.helpers.openbao import (
    OpenBaoServer,
    TokenReviewer,
    needs_bao,
    needs_pod_files,
    privileged_accessors,
    root_client,
)

pytestmark = [needs_bao, needs_pod_files]

LOG = logging.getLogger("test.vault_bootstrap.killed")
KILLED = 137  # what a shell reports for SIGKILL; the child exits with it at the kill point
READS = ("GET", "LIST", "HEAD")


class FileStore:
    """The recovery secret outside the (killed) process: one file, replaced atomically on every put."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self) -> str | None:
        return self.path.read_text() if self.path.exists() else None

    def put(self, value: str) -> None:
        partial = self.path.with_suffix(".partial")
        with partial.open("w") as out:
            out.write(value)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(self.path)

    @property
    def material(self) -> RecoveryMaterial | None:
        return RecoveryMaterial.from_json(self.get())


def killed_run(server: OpenBaoServer, spec: BootstrapSpec, store: FileStore, tap: Path, kill_at: int) -> int:
    """Fork a child that runs the bootstrap and dies right after its `kill_at`-th step; returns its exit code."""
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns into pytest
        steps = 0
        fd = os.open(tap, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

        def step(name: str) -> None:
            nonlocal steps
            steps += 1
            os.write(fd, (json.dumps({"step": name}) + "\n").encode())
            if steps == kill_at:
                os._exit(KILLED)

        send = requests.Session.send

        def recording_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
            response = send(self, request, **kwargs)
            path = str(request.url).split("/v1/", 1)[-1].split("?")[0]
            os.write(fd, (json.dumps({"method": request.method, "path": path, "body": response.text}) + "\n").encode())
            if request.method not in READS:
                step(f"{request.method} {path}")
            return response

        requests.Session.send = recording_send  # type: ignore[method-assign]

        class KillingStore(FileStore):
            def put(self, value: str) -> None:
                super().put(value)
                blob = json.loads(value)
                step("put " + ("marker" if value == PENDING_MARKER else "token" if blob.get("root_token") else
                               "pending" if blob.get("root_generation_pending") else "keys"))

        quiet = logging.getLogger("test.vault_bootstrap.killed.child")
        quiet.disabled = True
        bootstrap(server.client(), spec, KillingStore(store.path), quiet, ready_timeout_s=20)
        os._exit(0)
    except BaseException:  # any failure in the child is just "not killed, not completed"
        os._exit(1)


def wait_child(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@dataclass
class Tap:
    """What the killed child received: its steps, the tokens it minted, the root CA it generated."""

    steps: list[str] = field(default_factory=list)
    minted: list[str] = field(default_factory=list)
    anchor: str | None = None

    @classmethod
    def read(cls, path: Path) -> Tap:
        tap, otp = cls(), ""
        for line in path.read_text().splitlines() if path.exists() else []:
            entry = json.loads(line)
            if "step" in entry:
                tap.steps.append(entry["step"])
                continue
            try:
                body = json.loads(entry["body"] or "{}")
            except ValueError:
                continue
            data = body.get("data") if isinstance(body.get("data"), dict) else body
            if entry["path"] == "sys/init" and body.get("root_token"):
                tap.minted.append(body["root_token"])
            elif entry["path"] == "sys/generate-root/attempt" and entry["method"] in ("PUT", "POST"):
                otp = body.get("otp") or otp
            elif entry["path"] == "sys/generate-root/update" and body.get("complete"):
                tap.minted.append(decode_root_token(body.get("encoded_token") or body["encoded_root_token"], otp))
            elif entry["path"].endswith("root/generate/internal") and data.get("certificate"):
                tap.anchor = data["certificate"].strip() + "\n"
        return tap


def alive(server: OpenBaoServer, token: str) -> bool:
    try:
        server.client(token).auth.token.lookup_self()
    except hvac.exceptions.Forbidden:
        return False
    return True


def spec_for(reviewer: TokenReviewer, **changes: Any) -> BootstrapSpec:
    return BootstrapSpec(**{"root_common_name": "mtls-platform test root", "seal_type": "transit",
                            "audience": cert_manager_default_audience("vault-issuer"),
                            "kubernetes_host": reviewer.host, **changes})


@dataclass
class Case:
    phase: str
    kill_at: int
    server: OpenBaoServer
    store: FileStore
    tap_path: Path
    pid: int = 0
    exit_code: int = -1
    tap: Tap = field(default_factory=Tap)
    outcome: str = ""


def check_after_kill(case: Case) -> None:
    """Every minted token still alive is the one the secret holds - except the two windows no client can close."""
    case.tap = Tap.read(case.tap_path)
    held = case.store.material.root_token if case.store.material else None
    orphans = [t for t in case.tap.minted if t != held and alive(case.server, t)]
    last = case.tap.steps[-1] if case.tap.steps else ""
    if last == "PUT sys/init":  # the init answer (keys + token) died with the process before it could be stored
        assert len(orphans) == 1
        case.outcome = "keys lost with the process; init token alive until storage is wiped"
    elif last == "PUT sys/generate-root/update" and orphans:  # the generated token died with the process
        assert case.store.material is not None and case.store.material.root_generation_pending
        case.outcome = "generated token unheld (marked pending); "
    else:
        assert orphans == [], f"{case.phase} killed after {last!r}: unheld privileged tokens"


def assert_only_own_root_token(server: OpenBaoServer, store: FileStore) -> None:
    """A test-held root token lists every token accessor: no other root token is alive."""
    material = store.material
    assert material is not None
    with root_client(server, material.recovery_keys_b64) as admin:
        assert privileged_accessors(admin) == {admin.auth.token.lookup_self()["data"]["accessor"]}


def rerun_and_check(case: Case, spec: BootstrapSpec, first_anchor: str | None, list_accessors: bool = True) -> None:
    if case.outcome.startswith("keys lost"):
        with pytest.raises(VaultBootstrapError, match="did not complete here"):
            bootstrap(case.server.client(), spec, case.store, LOG, ready_timeout_s=20)
        return
    result = bootstrap(case.server.client(), spec, case.store, LOG, ready_timeout_s=20)
    expected_anchor = first_anchor or case.tap.anchor or result.root_ca_pem
    assert result.root_ca_pem == expected_anchor, f"{case.phase} killed after {case.tap.steps[-1:]}: new anchor"
    material = case.store.material
    assert material is not None and material.root_token is None and not material.root_generation_pending
    if list_accessors:
        assert_only_own_root_token(case.server, case.store)
    assert [t for t in case.tap.minted if alive(case.server, t)] == []
    case.outcome += "re-run completes, same anchor, no root token left"


FIRST_RUN_STEPS = [
    "put marker", "PUT sys/init", "put token", "POST sys/audit/file", "POST sys/mounts/pki",
    "POST pki/root/generate/internal", "POST pki/config/urls", "POST sys/auth/kubernetes",
    "POST auth/kubernetes/config", "PUT sys/policies/acl/cert-manager-linkerd-issuer",
    "POST auth/kubernetes/role/cert-manager", "PUT sys/policies/acl/vault-raft-snapshot",
    "POST auth/kubernetes/role/vault-snapshot", "PUT sys/policies/acl/trust-anchor-rotation",
    "POST auth/kubernetes/role/trust-anchor-rotation", "PUT sys/policies/acl/credential-report",
    "POST auth/kubernetes/role/credential-report", "POST auth/token/revoke-self", "put keys",
]
UPDATE_RUN_STEPS = [
    "PUT sys/generate-root/attempt", "put pending", "PUT sys/generate-root/update", "PUT sys/generate-root/update",
    "PUT sys/generate-root/update", "put token", "POST auth/kubernetes/role/cert-manager",
    "POST auth/token/revoke-self", "put keys",
]


@pytest.fixture
def matrix_report(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    lines: list[str] = []
    started = time.monotonic()
    yield lines
    print(f"\n{request.node.name}: {len(lines)} kill points in {time.monotonic() - started:.1f} s")
    print("\n".join(lines))


def test_first_run_killed_at_every_step(
    openbao_factory: Callable[..., OpenBaoServer], token_reviewer: TokenReviewer, tmp_path: Path,
    matrix_report: list[str],
) -> None:
    spec = spec_for(token_reviewer)
    points = range(1, len(FIRST_RUN_STEPS) + 2)  # the last one is "not killed": the run completes
    with ThreadPoolExecutor(max_workers=8) as pool:
        servers = list(pool.map(lambda _k: openbao_factory(), points))
    cases = [Case("first run", k, server, FileStore(tmp_path / f"secret-{k}.json"), tmp_path / f"tap-{k}.jsonl")
             for k, server in zip(points, servers, strict=True)]
    for case in cases:  # forked from this thread, all at once: each child waits for its own server's election
        case.pid = killed_run(case.server, spec, case.store, case.tap_path, case.kill_at)
    for case in cases:
        case.exit_code = wait_child(case.pid)

    for case in cases:
        check_after_kill(case)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda c: rerun_and_check(c, spec, None), cases))

    assert Tap.read(cases[-1].tap_path).steps == FIRST_RUN_STEPS and cases[-1].exit_code == 0
    assert [c.exit_code for c in cases[:-1]] == [KILLED] * len(FIRST_RUN_STEPS)
    for case in cases:
        step = case.tap.steps[-1] if case.exit_code == KILLED else "(not killed)"
        matrix_report.append(f"  first run  | after {step:<52} | {case.outcome}")
    assert [c.outcome.startswith("keys lost") for c in cases] == [k == 2 for k in points]


def test_update_run_killed_at_every_step(
    openbao_factory: Callable[..., OpenBaoServer], token_reviewer: TokenReviewer, tmp_path: Path,
    matrix_report: list[str],
) -> None:
    server = openbao_factory()
    store = FileStore(tmp_path / "secret.json")
    anchor = bootstrap(server.client(), spec_for(token_reviewer), store, LOG, ready_timeout_s=20).root_ca_pem
    for k in range(1, len(UPDATE_RUN_STEPS) + 2):
        spec = spec_for(token_reviewer, cert_manager_token_ttl_seconds=120 + k)  # a role write in every run
        case = Case("update run", k, server, store, tmp_path / f"tap-{k}.jsonl")
        case.exit_code = wait_child(killed_run(server, spec, store, case.tap_path, k))
        check_after_kill(case)
        # One server: a root token left by any case would still be alive at the end, where the accessors are listed.
        rerun_and_check(case, spec, anchor, list_accessors=False)
        step = case.tap.steps[-1] if case.exit_code == KILLED else "(not killed)"
        matrix_report.append(f"  update run | after {step:<52} | {case.outcome}")
        if k == len(UPDATE_RUN_STEPS) + 1:
            assert case.exit_code == 0 and case.tap.steps == UPDATE_RUN_STEPS
        else:
            assert case.exit_code == KILLED and case.tap.steps == UPDATE_RUN_STEPS[:k]
    assert_only_own_root_token(server, store)
