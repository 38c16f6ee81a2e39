"""Zero failed handshakes during a trust-anchor rotation, by simulation with real certificates.

The rotation controller (components/mesh/anchor_rotation/phases.py) runs unchanged against the in-memory mesh of
tests/helpers/anchor_world.py: prod's default catalog (8 services x 4 replicas in prod-app, Linkerd's control plane
in linkerd), each pod a proxy that loaded the trust bundle when it started and holds a 24 h leaf from the identity
issuer current then. After every pod event and issuer re-issue, every client->server pair the catalog allows is
checked both ways with cryptography's X.509 verifier against each side's own bundle: the client verifies the
server's chain for the server's Linkerd identity name (ServerVerifier), the server verifies the client's chain and
finds the caller's identity in it (ClientVerifier). The roots carry the bootstrap's name constraint and path length.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from components.mesh.anchor_rotation.phases import ABORT_PHASES, ABORTED, DONE, PHASES, Rotation, Settings, Status
from components.vault.bootstrap.spec import BootstrapSpec, anchor_generation
from config.catalog import default_catalog
from tests.helpers.anchor_world import START, LocalVault, MeshWorld, Proxy, clock_of, sign_leaf

LOG = logging.getLogger("test.anchor_rotation.simulation")
APP, CONTROL_PLANE = "prod-app", "linkerd"
SPEC = BootstrapSpec(root_common_name="mtls-platform-prod trust anchor", audience="vault://vault-issuer")
CATALOG = default_catalog("prod")
EDGES = [(caller, service.name) for service in CATALOG for caller in service.callers]
CONTROL_PLANE_DEPLOYMENTS = [(CONTROL_PLANE, name, f"linkerd-{name}", 3)
                             for name in ("linkerd-destination", "linkerd-identity", "linkerd-proxy-injector")]


@dataclass
class Checker:
    """Every allowed pair, both directions, at every observation; X.509 results memoised per distinct input."""

    world: MeshWorld
    pairs_checked: int = 0
    steps: int = 0
    failures: list[str] = field(default_factory=list)
    distinct_verifications: int = 0
    _memo: dict[tuple[object, ...], bool] = field(default_factory=dict)

    def _verify(self, kind: str, own: Proxy, peer: Proxy) -> bool:
        # The verdict depends only on these inputs (the simulated minutes change nothing for 24 h leaves), so each
        # distinct (kind, own bundle, peer's leaf) is path-validated once and its verdict reused.
        key = (kind, own.bundle_key, peer.leaf_serial)
        found = self._memo.get(key)
        if found is None:
            bundle = own.bundle
            self.distinct_verifications += 1
            builder = PolicyBuilder().store(Store(list(bundle))).time(self.world.now()).max_chain_depth(2)
            try:
                if kind == "server":
                    builder.build_server_verifier(x509.DNSName(peer.identity)).verify(peer.leaf, [peer.issuer])
                    ok = True
                else:
                    verified = builder.build_client_verifier().verify(peer.leaf, [peer.issuer])
                    ok = peer.identity in [str(n.value) for n in verified.subjects or []]
            except VerificationError:
                ok = False
            self._memo[key] = found = ok
        return found

    def __call__(self, event: str) -> None:
        self.steps += 1
        proxies = self.world.proxies(APP)
        for caller, server in EDGES:
            for client in proxies[caller]:
                for peer in proxies[server]:
                    self.pairs_checked += 1
                    if not self._verify("server", client, peer):
                        self.failures.append(f"{event}: {client.name} cannot verify server {peer.name}")
                    if not self._verify("client", peer, client):
                        self.failures.append(f"{event}: {peer.name} cannot verify client {client.name}")


def simulate(phases: tuple[str, ...] = PHASES, on_event: Callable[[MeshWorld, str], None] | None = None,
             replicas: int | None = None) -> tuple[Checker, Status, LocalVault, MeshWorld]:
    """The rotation over the default catalog; `replicas` (default: prod's minimum per service) shrinks the mesh for
    the variants that only need to show a failure or an end state."""
    holder: list[MeshWorld] = []
    vault = LocalVault(SPEC, lambda: holder[0].now() if holder else START)
    app = [(APP, s.name, s.name, replicas or s.replicas.min) for s in CATALOG]
    world = MeshWorld(vault.sign_intermediate, vault.issuers()[0].pem, [*CONTROL_PLANE_DEPLOYMENTS, *app])
    holder.append(world)
    checker = Checker(world)
    world.observe = checker if on_event is None else lambda event: (checker(event), on_event(world, event))[0]
    checker("before the rotation")
    world.status = {"request": "start"}
    settings = Settings(CONTROL_PLANE, (APP,), threshold_s=365 * 86400, stuck_after_s=6 * 3600, phases=phases)
    status = Rotation(world, vault, settings, lambda n: anchor_generation(SPEC, n), LOG, clock_of(world)).run()
    checker("after the rotation")
    return checker, status, vault, world


def test_a_full_rotation_breaks_no_handshake() -> None:
    checker, status, vault, world = simulate()

    assert status.phase == DONE and status.done == PHASES
    assert checker.failures == []
    replicas = {s.name: s.replicas.min for s in CATALOG}
    per_step = sum(replicas[a] * replicas[b] for a, b in EDGES)
    # 15 edges of 4 x 4 pods; a surge pod mid-rollout adds its pairs to that step
    assert per_step == 15 * 4 * 4 and checker.pairs_checked > per_step * checker.steps
    # 3 restart rounds of 8 x 4 app pods and 3 x 3 control-plane pods (a new and a gone event each), the re-issue,
    # and the looks before and after.
    assert checker.steps == 3 * 2 * (32 + 9) + 1 + 2
    assert vault.calls == ["generate trust-anchor-2", "default trust-anchor-2", "revoke trust-anchor"]
    assert world.events == ["bundle 2 root(s)", "identity issuer re-issued", "bundle 1 root(s)"]
    # Every proxy ends on the new chain only.
    new_root = x509.load_pem_x509_certificate(next(i.pem for i in vault.issuers() if i.default).encode())
    for proxies in world.proxies(APP).values():
        assert all(p.bundle == (new_root,) and p.issuer.issuer == new_root.subject for p in proxies)
    print(f"simulation: {len(EDGES)} allowed edges, {per_step} proxy pairs per step (more while a surge pod runs), "
          f"{checker.steps} steps: {checker.pairs_checked} pairs checked both ways "
          f"({2 * checker.pairs_checked} verifications, "
          f"{checker.distinct_verifications} distinct X.509 path validations), failures {len(checker.failures)}; "
          f"simulated rotation time {world.elapsed / 60:.0f} min")


@pytest.mark.parametrize(("skipped", "why"), [
    ("restart-issuer", "the old root is dropped while proxies still hold leaves from the old issuer"),
    ("restart-trust", "the issuer moves to the new root while proxies trust only the old one"),
    ("bundle-both", "the issuer moves to a root no proxy's bundle holds"),
])
def test_skipping_a_phase_breaks_handshakes(skipped: str, why: str) -> None:
    checker, status, _, _ = simulate(tuple(p for p in PHASES if p != skipped), replicas=2)
    assert status.phase == DONE
    assert checker.failures, why
    print(f"without {skipped}: {len(checker.failures)} failed verifications, first: {checker.failures[0]}")


def test_switching_the_default_issuer_first_breaks_handshakes() -> None:
    order = ("new-root", "reissue", "bundle-both", "restart-trust", "restart-issuer", "bundle-new", "restart-final",
             "retire-old")
    checker, _, _, _ = simulate(order, replicas=2)
    assert checker.failures


def test_the_verifier_enforces_the_roots_name_constraint() -> None:
    vault = LocalVault(SPEC, lambda: START)
    root, root_key = vault.roots[SPEC.root_issuer_name]
    world = MeshWorld(vault.sign_intermediate, vault.issuers()[0].pem, [(APP, "a", "a", 1)])
    outside = sign_leaf(world.issuer, world.issuer_key, "shop.example.com", START)
    builder = PolicyBuilder().store(Store([root])).time(START)
    with pytest.raises(VerificationError):
        builder.build_server_verifier(x509.DNSName("shop.example.com")).verify(outside, [world.issuer])
    proxy = world.proxies(APP)["a"][0]
    builder.build_server_verifier(x509.DNSName(proxy.identity)).verify(proxy.leaf, [proxy.issuer])
    assert dataclasses.is_dataclass(proxy) and root_key is not None



def test_an_abort_during_the_restarts_leaves_the_mesh_on_the_old_anchor() -> None:
    asked: list[str] = []

    def abort_once(world: MeshWorld, event: str) -> None:
        if "2 root(s)" in event and not asked:  # a person asks while restart-trust rolls the pods
            asked.append(event)
            world.status["request"] = "abort"
    checker, status, vault, world = simulate(on_event=abort_once, replicas=2)

    assert status.phase == ABORTED and status.done[-3:] == ABORT_PHASES and "reissue" not in status.done
    assert checker.failures == []
    assert vault.calls == ["generate trust-anchor-2", "revoke trust-anchor-2"] and vault.default == "trust-anchor"
    old = vault.roots["trust-anchor"][0]
    for proxies in world.proxies(APP).values():
        assert all(p.bundle == (old,) and p.issuer.issuer == old.subject for p in proxies)
