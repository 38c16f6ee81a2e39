"""Operations on the CloudWatch side (`mtls-platform:observability`): alarm topic, container logs, log alarms.
"""
