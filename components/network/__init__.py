"""The network layer (type token `mtls-platform:network`): the VPC and its subnets, NAT, endpoints and flow logs.
"""
