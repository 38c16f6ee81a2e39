"""`python -m tools.cost`: the command of this package (see `tools/cost/cost.py`)."""

import sys

from tools.cost.cost import main

sys.exit(main())
