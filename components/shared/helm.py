"""One way to install a pinned chart: a Helm release with the options every platform release shares."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s


def release(
    name: str,
    chart: str,
    version: str,
    repository: str,
    namespace: pulumi.Input[str],
    values: dict[str, Any],
    opts: pulumi.ResourceOptions,
    wait: bool = True,
) -> k8s.helm.v3.Release:
    """A release named like its chart (a person finds it with `helm ls -A`), atomic, history kept short.

    `wait=False` skips Pulumi's readiness await: for charts whose pods are not ready until a later step
    (Vault before its bootstrap initialises it).
    """
    return k8s.helm.v3.Release(
        name,
        name=name,
        chart=chart,
        version=version,
        repository_opts={"repo": repository},
        namespace=namespace,
        values=values,
        atomic=wait,  # roll back a failed upgrade instead of leaving it half-applied
        cleanup_on_fail=True,
        max_history=5,
        skip_await=not wait,
        timeout=900,
        opts=opts,
    )
