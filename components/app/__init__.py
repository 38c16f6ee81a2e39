"""The application layer (`mtls-platform:app`): the catalog's services, their traffic policy and the manifests
directory, in the meshed app namespace.
"""
