"""The shared values helper (components/shared/chart_values.py) and the key check built on it
(tests/helpers/chart_keys.py): `flatten` names every path a builder sets, and a key the chart lacks is caught.
"""

from __future__ import annotations

from components.shared.chart_values import flatten
from tests.helpers.chart_keys import unknown_paths


def test_unknown_keys_are_caught() -> None:
    assert unknown_paths({"server": {"ha": {"raft": {"confg": "x"}}}}, "vault") == ["server.ha.raft.confg"]
    assert unknown_paths({"installCRD": True}, "cert-manager") == ["installCRD"]


def test_flatten_marks_lists_and_empty_maps_and_quotes_dotted_keys() -> None:
    assert flatten({"a": {"b": 1, "c": [], "d": {}, "e": None}, "f": {"x.y/z": "v"}}) == {
        "a.b", "a.c[]", "a.d{}", "a.e", 'f."x.y/z"'}
