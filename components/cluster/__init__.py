"""The cluster layer (`mtls-platform:cluster`): EKS, its managed node pools and the Kubernetes provider.
"""
