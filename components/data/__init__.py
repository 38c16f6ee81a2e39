"""The data layer (`mtls-platform:data`): RDS PostgreSQL, Amazon MQ and ElastiCache, private to the cluster.
"""
