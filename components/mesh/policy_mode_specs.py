"""Mesh onboarding of the app namespace: one switch, `rollout.policyMode`, between `audit` and `enforce`.

`enforce` (every environment's default) is the zero-trust steady state: the namespace's default inbound policy is
`deny` and every Linkerd `Server` has `accessPolicy: deny`, so only what an AuthorizationPolicy admits gets in.
`audit` is the stepping stone for moving an existing, unmeshed namespace into the mesh without downtime
(docs/rollout.md): the namespace default and every Server in the namespace become `audit`, which admits traffic that
no policy matches and flags it in the proxy's logs and authorization metrics — the would-be denials to fix before
switching to `enforce`. Authorized traffic is counted against its AuthorizationPolicy in both modes.
Ref: https://linkerd.io/2-edge/reference/authorization-policy/ (default policies: "audit: same as
all-unauthenticated but requests get flagged in logs and metrics"); the Server `accessPolicy` field
(linkerd-crds edge-26.8.3, policy.linkerd.io/v1beta3, default "deny"; audit on a Server since Linkerd 2.16).
The proxy reads the namespace default when it is injected: a change of mode reaches running pods through a rolling
restart, while a Server's accessPolicy is pushed to running proxies by the policy controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

import pulumi

PolicyMode = Literal["audit", "enforce"]
# `config.linkerd.io/default-inbound-policy` on the app namespace, per mode.
NAMESPACE_INBOUND_POLICY: Final[dict[str, str]] = {"audit": "audit", "enforce": "deny"}
# Server.spec.accessPolicy, per mode.
SERVER_ACCESS_POLICY: Final[dict[str, str]] = {"audit": "audit", "enforce": "deny"}
POLICY_GROUP: Final = "policy.linkerd.io/"


def is_server(props: Mapping[str, Any]) -> bool:
    api = props.get("api_version", props.get("apiVersion"))
    return props.get("kind") == "Server" and isinstance(api, str) and api.startswith(POLICY_GROUP)


def with_access_policy(spec: dict[str, Any], mode: PolicyMode) -> dict[str, Any]:
    """A copy of a Server spec with the mode's accessPolicy."""
    return {**spec, "accessPolicy": SERVER_ACCESS_POLICY[mode]}


def server_access_policy(mode: PolicyMode) -> pulumi.ResourceTransformation:
    """A transformation giving every Linkerd Server registered under a component the mode's accessPolicy (the
    app layer's Servers come from builders that always say `deny`; this keeps them the single source of the spec)."""
    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        props = dict(args.props)
        spec = props.get("spec")
        if not is_server(props) or not isinstance(spec, dict):
            return None
        props["spec"] = with_access_policy(spec, mode)
        return pulumi.ResourceTransformationResult(props, args.opts)

    return transform


def manifest_objects(objects: tuple[Mapping[str, Any], ...], mode: PolicyMode) -> list[dict[str, Any]]:
    """Manifest objects with the mode applied to their Servers (manifests themselves always say `deny`)."""
    return [{**o, "spec": with_access_policy(o.get("spec") or {}, mode)} if is_server(o) else dict(o)
            for o in objects]
