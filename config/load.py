"""Loading one stack's configuration, once, by `__main__`, before any resource is registered.

Three steps: the raw Pulumi config is parsed against `config.schema.RawConfig` (pydantic: types and shapes), the
environment's profile fills every key the stack file leaves out, and the cross-key rules in `config.rules` run over
the merged result. Every problem from every step is reported together in one `ConfigError`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from datetime import date
from typing import Any, Final

import pulumi
import pydantic
from pulumi.runtime.config import CONFIG, get_config_env

from config import catalog, manifests, rules
from config.model import ConfigError, Problem, StackConfig
from config.names import PROJECT
from config.profiles import PROFILES, Profile
from config.schema import _JSON_KEYS, CONFIG_KEYS, GROUPS, RawConfig, key
from config.subnets import carve_subnets
from config.versions import KUBERNETES_VERSION

# Environment variable that fixes the date support calendars are read at (offline plans in tests).
TODAY_VARIABLE: Final = "MTLS_PLATFORM_TODAY"


def _decode(alias: str, raw: Any) -> Any:
    """Pulumi hands every config value over as a string; objects and lists arrive JSON-encoded."""
    if alias not in _JSON_KEYS or not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # left as a string: pydantic then reports the wrong type against this key


def read_raw_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Pick this project's keys out of the whole stack config; unknown keys under our namespace are problems."""
    prefix = f"{PROJECT}:"
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for full_key, raw in config.items():
        if not full_key.startswith(prefix):
            continue
        name = full_key[len(prefix) :]
        if name not in CONFIG_KEYS:
            problems.append(Problem(full_key, "unknown config key (not declared in Pulumi.yaml; a typo?)"))
            continue
        values[name] = _decode(name, raw)
    return values, problems


def _pydantic_problems(err: pydantic.ValidationError) -> tuple[list[Problem], set[str]]:
    problems, failed = [], set()
    for e in err.errors():
        loc = [str(part) for part in e["loc"]]
        # The failed *setting*: a group's field (network.vpcCidr) or a top-level key (environment).
        failed.add(loc[1] if loc[0] in GROUPS and len(loc) > 1 else loc[0])
        where = f"{PROJECT}:{'.'.join(loc[:2])}" + "".join(f"[{p}]" for p in loc[2:])
        msg = {"missing": "is required", "extra_forbidden": "unknown setting (a typo?)"}.get(
            e["type"], e["msg"].replace("Input should", "must"))
        problems.append(Problem(where, msg))
    return problems, failed


def build_stack_config(stack: str, config: Mapping[str, Any], *, today: date) -> StackConfig:
    """Parse, merge with the environment's profile, and validate as of `today` (support calendars end). Raises
    ConfigError listing every problem."""
    values, problems = read_raw_config(config)
    region = config.get("aws:region") or ""
    failed: set[str] = set()
    try:
        raw = RawConfig.model_validate(values)
    except pydantic.ValidationError as err:
        type_problems, failed = _pydantic_problems(err)
        problems += type_problems
        # Re-parse with the broken keys dropped so the cross-key rules can still check the rest.
        # Without a valid environment there is no profile to merge with: report what we have.
        if "environment" in failed:
            raise ConfigError(stack, problems) from None
        raw = RawConfig.model_validate(_without(values, failed))

    services, catalog_problems = catalog.parse(
        key("services"), raw.services, raw.environment,
        catalog.duplicate_names(config.get(key("services"))))
    problems += [Problem(k, rule) for k, rule in catalog_problems]
    merged = merge(stack, region, raw, PROFILES[raw.environment])
    cfg = dataclasses.replace(merged, services=catalog.apply_pins(services, merged.image_pins))
    problems += [p for p in rules.check(cfg, today) if not _involves(p, failed)]
    objects, manifest_problems = manifests.load_for(cfg)
    problems += [Problem(k, rule) for k, rule in manifest_problems]
    cfg = dataclasses.replace(cfg, manifest_objects=objects)
    if problems:
        raise ConfigError(stack, problems)
    return cfg


def _without(values: dict[str, Any], failed: set[str]) -> dict[str, Any]:
    """The raw values minus every setting that failed to parse (a whole key if its object was malformed)."""
    kept: dict[str, Any] = {}
    for k, v in values.items():
        if k in failed:
            continue
        kept[k] = {f: x for f, x in v.items() if f not in failed} if isinstance(v, dict) else v
    return kept


def _involves(problem: Problem, failed: set[str]) -> bool:
    path = problem.key.split(":", 1)[-1].split("[", 1)[0]
    return any(part in failed for part in path.split("."))


def merge(stack: str, region: str, raw: RawConfig, profile: Profile) -> StackConfig:
    """Profile defaults overlaid with every key the stack file sets; subnets carved from the VPC when unset."""
    overrides = raw.overrides()
    base = {f.name: getattr(profile, f.name) for f in dataclasses.fields(Profile)}
    merged: dict[str, Any] = {**base, **overrides}
    merged.setdefault("kubernetes_version", KUBERNETES_VERSION)
    # The profiles' progressive canaries assume their Prometheus: a stack that turns monitoring off without saying
    # anything about rollout.progressive gets no canaries (an explicit `true` still meets the rule's error).
    if "progressive_enabled" not in overrides and not merged["monitoring_enabled"]:
        merged["progressive_enabled"] = False
    if "availability_zones" in merged and "az_count" not in overrides:
        merged["az_count"] = len(merged["availability_zones"])
    carved = carve_subnets(merged["vpc_cidr"], merged["az_count"])
    for tier, cidrs in carved.items():
        merged.setdefault(f"{tier}_subnet_cidrs", cidrs)
    return StackConfig(
        **merged,
        stack=stack,
        region=region,
        environment=raw.environment,
        owner=raw.owner,
        service_catalog_products={str(k): v for k, v in (raw.data.service_catalog_products or {}).items()},
    )


def run_date(stack: str) -> date:
    """The date `stack`'s support calendars are read at: today, or `MTLS_PLATFORM_TODAY` (ISO date) when set.

    The offline plan (`tools.engine.mock_engine.run_stack`) sets it for the test suite, so that no test depends on
    the day it runs; a person may set it to ask whether a stack's versions will still be supported on a later date.
    """
    value = os.environ.get(TODAY_VARIABLE)
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        problem = Problem(TODAY_VARIABLE, f"{value!r} is not an ISO date (YYYY-MM-DD)")
        raise ConfigError(stack, [problem]) from None


def load_stack_config() -> StackConfig:
    """Build the stack's config from the running Pulumi program's settings (called once, by `__main__`)."""
    config = {**get_config_env(), **CONFIG.get()}
    stack = pulumi.get_stack()
    return build_stack_config(stack, config, today=run_date(stack))
