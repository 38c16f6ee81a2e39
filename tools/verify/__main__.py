"""`python -m tools.verify`: the command of this package (see `tools/verify/verify.py`)."""

import sys

from tools.verify.verify import main

sys.exit(main())
