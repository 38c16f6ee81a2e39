"""`make charts`: the pinned Helm charts pulled into a local cache, so the render tests run without ../shared.
"""
