"""The offline plan: the real program on Pulumi's mock engine, the plan command, facts read off a plan, benchmarks.
"""
