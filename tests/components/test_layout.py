"""The layout the README promises: folders follow the type tokens, one ComponentResource per file named after its
class, and every domain folder sits in exactly one layer of the import contract `make lint` enforces."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.conftest import ROOT

COMPONENTS = ROOT / "components"
TOKEN = re.compile(r'super\(\).__init__\(\s*"mtls-platform:(?P<domain>\w+):(?P<cls>\w+)"')
# Type tokens are permanent (URNs); two of them name domains whose components every layer uses, kept in shared/.
SHARED_TOKENS = {"security", "storage"}


FILE_NAMES = {"ArgoCd": "argocd"}  # the product writes its name in one word


def _snake(name: str) -> str:
    return FILE_NAMES.get(name) or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


TOKENS = sorted((path, m["domain"], m["cls"]) for path in COMPONENTS.rglob("*.py")
                for m in TOKEN.finditer(path.read_text()))


def test_every_component_is_found() -> None:
    classes = {c for _, _, c in TOKENS}
    assert len(TOKENS) >= 35 and {"Network", "Cluster", "Mesh", "Application", "Monitoring"} <= classes


@pytest.mark.parametrize(("path", "domain", "cls"), TOKENS, ids=[c for _, _, c in TOKENS])
def test_a_component_lives_in_its_token_folder_in_a_file_named_after_it(path: object, domain: str, cls: str) -> None:
    rel = path.relative_to(COMPONENTS)  # type: ignore[attr-defined]
    folder = "shared" if domain in SHARED_TOKENS else domain
    assert rel.parts[0] == folder, f"{cls} (mtls-platform:{domain}) belongs in components/{folder}/"
    assert rel.stem == _snake(cls), f"{cls} belongs in a file named {_snake(cls)}.py"


def test_one_component_per_file() -> None:
    per_file: dict[object, list[str]] = {}
    for path, _, cls in TOKENS:
        per_file.setdefault(path, []).append(cls)
    assert {str(p): c for p, c in per_file.items() if len(c) > 1} == {}


def test_every_domain_folder_is_in_exactly_one_layer() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    named = [m.strip() for layer in layers for m in re.split(r"[|:]", layer)]
    folders = {f"components.{p.name}" for p in COMPONENTS.iterdir() if (p / "__init__.py").exists()}
    assert sorted(n for n in named if n.startswith("components.") and named.count(n) > 1) == []
    assert folders - set(named) == set(), "a domain folder outside the layers is not checked by make lint"
