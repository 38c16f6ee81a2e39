"""Pure builders for the snapshot bucket `VaultAws` owns: where snapshots live in it and how long they stay.

The bucket is Vault's (its AWS side creates it); the backup layer writes into it and replicates it, so it imports the
prefix from here rather than the other way round.
"""

from __future__ import annotations

from typing import Any, Final

SNAPSHOT_PREFIX: Final = "raft"  # object keys: raft/YYYY/MM/DD/vault-<UTC timestamp>.snap


def snapshot_retention_rule(days: int) -> Any:
    """Snapshots are current for `days`, then noncurrent (restorable) for the bucket-wide noncurrent period."""
    # Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html (prefix filter)
    return {"id": "expire-raft-snapshots", "status": "Enabled", "filter": {"prefix": f"{SNAPSHOT_PREFIX}/"},
            "expiration": {"days": days}}
