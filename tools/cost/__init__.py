"""The monthly cost estimate of a stack's offline plan (`make cost`) and the comparison of two estimates.
"""
