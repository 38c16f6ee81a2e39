"""What the three data-service components (`Postgres`, `MessageBroker`, `Cache`) share.

`Placement` is where a service lives and what it is locked with: the isolated subnets, its own security group and
the customer keys. `stored_credential` is how a service whose password we generate (Amazon MQ, the Valkey auth
token) keeps it: a `RandomPassword` that obeys the service's character rules, copied into a Secrets Manager secret
encrypted with the data key, so applications read the secret and no person or config file ever holds the value.
The service ports live here too, because `DataServices` opens them in the security groups and the components bind
the services to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws
import pulumi_random as random

POSTGRES_PORT: Final = 5432
# Only the TLS wire protocols the services use: OpenWire and AMQP 1.0. STOMP (61614), MQTT (8883), WSS (61619)
# and the web console (8162) stay closed until a service needs them ("block unnecessary protocols").
# Ref: https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/using-amazon-mq-securely.html
# Ref: https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/amazon-mq-basic-elements.html (endpoints)
BROKER_PORTS: Final[Mapping[str, int]] = {"openwire": 61617, "amqp": 5671}
CACHE_PORT: Final = 6379


@dataclass(frozen=True)
class Placement:
    subnet_ids: pulumi.Input[Sequence[str]]  # isolated subnets (no route out of the VPC)
    security_group_id: pulumi.Input[str]  # the service's own group; ingress only from the cluster security group
    data_key_arn: pulumi.Input[str]  # CMK for storage, snapshots, Performance Insights and the credentials secret
    logs_key_arn: pulumi.Input[str]  # CMK for the log groups we create


@dataclass(frozen=True)
class PasswordRules:
    """What a service accepts in a generated password: its length and the special characters it allows."""

    length: int
    special: str


@dataclass(frozen=True)
class StoredCredential:
    password: pulumi.Output[str]  # a Pulumi secret: never printed, encrypted in the state
    # What applications read (through IRSA, with kms:Decrypt on the data key). Resolves only once the secret holds
    # its value, so nothing reads an empty secret.
    secret_arn: pulumi.Output[str]


def stored_credential(
    name: str,
    description: str,
    rules: PasswordRules,
    document: Callable[[pulumi.Output[str]], Mapping[str, pulumi.Input[str]]],
    kms_key_arn: pulumi.Input[str],
    parent: pulumi.Resource,
    protect: bool,
) -> StoredCredential:
    """A generated password and the Secrets Manager secret holding `document(password)` as JSON."""
    keep = pulumi.ResourceOptions(parent=parent, protect=protect)
    password = random.RandomPassword(
        name,
        length=rules.length,
        special=True,
        override_special=rules.special,
        # One of each class guarantees the "at least 4 unique characters" Amazon MQ asks for.
        min_lower=1,
        min_upper=1,
        min_numeric=1,
        min_special=1,
        opts=keep,
    )
    # The engine already treats `result` as secret (the SDK registers it in additional_secret_outputs), but that
    # secretness arrives only with the engine's answer; marking it here makes every input built from it secret,
    # nested ones included (the broker's `users[].password`), whatever engine runs the program.
    value: pulumi.Output[str] = pulumi.Output.secret(password.result)
    secret = aws.secretsmanager.Secret(name, description=description, kms_key_id=kms_key_arn,
                                       recovery_window_in_days=30, opts=keep)
    version = aws.secretsmanager.SecretVersion(name, secret_id=secret.id,
                                               secret_string=pulumi.Output.json_dumps(document(value)),
                                               opts=pulumi.ResourceOptions(parent=secret))
    return StoredCredential(value, pulumi.Output.all(secret.arn, version.id).apply(lambda v: str(v[0])))
