"""The stack configuration: schema, environment profiles, version pins, shared names, the service catalog,
the manifests directory, and the rules a configuration must satisfy. Imports no component, so every layer (and the
audit) may read it.
"""
