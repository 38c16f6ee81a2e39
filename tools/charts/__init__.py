"""`make charts`: the pinned Helm charts pulled into a local cache, so the render tests run without the optional
upstream chart data.
"""
