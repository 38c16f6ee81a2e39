"""The modelled wall time of a fresh `pulumi up` (`make deploy-time`): durations, schedule, ordering findings.
"""
