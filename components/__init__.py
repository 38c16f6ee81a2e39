"""The platform's component resources, one folder per domain (named like the type tokens), each holding its
ComponentResources and the pure builders beside them. See the README, "Layout".
"""
