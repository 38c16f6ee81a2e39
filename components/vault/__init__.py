"""Vault (`mtls-platform:vault`): its AWS side (unseal key, IRSA, snapshot bucket), the Helm release with its
listener TLS, and the bootstrap that initialises and configures it.
"""
