"""`python -m tools.charts`: the command of this package (see `tools/charts/charts.py`)."""

import sys

from tools.charts.charts import main

sys.exit(main())
