"""The mesh layer (`mtls-platform:mesh`): platform namespaces, cert-manager, Vault, the trust chain and Linkerd.
"""
