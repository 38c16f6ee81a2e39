"""Config rules of the `rollout` group: `rollout.canaries` and `rollout.images` name catalog services and carry valid
canary blocks and pinned images (`traffic.check_canary`, `image_pins.check_pin`).
"""

from __future__ import annotations

import re
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


_DURATION = re.compile(r"^([1-9][0-9]*)(s|m)$")


def progressive(cfg: StackConfig) -> Iterator[Problem]:
    """Flagger's analysis reads Linkerd's metrics from Prometheus; its steps must reach promotion; thresholds are
    rates and latencies a service can meet."""
    if not cfg.progressive_enabled:
        return
    if not cfg.monitoring_enabled:
        yield Problem(key("rollout.progressive"), "progressive canaries are analysed on Prometheus metrics: "
                      "set monitoring.enabled true or rollout.progressive false")
    if not 1 <= cfg.canary_step_weight <= 50:
        yield Problem(key("rollout.stepWeight"),
                      f"{cfg.canary_step_weight} must be between 1 and 50 (percent per step)")
    elif not cfg.canary_step_weight <= cfg.canary_max_weight <= 100:
        yield Problem(key("rollout.maxWeight"), f"{cfg.canary_max_weight} must be between stepWeight "
                      f"({cfg.canary_step_weight}) and 100")
    m = _DURATION.match(cfg.canary_interval)
    seconds = int(m.group(1)) * (60 if m.group(2) == "m" else 1) if m else 0
    if not 30 <= seconds <= 1800:
        yield Problem(key("rollout.interval"), f"{cfg.canary_interval!r} must be a whole number of s or m between "
                      "30s and 30m (Linkerd's metrics are scraped every 10-30 s)")
    if not 1 <= cfg.canary_failed_checks <= 20:
        yield Problem(key("rollout.failedChecks"), f"{cfg.canary_failed_checks} must be between 1 and 20")
    if not 50 <= cfg.canary_min_success_rate <= 100:
        yield Problem(key("rollout.minSuccessRate"), f"{cfg.canary_min_success_rate:g} must be a percentage between "
                      "50 and 100")
    if not 1 <= cfg.canary_max_latency_ms <= 60_000:
        yield Problem(key("rollout.maxLatencyMs"), f"{cfg.canary_max_latency_ms} must be between 1 and 60000 ms")


# Environments whose every application image must be referenced by digest (CKV_K8S_43): a tag, even in an immutable
# ECR repository, names whatever was pushed under it first; a digest names the bytes that were scanned and approved.
DIGEST_ENVIRONMENTS = frozenset({"prod"})


def prod_digests(cfg: StackConfig) -> Iterator[Problem]:
    """In prod every service image and canary is a digest (`rollout.images` sets one without restating the catalog)."""
    if cfg.environment not in DIGEST_ENVIRONMENTS:
        return
    for svc in cfg.services:
        if svc.image.digest is None:
            yield Problem(f"{key('rollout.images')}.{svc.name}",
                          f"{cfg.environment} references images by digest (sha256:...), not by tag "
                          f"{svc.image.tag!r} (CKV_K8S_43)")
        canary = svc.canary or cfg.canaries.get(svc.name)
        if canary is not None and canary.digest is None:
            where = (f"{key('rollout.canaries')}.{svc.name}" if svc.name in cfg.canaries
                     else f"{key('services')}.{svc.name}.canary")
            yield Problem(f"{where}.digest", f"{cfg.environment} references images by digest, not by tag "
                                             f"{canary.tag!r} (CKV_K8S_43)")
