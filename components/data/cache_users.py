"""The cache's RBAC users: one ElastiCache user per catalog service that uses the cache, and the user group the
replication group admits, so no shared AUTH token exists.

Each service user (`config.names.cache_user_id`: id = name, what Vault's static role and the client both use) may
touch only its own key and channel prefix (`cache_access_string`). Its password is Vault's: the static role
`cache-<service>` of the Vault bootstrap rotates it through the ElastiCache API when the role is created and then
every `data.cacheRotationDays` (components/vault/bootstrap/app_secrets.py). The password a user is created with only
exists because CreateUser needs one: it is generated here, written once through the write-only `passwords_wo`
(encrypted in Pulumi state's inputs like any secret, never in outputs) and replaced by Vault within the same
`pulumi up`; `passwords_wo_version` stays 1, so Pulumi never sends it again and never fights Vault's rotation.

The group's mandatory `default` user is a user of our own that is switched off with no command allowed: a new
connection is then unauthenticated until it AUTHs as a service user, and there is no password to keep for it.
Ref: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html (user groups need a user named
"default"; "off" disables a user), pulumi-aws v7.51.1 elasticache.User (`passwords_wo`, `authentication_mode`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from config.names import CACHE_DEFAULT_USER_NAME, cache_access_string, cache_user_id, cache_user_prefix

ENGINE: Final = "valkey"
DEFAULT_USER_ACCESS: Final = "off -@all"  # no login, no command
# 64 alphanumerics: inside ElastiCache's 16-128 printable characters, and clear of every restricted special one.
# Ref: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html (password length and characters).
INITIAL_PASSWORD_LENGTH: Final = 64


@dataclass(frozen=True)
class CacheUsersArgs:
    name_prefix: str
    services: Sequence[str]  # catalog services whose dataServices include `cache`


def default_user_id(name_prefix: str) -> str:
    return f"{name_prefix}-cache-default"


def user_group_id(name_prefix: str) -> str:
    return f"{name_prefix}-cache"


class CacheUsers(pulumi.ComponentResource):
    """Per-service ElastiCache users and the user group of the stack's Valkey replication group."""

    group_id: pulumi.Output[str]
    user_arns: dict[str, pulumi.Output[str]]  # service -> its user's ARN (what Vault's IRSA role may modify)

    def __init__(self, name: str, args: CacheUsersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:data:CacheUsers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = cache_user_prefix(args.name_prefix)

        default = aws.elasticache.User(
            f"{name}-default", user_id=default_user_id(args.name_prefix), user_name=CACHE_DEFAULT_USER_NAME,
            engine=ENGINE, access_string=DEFAULT_USER_ACCESS,
            authentication_mode={"type": "no-password-required"}, opts=child)
        users: dict[str, aws.elasticache.User] = {}
        for service in sorted(args.services):
            initial = random.RandomPassword(f"{name}-{service}-initial", length=INITIAL_PASSWORD_LENGTH,
                                            special=False, opts=child)
            secret: pulumi.Output[str] = pulumi.Output.secret(initial.result)
            user_id = cache_user_id(prefix, service)
            users[service] = aws.elasticache.User(
                f"{name}-{service}", user_id=user_id, user_name=user_id, engine=ENGINE,
                access_string=cache_access_string(service),
                passwords_wo=secret, passwords_wo_version=1,
                opts=child)
        group = aws.elasticache.UserGroup(
            name, user_group_id=user_group_id(args.name_prefix), engine=ENGINE,
            user_ids=[default.user_id, *(u.user_id for u in users.values())], opts=child)

        self.group_id = group.user_group_id
        self.user_arns = {service: user.arn for service, user in users.items()}
        self.register_outputs({"group_id": self.group_id, "user_arns": self.user_arns})
