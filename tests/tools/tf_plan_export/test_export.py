"""The Terraform-plan export: types and attribute names mapped, blocks as lists, references as expressions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import STACKS, plan_of
from tools.engine.mock_engine import Plan, Registration
from tools.tf_plan_export.export import export, snake, unmapped_aws, unseen
from tools.tf_plan_export.type_map import TERRAFORM_TYPES


def registration(type_: str, name: str, inputs: dict[str, Any], deps: tuple[Registration, ...] = (),
                 outputs: dict[str, Any] | None = None) -> Registration:
    return Registration(type=type_, name=name, urn=f"urn:{type_}::{name}", parent="", custom=True, inputs=inputs,
                        outputs={"arn": f"arn:aws:x:::{name}", **(outputs or {})}, protect=False,
                        retain_on_delete=False, secret_inputs=False, dependencies=[d.urn for d in deps])


def planned(doc: dict[str, Any], address: str) -> dict[str, Any]:
    (found,) = [r for r in doc["planned_values"]["root_module"]["resources"] if r["address"] == address]
    return found


def expressions(doc: dict[str, Any], address: str) -> dict[str, Any]:
    (found,) = [r for r in doc["configuration"]["root_module"]["resources"] if r["address"] == address]
    return found["expressions"]


@pytest.mark.parametrize(("camel", "terraform"), [
    ("httpPutResponseHopLimit", "http_put_response_hop_limit"), ("kmsKeyId", "kms_key_id"),
    ("cidrIpv4", "cidr_ipv4"), ("ipv6CidrBlock", "ipv6_cidr_block"), ("bucket", "bucket")])
def test_property_names_are_the_terraform_attributes(camel: str, terraform: str) -> None:
    assert snake(camel) == terraform


def test_blocks_maps_renames_numbers_and_references() -> None:
    bucket = registration("aws:s3/bucket:Bucket", "logs", {"bucket": "logs-bucket", "tags": {"teamName": "x"}})
    key = registration("aws:kms/key:Key", "data", {"enableKeyRotation": True})
    sse = registration(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "logs",
        {"bucket": "logs-id", "rules": [{"applyServerSideEncryptionByDefault": {
            "sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:aws:x:::data"}, "bucketKeyEnabled": True}]},
        deps=(bucket, key))
    group = registration("aws:eks/nodeGroup:NodeGroup", "pool", {
        "scalingConfig": {"minSize": 3.0, "maxSize": 9.0}, "labels": {"platform/pool": "system"},
        "taints": [{"key": "capacity", "effect": "NO_SCHEDULE"}]})
    doc = export(Plan("t", [bucket, key, sse, group], {}, set()))

    assert doc["format_version"] == "1.2" and doc["resource_changes"][0]["change"]["actions"] == ["create"]
    assert planned(doc, "aws_s3_bucket.logs")["values"] == {"bucket": "logs-bucket", "tags": {"teamName": "x"}}
    values = planned(doc, "aws_eks_node_group.pool")["values"]
    assert values["scaling_config"] == [{"min_size": 3, "max_size": 9}]  # one-element list, integers
    assert values["labels"] == {"platform/pool": "system"}  # a map keeps its keys
    assert values["taint"] == [{"key": "capacity", "effect": "NO_SCHEDULE"}]  # `taints` is Terraform's `taint`
    address = "aws_s3_bucket_server_side_encryption_configuration.logs"
    sse_values = planned(doc, address)["values"]
    assert "bucket" not in sse_values  # known only after apply, as Terraform shows a reference
    assert sse_values["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    assert expressions(doc, address)["bucket"] == {"references": ["aws_s3_bucket.logs.id", "aws_s3_bucket.logs"]}
    assert expressions(doc, address)["rule"][0]["apply_server_side_encryption_by_default"][0]["kms_master_key_id"] \
        == {"references": ["aws_kms_key.data.arn", "aws_kms_key.data"]}


def test_a_value_equal_to_an_unrelated_resources_id_stays_a_value() -> None:
    vpc = registration("aws:ec2/vpc:Vpc", "main", {"cidrBlock": "10.0.0.0/16"})
    subnet = registration("aws:ec2/subnet:Subnet", "a", {"vpcId": "main-id"})  # no dependency on the VPC
    doc = export(Plan("t", [vpc, subnet], {}, set()))
    assert planned(doc, "aws_subnet.a")["values"]["vpc_id"] == "main-id"
    assert expressions(doc, "aws_subnet.a") == {}


@pytest.mark.parametrize("stack", STACKS)
def test_every_aws_resource_of_every_stack_is_exported(stack: str) -> None:
    plan = plan_of(stack)
    assert unmapped_aws(r.type for r in plan.resources if r.custom) == []
    doc = export(plan)
    addresses = [r["address"] for r in doc["planned_values"]["root_module"]["resources"]]
    assert len(addresses) == len(set(addresses)) == sum(1 for r in plan.resources if r.type in TERRAFORM_TYPES)
    # what the scanner cannot see is named, never silently dropped
    assert {t for t, _ in unseen(plan)} >= {"pulumi-python:dynamic:Resource", "tls:index/privateKey:PrivateKey"}
    # the node groups reach their launch template and subnets through references, as checkov's graph needs
    (group,) = [r for r in doc["configuration"]["root_module"]["resources"]
                if r["address"] == "aws_eks_node_group.cluster-system-ng"]
    assert group["expressions"]["launch_template"][0]["id"]["references"][0] == \
        "aws_launch_template.cluster-system-lt.id"
    assert len(group["expressions"]["subnet_ids"]["references"]) == 6


def test_two_resources_with_one_mock_id_are_told_apart_by_the_attribute() -> None:
    group = registration("aws:ec2/securityGroup:SecurityGroup", "db", {"description": "db"})
    params = registration("aws:rds/parameterGroup:ParameterGroup", "db", {"family": "postgres17"})
    db = registration("aws:rds/instance:Instance", "db", {"vpcSecurityGroupIds": ["db-id"],
                                                          "parameterGroupName": "db-id"}, deps=(group, params))
    doc = export(Plan("t", [group, params, db], {}, set()))
    assert expressions(doc, "aws_db_instance.db")["vpc_security_group_ids"]["references"][0] == \
        "aws_security_group.db.id"
    assert expressions(doc, "aws_db_instance.db")["parameter_group_name"]["references"][0] == \
        "aws_db_parameter_group.db.id"
