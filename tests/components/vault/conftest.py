"""The real-OpenBao fixtures (tests/helpers/openbao.py) for every Vault test module."""

from tests.helpers.openbao import (  # noqa: F401  # fixtures are found by name
    fresh_openbao,
    openbao_factory,
    openbao_transit,
    openbao_workdir,
    token_reviewer,
)
