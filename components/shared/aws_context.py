"""Facts about the AWS account a stack deploys into, looked up once (invokes, not resources) by `__main__`."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsContext:
    """Account, partition and region, plus the identity running `pulumi up` (for its explicit access entry)."""

    account_id: str
    partition: str
    region: str
    # The IAM role (or user) behind the deployer's session: an assumed-role session ARN is resolved to its role.
    deployer_arn: str

    @staticmethod
    def lookup(provider: aws.Provider, region: str) -> AwsContext:
        opts = pulumi.InvokeOptions(provider=provider)
        identity = aws.get_caller_identity(opts=opts)
        session = aws.iam.get_session_context(arn=identity.arn, opts=opts)
        partition = aws.get_partition(opts=opts)
        return AwsContext(identity.account_id, partition.partition, region, session.issuer_arn)

    def arn(self, service: str, resource: str, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"
