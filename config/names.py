"""Names more than one layer uses: the project, the environments, and (as they move here) namespaces, service
accounts and the Secrets/ConfigMaps one layer creates and another reads.

A name written twice drifts; every layer (config rules, components, tools, audit) imports it from here.
"""

from __future__ import annotations

from typing import Final, Literal

PROJECT: Final = "mtls-platform"

Environment = Literal["sandbox", "dev", "staging", "prod"]
ENVIRONMENTS: Final[tuple[Environment, ...]] = ("sandbox", "dev", "staging", "prod")
# Environments that carry customer-like load: HA everywhere, private endpoint, protected data.
HA_ENVIRONMENTS: Final[frozenset[str]] = frozenset({"staging", "prod"})
