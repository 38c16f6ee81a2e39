"""Helpers every layer uses: the AWS account context, the Helm release helper, chart-values pieces, IAM policy
documents, and the security/storage components (customer KMS keys, hardened S3 buckets).
"""
