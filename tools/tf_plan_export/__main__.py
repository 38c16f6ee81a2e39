"""`python -m tools.tf_plan_export --stack prod`: the offline plan's AWS layer as a Terraform plan JSON on stdout."""

import argparse
import sys

from config.model import ConfigError
from tools.engine.mock_engine import list_stacks, run_stack
from tools.tf_plan_export.export import dumps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the offline plan's AWS layer as a Terraform plan JSON")
    parser.add_argument("--stack", required=True, choices=list_stacks())
    args = parser.parse_args(argv)
    try:
        plan = run_stack(args.stack)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    print(dumps(plan))
    return 0


sys.exit(main())
