"""Import shim: the path existing stacks' state stores the Vault bootstrap's dynamic provider under.

A Pulumi dynamic resource keeps its provider in state as a dill pickle that names the provider class by module path.
Every stack deployed before the domain folders existed stores `components.vault_bootstrap_provider`, and the provider
process resolves that path whenever it diffs, reads or deletes `vault-bootstrap`. The class lives in
`components/vault/vault_bootstrap.py` and still declares this module as its home, so new state stores the same
path and no stack ever sees a changed `__provider` input. Keep this file; a test pins it.
"""

from components.vault.vault_bootstrap import VaultBootstrapProvider

__all__ = ["VaultBootstrapProvider"]
