"""`python -m tools.diagram`: the command of this package (see `tools/diagram/diagram.py`)."""

import sys

from tools.diagram.diagram import main

sys.exit(main())
