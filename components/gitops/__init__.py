"""Optional GitOps delivery (`mtls-platform:gitops`): Argo CD syncing the app's manifests from Git.
"""
