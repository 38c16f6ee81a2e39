"""The Vault bootstrap's logic over an hvac client: what it converges to (`spec`), how it talks to Vault (`api`),
initialisation and recovery material (`recovery`), configuration (`configure`) and the sequence (`steps`). Runs inside
the `VaultBootstrap` dynamic provider at deploy time; creates no Pulumi resource.
"""
