"""The scale benchmark's generated catalogs are valid catalogs (the benchmark itself is not a timed test)."""

from __future__ import annotations

import pytest

from config import catalog as sc
from tests.conftest import build_config
from tools.engine.bench_scale import fit, generate_catalog, with_catalog
from tools.engine.mock_engine import load_stack_settings


@pytest.mark.parametrize("count", [8, 80, 400])
def test_generated_catalogs_are_valid(count: int) -> None:
    raw = generate_catalog(count)
    catalog, problems = sc.parse("mtls-platform:services", raw, "prod")
    assert problems == [] and len(catalog) == count == len({s.name for s in catalog})
    ports = [p.port for s in catalog for p in s.ports]
    assert len(ports) == len(set(ports)) and not set(ports) & sc.PROXY_PORTS
    order = {s.name: i for i, s in enumerate(catalog)}
    edges = sc.edges(catalog)
    assert all(order[caller] < order[callee] for caller, callee in edges)  # callers come first: a DAG
    assert len(edges) == 2 * count - 3 if count > 2 else True
    assert sum(s.public for s in catalog) == 1


def test_a_generated_catalog_passes_the_whole_config_load() -> None:
    config = with_catalog(load_stack_settings("prod"), generate_catalog(80))
    assert len(build_config("prod", config).services) == 80


def test_fit_recovers_a_line() -> None:
    slope, intercept, r2 = fit([8, 80, 400], [2.0 + 0.01 * x for x in (8, 80, 400)])
    assert slope == pytest.approx(0.01) and intercept == pytest.approx(2.0) and r2 == pytest.approx(1.0)
