"""Config rules of the `rollout` group: `rollout.canaries` and `rollout.images` name catalog services and carry valid
canary blocks and pinned images (`traffic.check_canary`, `image_pins.check_pin`).
"""

from __future__ import annotations

from collections.abc import Iterator

from config.catalog import image_suffix
from config.image_pins import check_pin
from config.model import Problem, StackConfig
from config.schema import key
from config.traffic import check_canary


def canaries(cfg: StackConfig) -> Iterator[Problem]:
    """`rollout.canaries` names catalog services, not ones that already declare a canary, with valid blocks."""
    by_name = {s.name: s for s in cfg.services}
    for name, canary in cfg.canaries.items():
        at = f"{key('rollout.canaries')}.{name}"
        svc = by_name.get(name)
        if svc is None:
            yield Problem(at, f"unknown service {name!r} (services: {', '.join(sorted(by_name))})")
        elif svc.canary is not None:
            yield Problem(at, f"services.{name}.canary is set too; keep one of the two")
        else:
            yield from (Problem(k, r) for k, r in check_canary(at, canary, image_suffix(svc.image)))


def image_pins(cfg: StackConfig) -> Iterator[Problem]:
    """`rollout.images` names catalog services, each with exactly one pinned tag or digest."""
    names = {s.name for s in cfg.services}
    for name, pin in cfg.image_pins.items():
        at = f"{key('rollout.images')}.{name}"
        if name not in names:
            yield Problem(at, f"unknown service {name!r} (services: {', '.join(sorted(names))})")
        yield from (Problem(k, r) for k, r in check_pin(at, pin.tag, pin.digest))
