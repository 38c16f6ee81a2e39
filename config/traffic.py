"""Per-service traffic policy and canary settings of the service catalog: the models and their rules.

A service's `traffic` block sets what its callers' Linkerd proxies do on every request to it (outbound policy):
a total request timeout and automatic retries, as defaults for each port plus optional per-route overrides
(gRPC: service and method; HTTP: path prefix and method). `app_routes` turns them into Gateway API GRPCRoute /
HTTPRoute objects whose `timeout.linkerd.io/*` and `retry.linkerd.io/*` annotations Linkerd's policy controller
reads. A `canary` block runs a second Deployment of the service with another image and sends `weight` percent of
meshed traffic to it.

Defaults, and why:
* `requestTimeout: 5s`: a call that takes longer is failing for its caller anyway; one shared bound keeps a stuck
  callee from pinning every caller's request slots. Public entry services can raise it.
* Retries on the conditions that mean "the request was not processed": gRPC `unavailable`, HTTP `503`, at most 2
  (so a request costs at most 3x at the callee while it is failing). No retry on deadline/5xx in general, which
  may arrive after the callee acted.
* No per-try timeout by default: a try cut off by its timeout is retried whatever it did, which is only safe for
  idempotent calls; set `perTryTimeout` on routes that are reads.
* `idempotent: false` on a route switches its retries off; asking for retries there is an error.
Ref: linkerd2 edge-26.8.3 (b24cd4059841) policy-controller/k8s/index/src/outbound/index{.rs,/grpc.rs,/http.rs}:
parse_timeouts, parse_grpc_retry, parse_http_retry, parse_duration.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from config.image_pins import check_pin

# Ref: parse_grpc_retry (grpc.rs) accepts exactly these gRPC status names in `retry.linkerd.io/grpc`.
GRPC_RETRY_CONDITIONS: Final = frozenset({"cancelled", "deadline-exceeded", "internal", "resource-exhausted",
                                          "unavailable"})
# Ref: parse_http_retry (http.rs): `5xx`, `gateway-error` (502-504), a status code or a range `a-b`, 100-599.
_HTTP_CODE = r"[1-5][0-9][0-9]"
_HTTP_CONDITION = re.compile(rf"^(5xx|gateway-error|{_HTTP_CODE}|{_HTTP_CODE}-{_HTTP_CODE})$")
# Ref: parse_duration (index.rs): an integer and a unit (ms, s, m, h, d), no fractions. Zero is refused here.
_DURATION = re.compile(r"^([1-9][0-9]*)(ms|s|m|h|d)$")
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
# Ref: Gateway API v1.1.1 CRDs (linkerd-crds edge-26.8.3): HTTPRouteMatch.method enum.
HTTP_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
_ROUTE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_MAX_ROUTE_NAME = 20  # keeps `<service>-<port>-<route>` object names short enough to read in `kubectl get`

DEFAULT_REQUEST_TIMEOUT: Final = "5s"
DEFAULT_RETRY_LIMIT: Final = 2
DEFAULT_GRPC_RETRY_ON: Final = ("unavailable",)
DEFAULT_HTTP_RETRY_ON: Final = ("503",)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class Route(_Model):
    """Overrides for the requests of one port that match: gRPC `grpcService` (+ `grpcMethod`), or HTTP
    `pathPrefix` (+ `method`). Unset settings inherit the service's defaults."""

    name: str
    port: str
    grpc_service: str | None = Field(None, alias="grpcService")
    grpc_method: str | None = Field(None, alias="grpcMethod")
    path_prefix: str | None = Field(None, alias="pathPrefix")
    method: str | None = None
    idempotent: bool = True
    request_timeout: str | None = Field(None, alias="requestTimeout")
    retry_limit: int | None = Field(None, alias="retryLimit", ge=0, le=10)
    per_try_timeout: str | None = Field(None, alias="perTryTimeout")
    retry_on: list[str] | None = Field(None, alias="retryOn")


class TrafficPolicy(_Model):
    """Defaults for every port of the service, and the routes that override them."""

    request_timeout: str = Field(DEFAULT_REQUEST_TIMEOUT, alias="requestTimeout")
    retry_limit: int = Field(DEFAULT_RETRY_LIMIT, alias="retryLimit", ge=0, le=10)
    per_try_timeout: str | None = Field(None, alias="perTryTimeout")
    grpc_retry_on: list[str] = Field(list(DEFAULT_GRPC_RETRY_ON), alias="grpcRetryOn")
    http_retry_on: list[str] = Field(list(DEFAULT_HTTP_RETRY_ON), alias="httpRetryOn")
    routes: list[Route] = []


class Canary(_Model):
    """A second Deployment `<service>-canary` running the service's repository at `tag` or `digest`, receiving
    `weight` percent of the requests meshed callers send to the service."""

    tag: str | None = None
    digest: str | None = None
    weight: int
    replicas: int = Field(1, ge=1, le=20)

    @property
    def suffix(self) -> str:
        return f"@{self.digest}" if self.digest else f":{self.tag}"


Protocol = Literal["grpc", "http"]


def default_traffic(service: str) -> TrafficPolicy:
    """The default catalog's policy: the defaults above, except payment-gateway, whose writes (charges, refunds)
    are never retried by the mesh — a retried charge can charge twice. Its HTTP GETs are reads by definition
    (RFC 9110 safe methods), so they keep retries on 503 with a 2 s per-try timeout."""
    if service != "payment-gateway":
        return TrafficPolicy()
    return TrafficPolicy(retry_limit=0, routes=[Route(name="reads", port="http", path_prefix="/", method="GET",
                                                      retry_limit=DEFAULT_RETRY_LIMIT, per_try_timeout="2s")])


class Effective(BaseModel):
    """The resolved policy of one route (or of a port's catch-all route)."""

    model_config = ConfigDict(frozen=True)
    request_timeout: str
    retry_limit: int
    per_try_timeout: str | None
    retry_on: tuple[str, ...]


def effective(policy: TrafficPolicy, protocol: Protocol, route: Route | None = None) -> Effective:
    default_on = policy.grpc_retry_on if protocol == "grpc" else policy.http_retry_on
    limit = policy.retry_limit
    if route is not None and route.retry_limit is not None:
        limit = route.retry_limit
    elif route is not None and not route.idempotent:
        limit = 0  # a non-idempotent route never inherits retries
    return Effective(
        request_timeout=(route and route.request_timeout) or policy.request_timeout,
        retry_limit=limit,
        per_try_timeout=(route.per_try_timeout if route and route.per_try_timeout else policy.per_try_timeout),
        retry_on=tuple(route.retry_on if route and route.retry_on is not None else default_on))


def duration_ms(value: str) -> int | None:
    m = _DURATION.match(value)
    return int(m.group(1)) * _UNIT_MS[m.group(2)] if m else None


def valid_condition(protocol: Protocol, condition: str) -> bool:
    if protocol == "grpc":
        return condition in GRPC_RETRY_CONDITIONS
    if not _HTTP_CONDITION.match(condition):
        return False
    if "-" in condition and condition != "gateway-error":
        low, high = condition.split("-")
        return int(low) <= int(high)
    return True


# --- rules (key paths relative to `services`) ------------------------------------------------------------------
# Over the traffic models alone (a service's ports as {name: protocol}, its image as a suffix), so that this module
# needs nothing of the catalog, which imports it.

def check(where: str, t: TrafficPolicy, ports: Mapping[str, Protocol]) -> Iterator[tuple[str, str]]:
    """`where` is the traffic block's key path (`<service>.traffic`); `ports` the service's ports in order."""
    yield from _durations(where, t.request_timeout, t.per_try_timeout)
    yield from _conditions(f"{where}.grpcRetryOn", "grpc", t.grpc_retry_on)
    yield from _conditions(f"{where}.httpRetryOn", "http", t.http_retry_on)
    names: set[str] = set()
    matches: set[tuple[str | None, ...]] = set()
    for i, r in enumerate(t.routes):
        at = f"{where}.routes[{i}]"
        if not (_ROUTE_NAME.match(r.name) and len(r.name) <= _MAX_ROUTE_NAME):
            yield f"{at}.name", f"{r.name!r} must be a DNS label of at most {_MAX_ROUTE_NAME} characters"
        if r.name in names:
            yield f"{at}.name", f"route name {r.name!r} is used twice"
        names.add(r.name)
        protocol = ports.get(r.port)
        if protocol is None:
            yield f"{at}.port", f"unknown port {r.port!r} (ports: {', '.join(ports)})"
            continue
        match = (r.port, r.grpc_service, r.grpc_method, r.path_prefix, r.method)
        if match in matches:
            yield at, "matches the same requests as an earlier route"
        matches.add(match)
        yield from _route_match(at, protocol, r)
        if r.retry_on is not None:
            yield from _conditions(f"{at}.retryOn", protocol, r.retry_on)
        if not r.idempotent and r.retry_limit:
            yield f"{at}.retryLimit", "a route marked idempotent: false is never retried (set 0 or remove it)"
        if not r.idempotent and r.per_try_timeout:
            yield f"{at}.perTryTimeout", "a per-try timeout retries the call; not on a non-idempotent route"
        eff = effective(t, protocol, r)
        yield from _durations(at, eff.request_timeout, eff.per_try_timeout)


def _durations(at: str, request: str, per_try: str | None) -> Iterator[tuple[str, str]]:
    request_ms = duration_ms(request)
    if request_ms is None:
        yield f"{at}.requestTimeout", f"{request!r} must be a whole number and a unit (ms, s, m, h, d), e.g. 5s"
    if per_try is None:
        return
    try_ms = duration_ms(per_try)
    if try_ms is None:
        yield f"{at}.perTryTimeout", f"{per_try!r} must be a whole number and a unit (ms, s, m, h, d), e.g. 2s"
    elif request_ms is not None and try_ms > request_ms:
        yield f"{at}.perTryTimeout", f"{per_try} is longer than the request timeout {request}"


def _conditions(at: str, protocol: Protocol, conditions: list[str]) -> Iterator[tuple[str, str]]:
    allowed = (", ".join(sorted(GRPC_RETRY_CONDITIONS)) if protocol == "grpc"
               else "5xx, gateway-error, a status code or a range such as 502-504")
    for j, c in enumerate(conditions):
        if not valid_condition(protocol, c):
            yield f"{at}[{j}]", f"{c!r} is not a {protocol} retry condition ({allowed})"


def _route_match(at: str, protocol: Protocol, r: Route) -> Iterator[tuple[str, str]]:
    if protocol == "grpc":
        for key, value in (("pathPrefix", r.path_prefix), ("method", r.method)):
            if value is not None:
                yield f"{at}.{key}", f"{key} matches HTTP routes; port {r.port!r} is gRPC (use grpcService)"
        if not r.grpc_service:
            yield f"{at}.grpcService", "a gRPC route matches a service (and optionally a grpcMethod)"
        return
    for key, value in (("grpcService", r.grpc_service), ("grpcMethod", r.grpc_method)):
        if value is not None:
            yield f"{at}.{key}", f"{key} matches gRPC routes; port {r.port!r} is HTTP (use pathPrefix)"
    if not r.path_prefix or not r.path_prefix.startswith("/"):
        yield f"{at}.pathPrefix", "an HTTP route matches a path prefix starting with '/'"
    if r.method is not None and r.method not in HTTP_METHODS:
        yield f"{at}.method", f"{r.method!r} must be one of {', '.join(HTTP_METHODS)}"


def check_canary(at: str, canary: Canary, service_image: str) -> Iterator[tuple[str, str]]:
    """`at` is the canary block's key path (catalog or `rollout.canaries`); `service_image` the service's own image
    suffix (`:tag` or `@digest`, `catalog.image_suffix`), which the canary must differ from."""
    if not 0 <= canary.weight <= 100:
        yield f"{at}.weight", f"{canary.weight} must be between 0 and 100 (percent of requests to the canary)"
    pin = list(check_pin(at, canary.tag, canary.digest, "the canary's image in the service's repository"))
    if pin:
        yield from pin
    elif canary.suffix == service_image:
        yield at, f"the canary must run a different image than the service ({canary.suffix[1:]} is the same)"
