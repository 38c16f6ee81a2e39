"""`python -m tools.deploy_time`: the command of this package (see `tools/deploy_time/deploy_time.py`)."""

import sys

from tools.deploy_time.deploy_time import main

sys.exit(main())
