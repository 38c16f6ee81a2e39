"""Pure builders for the SQS messaging of the catalog's `mq` services (`data.messaging: sqs`).

Who gets a queue, who may send to it, and the policy documents of the queues and of each service's IRSA role: plain
data, no resources, so the tests check every statement without the mock engine. `MessageQueues` registers them.

One queue per consuming service (every catalog service that declares `mq`), each with its own dead-letter queue.
A service may receive from, delete from and extend the visibility of its own queue only, and send only to the queues
of the `mq` services it calls (the catalog's caller edges, the same graph the mesh authorises), so a compromised
service can neither read another service's messages nor inject into a queue it has no business with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi

from components.shared import iam_documents
from config.catalog import Catalog, callees

# 14 days, SQS's maximum: a dead letter stays long enough for a person to look at it after a holiday.
# Ref: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
DLQ_RETENTION_SECONDS: Final = 1_209_600
# 4 days (SQS's default) for live messages; 60 s visibility: the services' calls time out within seconds.
RETENTION_SECONDS: Final = 345_600
VISIBILITY_TIMEOUT_SECONDS: Final = 60
# Messages that fail this many receives move to the dead-letter queue instead of looping.
MAX_RECEIVE_COUNT: Final = 5
# Long polling: fewer empty receives (SQS bills every request) and lower latency than short polling.
RECEIVE_WAIT_SECONDS: Final = 20
# SSE-KMS data keys are reused this long (SQS's default); bounds the KMS requests a busy queue makes.
# Ref: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html
KMS_DATA_KEY_REUSE_SECONDS: Final = 300

CONSUMER_ACTIONS: Final = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                           "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
SENDER_ACTIONS: Final = ("sqs:SendMessage", "sqs:GetQueueUrl")
# SSE-KMS: a sender needs GenerateDataKey, a receiver Decrypt, both only through SQS.
# Ref: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
KMS_ACTIONS: Final = ("kms:GenerateDataKey", "kms:Decrypt")


@dataclass(frozen=True)
class QueuePlan:
    """A consuming service's queue and the `mq` services allowed to send to it."""

    service: str
    senders: tuple[str, ...]


def queue_plans(catalog: Catalog) -> tuple[QueuePlan, ...]:
    """One plan per `mq` service, in catalog order; senders are its `mq`-using callers."""
    users = {s.name for s in catalog if "mq" in s.data_services}
    return tuple(QueuePlan(s.name, tuple(c for c in s.callers if c in users)) for s in catalog if s.name in users)


def sends_to(service: str, catalog: Catalog) -> list[str]:
    """The `mq` services whose queues `service` may send to: those it calls."""
    users = {s.name for s in catalog if "mq" in s.data_services}
    return [c for c in callees(service, catalog) if c in users]


def queue_name(name_prefix: str, service: str, dead_letter: bool = False) -> str:
    """Physical queue names the services resolve with GetQueueUrl; SQS allows 80 characters."""
    name = f"{name_prefix}-{service}{'-dlq' if dead_letter else ''}"
    if len(name) > 80:
        raise ValueError(f"SQS queue name {name!r} is longer than 80 characters")
    return name


def redrive_policy(dead_letter_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})


def tls_only_queue_policy(queue_arn: pulumi.Input[str]) -> iam_documents.Document:
    """Denies every request to the queue that does not arrive over TLS (aws:SecureTransport false)."""
    # Ref: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-security-best-practices.html
    # (enforce encryption of data in transit)
    return iam_documents.document({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": queue_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })


def service_policy(own_queue_arn: pulumi.Input[str], own_dead_letter_arn: pulumi.Input[str],
                   target_queue_arns: Sequence[pulumi.Input[str]], data_key_arn: pulumi.Input[str],
                   region: str) -> iam_documents.Document:
    """The IAM policy of one service's IRSA role: consume its own queue (and inspect its dead letters), send to the
    queues of the services it calls, use the data key only through SQS."""
    statements = [iam_documents.allow(list(CONSUMER_ACTIONS), [own_queue_arn, own_dead_letter_arn],
                                      sid="ConsumeOwnQueue")]
    if target_queue_arns:
        statements.append(iam_documents.allow(list(SENDER_ACTIONS), list(target_queue_arns), sid="SendToCallees"))
    kms = iam_documents.allow(list(KMS_ACTIONS), [data_key_arn], sid="QueueEncryptionViaSqsOnly")
    kms["Condition"] = {"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}}
    statements.append(kms)
    return iam_documents.document(*statements)

