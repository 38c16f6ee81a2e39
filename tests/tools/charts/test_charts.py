"""`make charts` (tools/charts): the pinned chart list, and a real pull through Helm's client from a local repository.

The repository is built from the upstream chart data with Helm's own `package` and `repo index` and served on
127.0.0.1 by http.server in a thread; the tool runs as `make charts` runs it (`python -m tools.charts`), in a
subprocess whose Helm cache and configuration live in the test's temporary directory.
"""

from __future__ import annotations

import filecmp
import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import helm_python as helm
import pytest
import yaml

from config import versions
from config.versions import HELM_CHARTS, LINKERD_CHART, VAULT_CHART, PinnedChart
from tests.conftest import ROOT, STACKS, plan_of
from tests.helpers import helm_render
from tools.charts import charts

CNI = PinnedChart("linkerd2-cni", LINKERD_CHART, "")
UPSTREAM = helm_render.CHARTS / f"{CNI.name}-{CNI.version}"


def test_the_pinned_chart_list_is_what_the_plans_install() -> None:
    installed = {(r.inputs["chart"], r.inputs["version"], r.inputs["repositoryOpts"]["repo"])
                 for stack in STACKS for r in plan_of(stack).of_type(helm_render.RELEASE)}
    pinned = {tuple(chart) for chart in HELM_CHARTS}
    assert len(pinned) == len(HELM_CHARTS)
    assert installed <= pinned, installed - pinned
    # Installed only when a stack enables them (backup.veleroEnabled, gitops.argocd); none of the four does today.
    # Flagger (rollout.progressive) is on in every profile with Prometheus: dev, staging and prod install it.
    assert {name for name, _, _ in pinned - installed} == {"velero", "argo-cd"}
    assert ("flagger", versions.FLAGGER_CHART, versions.FLAGGER_REPOSITORY) in installed


class _Repository:
    """A Helm chart repository on 127.0.0.1 that records the paths it is asked for."""

    def __init__(self, directory: Path) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler,
                                                                                          directory=str(directory)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[_Repository]:
    if not UPSTREAM.is_dir():
        pytest.skip(f"upstream chart data not present ({UPSTREAM.name}): nothing to build a test repository from")
    directory = tmp_path / "repository"
    directory.mkdir()
    helm.package(UPSTREAM, destination=directory)
    repo = _Repository(directory)
    helm.repo_index_generate(directory, base_url=repo.url)
    repo.thread.start()
    yield repo
    repo.server.shutdown()
    repo.server.server_close()


def _make_charts(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Helm reads its cache/config homes when its library loads, so the tool runs in its own process with them here.
    env = {**os.environ, **{f"XDG_{kind}_HOME": str(tmp_path / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}}
    return subprocess.run([sys.executable, "-m", "tools.charts", "--dest", str(tmp_path / "cache"), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_make_charts_pulls_unpacks_skips_what_is_there_and_names_each_failure(tmp_path: Path,
                                                                             repository: _Repository) -> None:
    first = _make_charts(tmp_path, "--mirror", repository.url, "--only", "linkerd2-cni", "--only", "vault")
    # vault is not in this repository: one error line naming chart, version and repository; linkerd2-cni still lands.
    assert first.returncode == 1, first.stderr
    assert first.stdout.splitlines() == [f"linkerd2-cni {LINKERD_CHART}: pulled"]
    errors = [line for line in first.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f'error: vault {VAULT_CHART} from {repository.url}: chart "vault" version "{VAULT_CHART}" not'
                      f" found in {repository.url} repository"]
    cached = tmp_path / "cache" / f"linkerd2-cni-{LINKERD_CHART}"
    assert _same_tree(filecmp.dircmp(UPSTREAM, cached)), "the pulled chart differs from the one packaged"
    manifests = helm.Chart.load(cached).render(name=CNI.name, namespace="linkerd-cni", is_install=True)
    assert "kind: DaemonSet" in manifests["linkerd2-cni/templates/cni-plugin.yaml"]
    assert not [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".pull-")]  # no partial pulls

    asked = len(repository.requests)
    assert asked >= 2  # the index and the archive
    second = _make_charts(tmp_path, "--mirror", repository.url, "--only", "linkerd2-cni")
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [f"linkerd2-cni {LINKERD_CHART}: present"]
    assert len(repository.requests) == asked  # idempotent: nothing fetched


def _same_tree(comparison: filecmp.dircmp[str]) -> bool:
    """Same files, byte for byte, except Chart.yaml, which `helm package` re-serialises: same chart metadata."""
    if comparison.left_only or comparison.right_only or comparison.funny_files:
        return False
    for name in comparison.diff_files:
        left, right = (yaml.safe_load((Path(d) / name).read_text()) for d in (comparison.left, comparison.right))
        keys = ("name", "version", "appVersion", "dependencies")
        if name != "Chart.yaml" or [left.get(k) for k in keys] != [right.get(k) for k in keys]:
            return False
    return all(_same_tree(sub) for sub in comparison.subdirs.values())


def test_the_render_tests_load_a_chart_from_the_cache_when_the_upstream_data_is_absent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chart = tmp_path / f"{CNI.name}-{CNI.version}"
    chart.mkdir()
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {CNI.name}\nversion: {CNI.version}\n")
    monkeypatch.setattr(helm_render, "CHARTS", tmp_path / "no-upstream-data")
    monkeypatch.setattr(helm_render, "CHART_CACHE", tmp_path)
    assert helm_render.chart_dir(CNI.name, CNI.version) == chart
    assert charts.present(tmp_path, CNI)
    with pytest.raises(pytest.skip.Exception, match=r"pinned chart vault \S+ is neither in the upstream chart data"
                                                    r" nor in \.charts/ \(make charts\)"):
        helm_render.chart_dir("vault", VAULT_CHART)
