"""The architecture diagram of a stack's offline plan (`make diagram`).
"""
