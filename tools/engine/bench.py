"""Benchmark: offline plan time per stack against the floor of the same number of bare registrations.

    python -m tools.engine.bench [--repeat 3]

Each measurement is a fresh interpreter (so imports count, as they do for `make plan`), best of `--repeat`. The floor
("bare") is a program that imports the same provider SDKs and registers the same number of resources with no
inputs on the same mock engine; the ratio plan / bare is the program's own overhead. Target: prod <= 1.3x.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.engine.mock_engine import ROOT, list_stacks

# The floor imports every third-party module the real run loaded (provider SDKs, pydantic, yaml, ...; not the
# project's own code) and touches an attribute of each, because the provider SDKs load subpackages lazily.
_BARE_PROGRAM = '''
import importlib
import pulumi

for name in {modules!r}:
    getattr(importlib.import_module(name), "__all__", None)
for i in range({count}):
    pulumi.CustomResource("bench:index:Thing", f"thing-{{i}}", {{}})
'''

_RUN = '''
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tools.engine.mock_engine import run_stack
plan = run_stack({stack!r}, program=Path({program!r})) if {program!r} else run_stack({stack!r})
own = {{"components", "tools", "tests", "__main__", "audit"}}
print(sorted(name for name, mod in sys.modules.items() if name.split(".")[0] not in own
             and name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("_")
             and type(mod).__name__ != "_LazyModule"))
print(len(plan.resources))
'''


def _timed(stack: str, program: str = "") -> tuple[float, int, list[str]]:
    """Wall time of one fresh-interpreter run, its resource count and the SDK modules it loaded."""
    code = _RUN.format(root=str(ROOT), stack=stack, program=program)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    *_, modules, count = done.stdout.strip().splitlines()
    return seconds, int(count), ast.literal_eval(modules)


def measure(stack: str, repeat: int) -> tuple[int, float, float]:
    """(resource count, best plan seconds, best bare seconds for the same count), interleaved run by run."""
    plan_times, bare_times = [], []
    _, count, modules = _timed(stack)
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(_BARE_PROGRAM.format(count=count, modules=modules))
        for _ in range(repeat):
            plan_times.append(_timed(stack)[0])
            seconds, registered, _ = _timed(stack, str(bare))
            assert registered == count, (registered, count)
            bare_times.append(seconds)
    return count, min(plan_times), min(bare_times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stack", action="append", choices=list_stacks(), help="default: every stack")
    args = parser.parse_args(argv)
    print(f"{'stack':<9} {'resources':>9} {'plan s':>8} {'bare s':>8} {'ratio':>6}")
    for stack in args.stack or list_stacks():
        count, plan_s, bare_s = measure(stack, args.repeat)
        print(f"{stack:<9} {count:>9} {plan_s:>8.2f} {bare_s:>8.2f} {plan_s / bare_s:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
