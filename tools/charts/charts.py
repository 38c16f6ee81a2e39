"""Pull every chart the program installs (config/versions.py HELM_CHARTS) into `.charts/<chart>-<version>/`.

    python -m tools.charts                      # pull what is missing into .charts/ (make charts)
    python -m tools.charts --only vault         # one chart (repeatable)
    python -m tools.charts --mirror URL         # every chart from one Helm repository (a mirror) instead of upstream

The render tests (tests/helpers/helm_render.py) load a chart from the shared upstream chart data when it is there,
else from this cache. Each chart is pulled with Helm's own client (helm-python-sdk `pull`, Helm v4's Go SDK: the same
repository index lookup and archive download as `helm pull --untar`), unpacked into a temporary directory next to
its target and renamed into place only when its Chart.yaml names the pinned chart and version, so an interrupted run
leaves no half-written chart. A chart already in place is skipped; a chart that fails gets one line naming it, its
version and repository, and the others are still pulled (exit 1 if any failed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import helm_python as helm
import yaml

from config.versions import HELM_CHARTS, PinnedChart

ROOT: Final = Path(__file__).resolve().parents[2]
CACHE: Final = ROOT / ".charts"


def target(dest: Path, chart: PinnedChart) -> Path:
    return dest / f"{chart.name}-{chart.version}"


def present(dest: Path, chart: PinnedChart) -> bool:
    """True when the cache holds this exact chart version (its Chart.yaml says so)."""
    return _metadata(target(dest, chart)) == (chart.name, chart.version)


def _metadata(path: Path) -> tuple[str, str] | None:
    try:
        meta = yaml.safe_load((path / "Chart.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return None
    return (str(meta.get("name")), str(meta.get("version"))) if isinstance(meta, dict) else None


def pull(dest: Path, chart: PinnedChart, mirror: str | None = None) -> str:
    """Pull one chart into the cache; returns what happened ("present" or "pulled"), raises RuntimeError on failure."""
    if present(dest, chart):
        return "present"
    repository = mirror or chart.repository
    dest.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".pull-{chart.name}-", dir=dest))
    try:
        try:
            helm.pull(chart.name, repo_url=repository, version=chart.version, destination=work, untar=True,
                      untar_dir=work)
        except helm.HelmError as error:
            raise RuntimeError(f"{chart.name} {chart.version} from {repository}: {error}") from None
        unpacked = work / chart.name  # `helm pull --untar` unpacks into <untar dir>/<chart name>/
        found = _metadata(unpacked)
        if found != (chart.name, chart.version):
            raise RuntimeError(f"{chart.name} {chart.version} from {repository}: the archive holds {found}")
        final = target(dest, chart)
        if final.exists():  # a stale or foreign directory under the pinned name
            shutil.rmtree(final)
        unpacked.rename(final)
        return "pulled"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pull_all(dest: Path, charts: Iterable[PinnedChart], mirror: str | None = None) -> list[str]:
    """Pull each chart; returns one line per chart that failed (the others are in place)."""
    failures = []
    for chart in charts:
        try:
            print(f"{chart.name} {chart.version}: {pull(dest, chart, mirror)}")
        except RuntimeError as error:
            failures.append(str(error))
            print(f"{chart.name} {chart.version}: FAILED", file=sys.stderr)
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.charts", description=__doc__.split("\n")[0])
    parser.add_argument("--dest", type=Path, default=CACHE, help="cache directory (default: .charts/)")
    parser.add_argument("--only", action="append", choices=sorted({c.name for c in HELM_CHARTS}),
                        help="pull only this chart (repeatable)")
    parser.add_argument("--mirror", help="pull every chart from this Helm repository URL instead of its own")
    args = parser.parse_args(argv)
    charts = [c for c in HELM_CHARTS if not args.only or c.name in args.only]
    failures = pull_all(args.dest, charts, args.mirror)
    for line in failures:
        print(f"error: {line}", file=sys.stderr)
    return 1 if failures else 0
