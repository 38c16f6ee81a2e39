"""Post-deploy checks of a live cluster (`make verify`): fetch, the checks themselves and the mesh metrics.
"""
