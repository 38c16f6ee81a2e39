"""Entry point of the audit policy pack: `pulumi preview --policy-pack policy_pack` runs this file.

The rules live in the project's `audit` package (shared with `make audit`); this file only puts the project root on
the import path, picks the environment whose enforcement levels apply, and serves the policies.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from audit.policy_pack import PACK_NAME, build_policies, pack_environment  # noqa: E402

if __name__ == "__main__":
    environment = pack_environment()
    PolicyPack(
        name=PACK_NAME,
        description=f"mTLS platform audit rules, enforced for the {environment} environment",
        policies=build_policies(environment),
        enforcement_level=EnforcementLevel.ADVISORY,
    )
