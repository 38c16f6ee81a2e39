"""Refreshing the committed upstream facts the tests read (chart key lists, Gateway API CRD fields).
"""
