"""The public entry (`mtls-platform:ingress`): the AWS Load Balancer Controller, the ALB and the meshed edge.
"""
