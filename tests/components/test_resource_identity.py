"""Resource identity: every stack registers exactly the URNs committed in tests/golden/ (one list per stack).

A URN is the identity of a live resource: a changed type token, name or parent makes `pulumi up` replace it (a new
VPC, a new Vault volume). Moving code must not change one; a deliberate change shows up here as a reviewed diff of
the golden file, together with the alias that keeps the old resource (`pulumi.Alias`) or a note why a replacement
is intended. Regenerate after such a change with `UPDATE_GOLDEN=1 make pytest` and read the diff.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import ROOT, STACKS, plan_of

GOLDEN = ROOT / "tests" / "golden"


def urns(stack: str) -> list[str]:
    return sorted(r.urn for r in plan_of(stack).resources)


@pytest.mark.parametrize("stack", STACKS)
def test_every_urn_is_the_committed_one(stack: str) -> None:
    path = GOLDEN / f"urns-{stack}.txt"
    current = urns(stack)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text("\n".join(current) + "\n")
    committed = path.read_text().splitlines()
    added, removed = sorted(set(current) - set(committed)), sorted(set(committed) - set(current))
    assert not added and not removed, (
        f"{stack}: URNs changed (each is a live resource): {len(removed)} gone, {len(added)} new.\n"
        + "\n".join([*(f"- {u}" for u in removed[:20]), *(f"+ {u}" for u in added[:20])]))
    assert len(current) == len(set(current)), "two registrations share a URN"
