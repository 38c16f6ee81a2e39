"""`python -m tools.audit_report`: the command of this package (see `tools/audit_report/audit_report.py`)."""

import sys

from tools.audit_report.audit_report import main

sys.exit(main())
