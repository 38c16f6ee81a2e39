"""How the project's in-cluster controllers (the trust-anchor rotation, the credential report) end a run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn


def run(main: Callable[[], int], label: str) -> NoReturn:
    """Exit with `main()`'s code; any error becomes one line naming the step and exit 1 (no traceback in the Job's
    log: VaultBootstrapError and ApiException messages carry the step, never a token)."""
    try:
        code = main()
    except Exception as exc:
        print(f"{label}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(code)
