"""Backups (`mtls-platform:backup`): Vault raft snapshots to S3 with DR replication, optional Velero.
"""
