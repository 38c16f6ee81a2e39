"""SQS messaging for the catalog's `mq` services (`data.messaging: sqs`): queues, dead-letter queues, IRSA roles.

Per consuming service: a standard queue and its dead-letter queue, both encrypted with the customer data key and
behind a queue policy that refuses any request without TLS; and an IRSA role that only that service's Kubernetes
service account can assume, allowed exactly the queue operations `queue_specs.service_policy` lists. No password
exists: the pods authenticate with their projected service-account token (the app layer annotates the
ServiceAccount with the role). Queue names are fixed (`<prefix>-<service>`) so the services resolve them with
GetQueueUrl without any config.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.cluster.cluster import Cluster
from components.data import queue_specs
from config.catalog import Catalog


@dataclass(frozen=True)
class MessageQueuesArgs:
    cluster: Cluster  # OIDC provider for the IRSA trust; aws_context for the region
    catalog: Catalog  # who consumes (declares `mq`) and who calls whom (senders)
    app_namespace: str  # the services' ServiceAccounts live there, named after the service
    name_prefix: str  # physical queue names
    data_key_arn: pulumi.Input[str]  # SSE-KMS for every queue
    protect: bool


class MessageQueues(pulumi.ComponentResource):
    """The queues and per-service roles; `role_arns` and `queue_urls` are keyed by service name."""

    role_arns: dict[str, pulumi.Output[str]]
    queue_urls: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: MessageQueuesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:data:MessageQueues", name, None, opts)
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect)
        region = args.cluster.aws_context.region
        queues: dict[str, aws.sqs.Queue] = {}
        dead_letters: dict[str, aws.sqs.Queue] = {}
        for plan in queue_specs.queue_plans(args.catalog):
            service = plan.service
            dlq = aws.sqs.Queue(
                f"{name}-{service}-dlq", name=queue_specs.queue_name(args.name_prefix, service, dead_letter=True),
                kms_master_key_id=args.data_key_arn,
                kms_data_key_reuse_period_seconds=queue_specs.KMS_DATA_KEY_REUSE_SECONDS,
                message_retention_seconds=queue_specs.DLQ_RETENTION_SECONDS, opts=keep)
            queue = aws.sqs.Queue(
                f"{name}-{service}", name=queue_specs.queue_name(args.name_prefix, service),
                kms_master_key_id=args.data_key_arn,
                kms_data_key_reuse_period_seconds=queue_specs.KMS_DATA_KEY_REUSE_SECONDS,
                message_retention_seconds=queue_specs.RETENTION_SECONDS,
                visibility_timeout_seconds=queue_specs.VISIBILITY_TIMEOUT_SECONDS,
                receive_wait_time_seconds=queue_specs.RECEIVE_WAIT_SECONDS,
                redrive_policy=queue_specs.redrive_policy(dlq.arn), opts=keep)
            for label, q in (("dlq", dlq), ("queue", queue)):
                aws.sqs.QueuePolicy(
                    f"{name}-{service}-{label}-tls-only", queue_url=q.url,
                    policy=pulumi.Output.json_dumps(queue_specs.tls_only_queue_policy(q.arn)),
                    opts=pulumi.ResourceOptions(parent=q))
            queues[service], dead_letters[service] = queue, dlq

        self.role_arns = {}
        for service in queues:
            role = args.cluster.irsa_role(f"{name}-{service}", args.app_namespace, service, parent=self)
            targets = [queues[t].arn for t in queue_specs.sends_to(service, args.catalog)]
            policy = aws.iam.RolePolicy(
                f"{name}-{service}", role=role.id,
                policy=pulumi.Output.json_dumps(queue_specs.service_policy(
                    queues[service].arn, dead_letters[service].arn, targets, args.data_key_arn, region)),
                opts=pulumi.ResourceOptions(parent=role))
            # Published once the policy is attached: a pod started earlier would get AccessDenied.
            self.role_arns[service] = pulumi.Output.all(role.arn, policy.id).apply(lambda v: str(v[0]))
        self.queue_urls = {service: q.url for service, q in queues.items()}
        self.register_outputs({"role_arns": self.role_arns, "queue_urls": self.queue_urls})
