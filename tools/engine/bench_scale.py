"""Benchmark: offline plan time as the service catalog grows (the default catalog, then 8, 80 and 400 generated
services), and whether it grows linearly.

    python -m tools.engine.bench_scale [--stack prod] [--sizes 8 80 400] [--repeat 2]

Each plan runs in a fresh interpreter (imports count, as for `make plan`), best of `--repeat`, measured in CPU time
of the child process (user + system) so that other load on the machine does not blur the line. Generated catalogs are
valid `services` config: unique names and port numbers, every service called by up to two services generated
before it (so the call graph is a DAG), a public entry service, data services in rotation. Linearity: a
least-squares line through (services, seconds) over the generated sizes, its R², and the marginal cost per
service between the two larger sizes against the two smaller ones. A benchmark, not a test: figures vary by machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.engine.mock_engine import ROOT, list_stacks, load_stack_settings

DATA_ROTATION: tuple[tuple[str, ...], ...] = ((), ("rds",), ("cache",), ("mq",), ("rds", "mq"))
BASE_PORT = 10000  # generated ports: 10000 + 2i (grpc), 10001 + 2i (http); clear of the proxy's 4140-4191


def name(i: int) -> str:
    return f"svc-{i:04d}"


def generate_catalog(count: int, replicas: tuple[int, int] = (2, 4)) -> dict[str, Any]:
    """`count` services as the `services` config value; service i is called by services (i-1) and (i-1)//2."""
    services: dict[str, Any] = {}
    for i in range(count):
        callers = sorted({name(i - 1), name((i - 1) // 2)}) if i > 0 else []
        services[name(i)] = {
            "ports": [{"name": "grpc", "port": BASE_PORT + 2 * i, "protocol": "grpc"},
                      {"name": "http", "port": BASE_PORT + 2 * i + 1, "protocol": "http"}],
            "replicas": {"min": replicas[0], "max": replicas[1]},
            "health": {"port": "http"},
            "public": i == 0,
            "callers": callers,
            "dataServices": list(DATA_ROTATION[i % len(DATA_ROTATION)]),
            "nonCritical": i % 4 == 3,
        }
    return services


def with_catalog(base: dict[str, str], services: dict[str, Any]) -> dict[str, str]:
    """`base` settings running `services`; a stack that pins its images by digest (prod) pins the generated ones
    with its first digest (the default catalog's pins would name services the generated catalog lacks)."""
    config = {**base, "mtls-platform:services": json.dumps(services)}
    rollout = json.loads(base.get("mtls-platform:rollout", "{}"))
    digests = [p["digest"] for p in rollout.get("images", {}).values() if p.get("digest")]
    if "images" in rollout:
        rollout["images"] = {n: {"digest": digests[0]} for n in services} if digests else {}
        config["mtls-platform:rollout"] = json.dumps(rollout)
    return config


_RUN = '''
import json, sys
sys.path.insert(0, {root!r})
from tools.engine.mock_engine import run_stack
config = json.loads(open({config!r}).read())
plan = run_stack({stack!r}, config=config)
print(len(plan.resources))
'''


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_plan(stack: str, config: dict[str, str]) -> tuple[float, int]:
    """CPU time (user + system) of one fresh-interpreter offline plan and its resource count. CPU rather than wall
    time: on a shared machine the wall clock measures the neighbours as much as the plan."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
    try:
        code = _RUN.format(root=str(ROOT), config=f.name, stack=stack)
        start = _children_cpu()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        seconds = _children_cpu() - start
    finally:
        Path(f.name).unlink()
    return seconds, int(done.stdout.strip().splitlines()[-1])


def best(stack: str, config: dict[str, str], repeat: int) -> tuple[float, int]:
    runs = [timed_plan(stack, config) for _ in range(repeat)]
    return min(s for s, _ in runs), runs[0][1]


def fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares line y = slope*x + intercept, and its R²."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    ss_res = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return slope, intercept, 1 - ss_res / ss_tot if ss_tot else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="prod", choices=list_stacks())
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 80, 400])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    base = load_stack_settings(args.stack)
    print(f"stack {args.stack}, best of {args.repeat}, fresh interpreter per plan, CPU seconds (user + system)")
    print(f"{'catalog':<14} {'services':>8} {'resources':>9} {'cpu s':>8} {'ms/service':>10} {'ms/resource':>11}")
    seconds, count = best(args.stack, base, args.repeat)
    print(f"{'default':<14} {8:>8} {count:>9} {seconds:>8.2f} {1000 * seconds / 8:>10.1f} "
          f"{1000 * seconds / count:>11.2f}")
    points: list[tuple[int, float, int]] = []
    for size in args.sizes:
        config = with_catalog(base, generate_catalog(size))
        seconds, count = best(args.stack, config, args.repeat)
        points.append((size, seconds, count))
        print(f"{'generated':<14} {size:>8} {count:>9} {seconds:>8.2f} {1000 * seconds / size:>10.1f} "
              f"{1000 * seconds / count:>11.2f}")
    if len(points) >= 2:
        slope, intercept, r2 = fit([p[0] for p in points], [p[1] for p in points])
        print(f"least squares: {1000 * slope:.1f} ms per service + {intercept:.2f} s fixed, R² = {r2:.4f}")
        rslope, _, rr2 = fit([p[2] for p in points], [p[1] for p in points])
        print(f"per resource:  {1000 * rslope:.2f} ms per registered resource, R² = {rr2:.4f}")
    if len(points) >= 3:
        (n0, t0, _), (n1, t1, _), (n2, t2, _) = points[0], points[-2], points[-1]
        low, high = (t1 - t0) / (n1 - n0), (t2 - t1) / (n2 - n1)
        print(f"marginal cost: {1000 * low:.1f} ms/service ({n0}->{n1}) vs {1000 * high:.1f} ms/service "
              f"({n1}->{n2}), ratio {high / low:.2f} (1.00 = perfectly linear)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
