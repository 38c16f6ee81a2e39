"""The application's service catalog: the typed, validated description of every service the platform runs.

The catalog is the `services` key of the stack config (`{name: service}`); left empty, the stack runs the default
catalog below. Everything the application layer creates — ECR repositories, workloads, Linkerd policy and
NetworkPolicies — is derived from it, so the call graph is declared once, here, as each service's `callers`.

Default catalog (the customer's 8 services; gRPC inside, HTTP at the edge; an edge A -> B reads "A calls B"):

    order-processing (public) -> product-catalog, inventory-management, payment-gateway, customer-profile,
                                 analytics, configuration-engine
    product-catalog (public)  -> inventory-management, recommendation, configuration-engine
    recommendation            -> customer-profile, analytics, configuration-engine
    inventory-management      -> configuration-engine
    payment-gateway           -> configuration-engine
    customer-profile          -> configuration-engine
    analytics, configuration-engine: call nobody (order events and recommendations flow into analytics; every
                                 service reads its feature flags and tunables from configuration-engine)

Data: order-processing rds+mq, inventory-management rds+mq, payment-gateway rds, customer-profile rds,
product-catalog cache, recommendation cache, analytics mq. Non-critical (may run on the spot pool):
recommendation, analytics. The graph is acyclic, which the sandbox's test image needs (below).

Images: staging/prod/dev run the company's images from the ECR repository the application layer creates per service
(`<account>.dkr.ecr.<region>.amazonaws.com/mtls-platform-<stack>/<service>`, tag `DEFAULT_TAG` unless the catalog says
otherwise). The sandbox runs Linkerd's building-blocks test image `buoyantio/bb` (a pinned tag): every service
serves gRPC and HTTP/1.1 and, on each request, calls its callees over gRPC with `--fire-and-forget` (so a
readiness probe never fails because a callee is down), which reproduces the catalog's call graph through the mesh.
Ref: https://github.com/BuoyantIO/bb (cmd/root.go: --grpc-server-port, --h1-server-port, --grpc-downstream-server)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from config import traffic
from config.image_pins import ImagePin, check_pin
from config.traffic import Canary, Protocol, TrafficPolicy

DataService = Literal["rds", "mq", "cache"]

DEFAULT_TAG: Final = "v1.0.0"
# Ref: linkerd2 test and docs manifests (edge-26.x) pin buoyantio/bb:v0.0.6; scratch image, no USER (see app_specs).
TEST_IMAGE: Final = "docker.io/buoyantio/bb"
TEST_IMAGE_TAG: Final = "v0.0.6"
# Ports the Linkerd proxy owns inside every meshed pod: outbound, inbound, admin, tap.
# Ref: linkerd-control-plane values.yaml `proxy.ports` (admin 4191, control 4190, inbound 4143, outbound 4140)
PROXY_PORTS: Final = frozenset({4140, 4143, 4190, 4191})
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_MAX_NAME = 40  # leaves room for suffixes such as "-grpc-callers" in the 63-character object names
_PORT_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # IANA_SVC_NAME, at most 15 characters


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class Image(_Model):
    """Where the image comes from: `repository` (default: the service's ECR repository) and a tag or a digest
    (default: tag `DEFAULT_TAG`)."""

    repository: str | None = None
    tag: str | None = None
    digest: str | None = None

    @pydantic.model_validator(mode="before")
    @classmethod
    def _default_tag(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tag") is None and data.get("digest") is None:
            return {**data, "tag": DEFAULT_TAG}
        return data


class Port(_Model):
    name: str
    port: int = Field(ge=1, le=65535)
    protocol: Protocol


class Replicas(_Model):
    min: int = Field(ge=1)
    max: int = Field(ge=1)


class Resources(_Model):
    cpu_request: str = Field("100m", alias="cpuRequest")
    cpu_limit: str = Field("500m", alias="cpuLimit")
    memory_request: str = Field("128Mi", alias="memoryRequest")
    memory_limit: str = Field("256Mi", alias="memoryLimit")


class Health(_Model):
    """HTTP GET probes on one of the service's http ports.

    HTTP only: Linkerd authorizes the kubelet's HTTP GET probe paths by itself (from `probeNetworks`) while a
    Server has no HTTPRoute, whereas a gRPC or TCP probe would need the port opened to unauthenticated clients.
    """

    port: str
    liveness_path: str = Field("/healthz", alias="livenessPath")
    readiness_path: str = Field("/readyz", alias="readinessPath")


class Service(_Model):
    """One service of the catalog. `name` is the catalog key, never set in the value."""

    name: str = ""
    image: Image = Image()
    ports: list[Port] = Field(min_length=1)
    replicas: Replicas
    resources: Resources = Resources()
    health: Health
    public: bool = False
    callers: list[str] = []
    data_services: list[DataService] = Field([], alias="dataServices")
    non_critical: bool = Field(False, alias="nonCritical")
    args: list[str] = []  # container arguments (the test image's command line)
    traffic: TrafficPolicy = TrafficPolicy()  # timeouts and retries its callers apply (traffic.py)
    canary: Canary | None = None  # a second, weighted Deployment with another image

    def port(self, name: str) -> Port | None:
        return next((p for p in self.ports if p.name == name), None)

    @property
    def image_ref(self) -> str | None:
        """`repository:tag` or `repository@digest`; None while the repository is the (not yet created) ECR one."""
        if self.image.repository is None:
            return None
        return f"{self.image.repository}{image_suffix(self.image)}"


def image_suffix(image: Image) -> str:
    return f"@{image.digest}" if image.digest else f":{image.tag}"


Catalog = tuple[Service, ...]


def apply_pins(catalog: Catalog, pins: Mapping[str, ImagePin]) -> Catalog:
    """The catalog with each pinned service's image tag/digest replaced (`rollout.images`, config/image_pins.py);
    unknown names and broken pins are left to the rule."""
    return tuple(
        svc.model_copy(update={"image": Image(repository=svc.image.repository, tag=pins[svc.name].tag,
                                              digest=pins[svc.name].digest)})
        if svc.name in pins and not list(check_pin("", pins[svc.name].tag, pins[svc.name].digest)) else svc
        for svc in catalog)

# Replicas (min, max) per environment: sandbox/dev one pod is enough and two prove scaling works; staging keeps two
# so its PDB always leaves one serving; prod starts at the brief's target of 4 (more than one per zone of 3).
REPLICAS: Final[Mapping[str, tuple[int, int]]] = {"sandbox": (1, 2), "dev": (1, 2), "staging": (2, 4),
                                                  "prod": (4, 6)}

# name -> (public, callers, data services, non-critical)
_GRAPH: Final[dict[str, tuple[bool, tuple[str, ...], tuple[DataService, ...], bool]]] = {
    "product-catalog": (True, ("order-processing",), ("cache",), False),
    "inventory-management": (False, ("order-processing", "product-catalog"), ("rds", "mq"), False),
    "order-processing": (True, (), ("rds", "mq"), False),
    "customer-profile": (False, ("order-processing", "recommendation"), ("rds",), False),
    "payment-gateway": (False, ("order-processing",), ("rds",), False),
    "configuration-engine": (False, ("order-processing", "product-catalog", "inventory-management",
                                     "payment-gateway", "customer-profile", "recommendation"), (), False),
    "recommendation": (False, ("product-catalog",), ("cache",), True),
    "analytics": (False, ("order-processing", "recommendation"), ("mq",), True),
}
GRPC_PORT: Final = 9090
HTTP_PORT: Final = 8080


def callees(name: str, catalog: Catalog) -> list[str]:
    return [s.name for s in catalog if name in s.callers]


def default_catalog(environment: str) -> Catalog:
    """The customer's 8 services; sandbox runs them as `buoyantio/bb` so the graph works before real images exist."""
    low, high = REPLICAS[environment]
    services: list[Service] = []
    for name, (public, callers, data, non_critical) in _GRAPH.items():
        services.append(Service(
            name=name, ports=[Port(name="grpc", port=GRPC_PORT, protocol="grpc"),
                              Port(name="http", port=HTTP_PORT, protocol="http")],
            replicas=Replicas(min=low, max=high), health=Health(port="http"), public=public,
            callers=list(callers), data_services=list(data), non_critical=non_critical,
            image=Image(tag=DEFAULT_TAG), traffic=traffic.default_traffic(name)))
    catalog = tuple(services)
    if environment != "sandbox":
        return catalog
    return tuple(s.model_copy(update={
        "image": Image(repository=TEST_IMAGE, tag=TEST_IMAGE_TAG),
        # bb answers every path on its HTTP port, so the probes use the root.
        "health": Health(port="http", liveness_path="/", readiness_path="/"),
        "args": test_image_args(s, catalog),
    }) for s in catalog)


def test_image_args(service: Service, catalog: Catalog) -> list[str]:
    """bb's command line: a terminus when nobody is downstream, else a broadcast to every callee over gRPC."""
    downstream = callees(service.name, catalog)
    ports = {p.protocol: p.port for p in service.ports}
    args = ["broadcast-channel" if downstream else "terminus", f"--id={service.name}",
            f"--grpc-server-port={ports['grpc']}", f"--h1-server-port={ports['http']}"]
    if downstream:
        args += [f"--grpc-downstream-server={c}:{GRPC_PORT}" for c in downstream]
        args += ["--fire-and-forget", "--downstream-timeout=2s"]
    return args


# --- parsing and validation ------------------------------------------------------------------------------------

def duplicate_names(raw: Any) -> list[str]:
    """Service names given twice in the JSON-encoded `services` value (a JSON object silently keeps the last)."""
    if not isinstance(raw, str):
        return []
    try:
        top = json.loads(raw, object_pairs_hook=lambda items: items)
    except ValueError:
        return []
    if not isinstance(top, list):
        return []
    names = [k for k, _ in top]
    return sorted({n for n in names if names.count(n) > 1})


def parse(key_prefix: str, raw: Mapping[str, Any], environment: str,
          duplicates: list[str] | None = None) -> tuple[Catalog, list[tuple[str, str]]]:
    """The catalog (default when `raw` is empty) and every problem as (key path, rule)."""
    if not raw:
        return default_catalog(environment), []
    problems = [(f"{key_prefix}.{d}", "duplicate service name (each name appears once)") for d in duplicates or []]
    services: list[Service] = []
    for name, value in raw.items():
        where = f"{key_prefix}.{name}"
        if not isinstance(value, dict):
            problems.append((where, "must be an object (image, ports, replicas, health, ...)"))
            continue
        if "name" in value:
            problems.append((f"{where}.name", "the service's name is its key in `services`; remove this setting"))
            continue
        try:
            services.append(Service.model_validate({**value, "name": name}))
        except pydantic.ValidationError as err:
            problems += [(where + _loc(e["loc"]), _message(e)) for e in err.errors()]
    problems += [(f"{key_prefix}.{k}", rule) for k, rule in check(tuple(services), set(raw))]
    return tuple(services), problems


def _loc(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _message(e: Any) -> str:
    return {"missing": "is required", "extra_forbidden": "unknown setting (a typo?)"}.get(
        e["type"], str(e["msg"]).replace("Input should", "must"))


def check(catalog: Catalog, names: set[str]) -> Iterator[tuple[str, str]]:
    """Cross-field rules; key paths are relative to `services` (`payment-gateway.callers[0]`)."""
    for s in catalog:
        if not (_DNS_LABEL.match(s.name) and len(s.name) <= _MAX_NAME):
            yield s.name, f"service name {s.name!r} must be a DNS label (a-z, 0-9, '-') of at most {_MAX_NAME}"
        yield from _check_ports(s)
        http = [p.name for p in s.ports if p.protocol == "http"]
        if s.public and not http:
            yield f"{s.name}.public", "a public service needs an http port (the ALB speaks HTTP; gRPC-only is internal)"
        if s.health.port not in http:
            yield f"{s.name}.health.port", f"{s.health.port!r} must name one of the service's http ports {http}"
        for i, caller in enumerate(s.callers):
            if caller == s.name:
                yield f"{s.name}.callers[{i}]", "a service does not call itself through the mesh"
            elif caller not in names:
                yield f"{s.name}.callers[{i}]", f"unknown caller {caller!r} (services: {', '.join(sorted(names))})"
        if len(set(s.callers)) != len(s.callers):
            yield f"{s.name}.callers", "lists a caller twice"
        if s.replicas.min > s.replicas.max:
            yield f"{s.name}.replicas.min", f"min {s.replicas.min} is greater than max {s.replicas.max}"
        yield from check_pin(f"{s.name}.image", s.image.tag, s.image.digest, "images are pinned")
        yield from traffic.check(f"{s.name}.traffic", s.traffic, {p.name: p.protocol for p in s.ports})
        if s.canary is not None:
            yield from traffic.check_canary(f"{s.name}.canary", s.canary, image_suffix(s.image))


def _check_ports(s: Service) -> Iterator[tuple[str, str]]:
    seen_names: set[str] = set()
    seen_ports: set[int] = set()
    for i, p in enumerate(s.ports):
        where = f"{s.name}.ports[{i}]"
        if not (_PORT_NAME.match(p.name) and len(p.name) <= 15):
            yield f"{where}.name", f"{p.name!r} must be a port name (a-z, 0-9, '-', at most 15 characters)"
        if p.name in seen_names:
            yield f"{where}.name", f"port name {p.name!r} is used twice"
        if p.port in seen_ports:
            yield f"{where}.port", f"port {p.port} clashes with another port of {s.name}"
        if p.port in PROXY_PORTS:
            yield f"{where}.port", f"port {p.port} belongs to the Linkerd proxy ({sorted(PROXY_PORTS)})"
        seen_names.add(p.name)
        seen_ports.add(p.port)


def edges(catalog: Catalog) -> set[tuple[str, str]]:
    """(caller, callee) for every declared call."""
    return {(caller, s.name) for s in catalog for caller in s.callers}
