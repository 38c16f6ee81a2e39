"""The audit report of a stack's offline plan (`make audit`): the `audit` rules applied per environment.
"""
