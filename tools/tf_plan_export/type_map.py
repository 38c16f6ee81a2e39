"""Which Terraform AWS provider resource each pulumi-aws type token is, and the attribute names the bridge renamed.

pulumi-aws is generated from the Terraform AWS provider (the "bridge"): every resource token is declared against a
Terraform resource type, and every property is the Terraform attribute in camelCase, except that list blocks with a
singular Terraform name get a plural Pulumi name (`route` -> `routes`). Both tables are read from the provider's
token mapping and the generated SDK (pulumi-aws v7.51.1, the pin in requirements.txt); a type the plan registers and
this table lacks is reported by the export as unseen, never guessed.
Ref: https://github.com/pulumi/pulumi-aws/blob/v7.51.1/provider/resources.go (Tok: awsResource(<module>, <Name>))
Ref: https://www.pulumi.com/docs/iac/concepts/resources/names/ (properties: camelCase of the Terraform names)
"""

from __future__ import annotations

from typing import Final

# pulumi-aws token -> Terraform AWS provider resource type.
TERRAFORM_TYPES: Final[dict[str, str]] = {
    "aws:acm/certificate:Certificate": "aws_acm_certificate",
    "aws:acm/certificateValidation:CertificateValidation": "aws_acm_certificate_validation",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": "aws_cloudwatch_log_metric_filter",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "aws_cloudwatch_log_resource_policy",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/eipAssociation:EipAssociation": "aws_eip_association",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/instance:Instance": "aws_instance",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/launchTemplate:LaunchTemplate": "aws_launch_template",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/route:Route": "aws_route",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "aws_vpc_endpoint",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "aws_ecr_lifecycle_policy",
    "aws:ecr/repository:Repository": "aws_ecr_repository",
    "aws:eks/addon:Addon": "aws_eks_addon",
    "aws:eks/nodeGroup:NodeGroup": "aws_eks_node_group",
    "aws:elasticache/replicationGroup:ReplicationGroup": "aws_elasticache_replication_group",
    "aws:elasticache/subnetGroup:SubnetGroup": "aws_elasticache_subnet_group",
    "aws:elasticache/user:User": "aws_elasticache_user",
    "aws:elasticache/userGroup:UserGroup": "aws_elasticache_user_group",
    "aws:iam/instanceProfile:InstanceProfile": "aws_iam_instance_profile",
    "aws:iam/policy:Policy": "aws_iam_policy",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:lambda/function:Function": "aws_lambda_function",
    "aws:mq/broker:Broker": "aws_mq_broker",
    "aws:rds/instance:Instance": "aws_db_instance",
    "aws:rds/parameterGroup:ParameterGroup": "aws_db_parameter_group",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:route53/record:Record": "aws_route53_record",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "aws_s3_bucket_lifecycle_configuration",
    "aws:s3/bucketLogging:BucketLogging": "aws_s3_bucket_logging",
    "aws:s3/bucketNotification:BucketNotification": "aws_s3_bucket_notification",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": "aws_s3_bucket_replication_configuration",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        "aws_s3_bucket_server_side_encryption_configuration",
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:secretsmanager/secret:Secret": "aws_secretsmanager_secret",
    "aws:secretsmanager/secretRotation:SecretRotation": "aws_secretsmanager_secret_rotation",
    "aws:secretsmanager/secretVersion:SecretVersion": "aws_secretsmanager_secret_version",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:sns/topicPolicy:TopicPolicy": "aws_sns_topic_policy",
    "aws:sqs/queue:Queue": "aws_sqs_queue",
    "aws:sqs/queuePolicy:QueuePolicy": "aws_sqs_queue_policy",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "aws_vpc_security_group_egress_rule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "aws_vpc_security_group_ingress_rule",
    "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration": "aws_chatbot_slack_channel_configuration",
}

# Terraform type -> {Pulumi property: Terraform attribute} where the bridge pluralised a list block's name; applied
# at any depth of that resource (the generated SDK's argument classes show both spellings in their docstrings).
RENAMED: Final[dict[str, dict[str, str]]] = {
    "aws_route_table": {"routes": "route"},
    "aws_default_route_table": {"routes": "route"},
    "aws_eks_node_group": {"taints": "taint"},
    "aws_instance": {"ebsBlockDevices": "ebs_block_device"},
    "aws_eks_addon": {"podIdentityAssociations": "pod_identity_association"},
    "aws_s3_bucket_server_side_encryption_configuration": {"rules": "rule"},
    "aws_s3_bucket_lifecycle_configuration": {"rules": "rule", "transitions": "transition",
                                              "noncurrentVersionTransitions": "noncurrent_version_transition"},
    "aws_s3_bucket_replication_configuration": {"rules": "rule"},
    "aws_cloudwatch_metric_alarm": {"metricQueries": "metric_query"},
    "aws_iam_role": {"inlinePolicies": "inline_policy"},
    "aws_db_parameter_group": {"parameters": "parameter"},
    "aws_mq_broker": {"users": "user"},
    "aws_elasticache_replication_group": {"logDeliveryConfigurations": "log_delivery_configuration"},
    "aws_route53_record": {"aliases": "alias"},
    "aws_ecr_repository": {"encryptionConfigurations": "encryption_configuration"},
    "aws_secretsmanager_secret": {"replicas": "replica"},
}

# Map-typed attributes (string -> string): kept as JSON objects with their keys untouched, never made blocks.
MAP_ATTRIBUTES: Final = frozenset({"tags", "tagsAll", "labels", "parameters", "variables", "attributes"})
