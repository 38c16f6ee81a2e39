"""Pure builders for the AWS Load Balancer Controller's AWS side: the IAM policy its IRSA role carries.

The policy is upstream's own document for the pinned controller version, committed beside this module.
Ref: https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v3.5.0/docs/install/iam_policy.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

IAM_POLICY_FILE: Final = Path(__file__).parent / "aws-load-balancer-controller-iam-policy.json"


def iam_policy() -> dict[str, Any]:
    """The controller's upstream IAM policy for the pinned version (docs/install/iam_policy.json, aws partition)."""
    doc: dict[str, Any] = json.loads(IAM_POLICY_FILE.read_text(encoding="utf-8"))
    return dict(doc["policy"])
