"""A namespaced Role and the RoleBinding that grants it to one service account: how the in-cluster controllers
(the trust-anchor rotation, the credential report) get exactly their permissions, namespace by namespace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s


def bound_role(name: str, suffix: str, role_name: str, namespace: pulumi.Input[str], rules: Sequence[dict[str, Any]],
               service_account: str, service_account_namespace: str,
               parent: pulumi.Resource) -> k8s.rbac.v1.RoleBinding:
    """Role `<name>-role<suffix>` and RoleBinding `<name>-binding<suffix>` (resource names), both `role_name` in
    `namespace`; the binding waits for its Role."""
    role = k8s.rbac.v1.Role(
        f"{name}-role{suffix}", metadata={"name": role_name, "namespace": namespace},
        rules=cast(list[k8s.rbac.v1.PolicyRuleArgsDict], list(rules)), opts=pulumi.ResourceOptions(parent=parent))
    return k8s.rbac.v1.RoleBinding(
        f"{name}-binding{suffix}", metadata={"name": role_name, "namespace": namespace},
        role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
        subjects=[{"kind": "ServiceAccount", "name": service_account, "namespace": service_account_namespace}],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role]))
