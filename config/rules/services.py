"""Config rules about the `services` key (the catalog) that need more than the catalog: names the platform itself
takes in the app namespace. The catalog's own shape and call-graph rules are `config.catalog.check`.
"""

from __future__ import annotations

from collections.abc import Iterator

from config.model import Problem, StackConfig
from config.names import PUBLIC_INGRESS as EDGE
from config.schema import key


def reserved_service_names(cfg: StackConfig) -> Iterator[Problem]:
    """Names the platform itself uses in the app namespace: the public edge (its SA is admitted by every public
    service) and the canary's per-track Services (`<svc>-stable`, `<svc>-canary`)."""
    for svc in cfg.services:
        at = f"{key('services')}.{svc.name}"
        if svc.name == EDGE:
            yield Problem(at, f"{EDGE!r} is the public edge's name (its identity may call every public service)")
        elif svc.name.endswith(("-stable", "-canary")):
            yield Problem(at, "names ending in -stable or -canary are the canary's per-track Services")


def data_services_run(cfg: StackConfig) -> Iterator[Problem]:
    """A service may ask only for a data service the stack runs: Vault would have no credential to give it."""
    for svc in cfg.services:
        for i, wanted in enumerate(svc.data_services):
            if wanted not in cfg.data_services_run:
                yield Problem(f"{key('services')}.{svc.name}.dataServices[{i}]",
                              f"{wanted!r} is not run by this stack (it runs {sorted(cfg.data_services_run)}), so "
                              "no credential for it exists")
