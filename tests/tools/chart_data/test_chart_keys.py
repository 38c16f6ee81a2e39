"""The committed chart key lists (tests/upstream_facts/chart_keys/, tools/chart_data/chart_keys.py): one per pinned
chart, and each still what the upstream values files give when the optional upstream chart data is present
(the tests that re-derive them skip without it).
"""

from __future__ import annotations

import pytest

from tools.chart_data import chart_keys


def test_a_key_list_exists_for_every_pinned_chart() -> None:
    for name in chart_keys.SOURCES:
        assert (chart_keys.KEYS_DIR / name).is_file(), f"run `python -m tools.chart_data.chart_keys` to generate {name}"


@pytest.mark.skipif(not chart_keys.DEFAULT_REFERENCE.is_dir(), reason="upstream chart data not present")
@pytest.mark.parametrize("name", sorted(chart_keys.SOURCES))
def test_committed_key_lists_match_the_upstream_values(name: str) -> None:
    source = chart_keys.SOURCES[name]
    expected = chart_keys.render(chart_keys.DEFAULT_REFERENCE / source, source)
    assert (chart_keys.KEYS_DIR / name).read_text(encoding="utf-8") == expected
