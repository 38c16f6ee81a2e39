"""Post-deploy checks of a live cluster (`make verify`): the shared model, the fetch, the checks
themselves and the mesh metrics.
"""
