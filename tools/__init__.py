"""Commands over the offline plan and the live cluster (plan, audit report, cost, deploy time, diagram, verify,
chart data). Only tests import this package; the program never does.
"""
