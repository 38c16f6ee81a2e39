"""SQS messaging (`data.messaging: sqs`, every profile's default): queues, dead-letter queues, per-service IRSA roles.

The pure builders are checked directly; the rest on prod's real program run on the mock engine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.data import queue_specs
from config.catalog import default_catalog
from tests.conftest import plan_of
from tools.engine.mock_engine import Plan

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
MQ_SERVICES = {"inventory-management", "order-processing", "analytics"}


def doc(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def test_queue_plans_follow_the_catalog() -> None:
    catalog = default_catalog("prod")
    plans = {p.service: p.senders for p in queue_specs.queue_plans(catalog)}
    assert set(plans) == MQ_SERVICES  # only services that declare mq
    assert plans["analytics"] == ("order-processing",)  # recommendation calls it but has no mq
    assert queue_specs.sends_to("order-processing", catalog) == ["inventory-management", "analytics"]
    assert queue_specs.sends_to("analytics", catalog) == []


def test_queue_names_are_bounded() -> None:
    assert queue_specs.queue_name("mtls-platform-prod", "analytics", dead_letter=True) == \
        "mtls-platform-prod-analytics-dlq"
    with pytest.raises(ValueError, match="longer than 80"):
        queue_specs.queue_name("p" * 75, "analytics")


def test_policies_deny_plain_http_and_scope_the_key() -> None:
    (deny,) = queue_specs.tls_only_queue_policy("arn:q")["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "sqs:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and deny["Resource"] == "arn:q"
    statements = queue_specs.service_policy("arn:own", "arn:dlq", [], "arn:key", "us-east-1")["Statement"]
    assert [s["Sid"] for s in statements] == ["ConsumeOwnQueue", "QueueEncryptionViaSqsOnly"]  # no callee: no send
    assert statements[1]["Condition"] == {"StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}}
    assert "sqs:SendMessage" not in statements[0]["Action"]


@pytest.fixture(scope="module")
def prod() -> Plan:
    return plan_of("prod")


def test_queues_are_kms_encrypted_with_a_dead_letter_queue(prod: Plan) -> None:
    data_key = next(k for k in prod.of_type("aws:kms/key:Key") if k.name.endswith("-data")).outputs["arn"]
    queues = {q.inputs["name"]: q for q in prod.of_type(QUEUE)}
    assert set(queues) == {f"mtls-platform-prod-{s}{suffix}" for s in MQ_SERVICES for suffix in ("", "-dlq")}
    for name, q in queues.items():
        assert q.inputs["kmsMasterKeyId"] == data_key, name
        assert q.protect is True, name  # prod protects stateful resources
        if name.endswith("-dlq"):
            assert "redrivePolicy" not in q.inputs
        else:
            redrive = doc(q.inputs["redrivePolicy"])
            assert redrive["deadLetterTargetArn"] == queues[f"{name}-dlq"].outputs["arn"]
            assert redrive["maxReceiveCount"] == queue_specs.MAX_RECEIVE_COUNT
            assert q.inputs["receiveWaitTimeSeconds"] == 20
    policies = prod.of_type(QUEUE_POLICY)
    assert len(policies) == len(queues)
    for policy in policies:
        (statement,) = doc(policy.inputs["policy"])["Statement"]
        assert statement["Effect"] == "Deny" and statement["Condition"]["Bool"]["aws:SecureTransport"] == "false"


def test_each_mq_service_has_its_own_role_and_nothing_more(prod: Plan) -> None:
    issuer = prod.one("eks:index:Cluster").outputs["oidcIssuer"].removeprefix("https://")
    roles = {r.name.removeprefix("data-queues-"): r for r in prod.of_type("aws:iam/role:Role")
             if r.name.startswith("data-queues-")}
    assert set(roles) == MQ_SERVICES  # a service without mq gets no role
    arns = {q.inputs["name"].removeprefix("mtls-platform-prod-"): q.outputs["arn"] for q in prod.of_type(QUEUE)}
    for service, role in roles.items():
        (trust,) = doc(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert trust["Condition"] == {"StringEquals": {
            f"{issuer}:sub": f"system:serviceaccount:prod-app:{service}", f"{issuer}:aud": "sts.amazonaws.com"}}
        (policy,) = [p for p in prod.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == f"data-queues-{service}"]
        statements = {s["Sid"]: s for s in doc(policy.inputs["policy"])["Statement"]}
        assert statements["ConsumeOwnQueue"]["Resource"] == [arns[service], arns[f"{service}-dlq"]]
        sends = statements.get("SendToCallees", {}).get("Resource", [])
        assert sends == [arns[t] for t in queue_specs.sends_to(service, default_catalog("prod"))]
        assert all("*" not in str(s["Resource"]) for s in statements.values())
