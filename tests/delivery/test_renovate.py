"""Renovate reads the pins: renovate.json's regex manager matches every `# renovate:` comment in config/versions.py.

Renovate compiles `matchStrings` as JavaScript regular expressions with named groups `(?<name>...)`; here they become
Python's `(?P<name>...)` and run over the file as Renovate would (the whole file, every match). Each comment must be
matched together with the `NAME: Final = "..."` line below it, and the extracted currentValue must be what the
program actually pins, or a Renovate pull request would rewrite the wrong text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from config import versions
from tests.conftest import ROOT

VERSIONS = ROOT / "config" / "versions.py"
# Datasources Renovate has (lib/modules/datasource/api.ts) among those the pins could use; aws-mq and
# aws-elasticache are not Renovate datasources, so those pins say they are bumped by hand.
RENOVATE_DATASOURCES = {"docker", "helm", "endoflife-date", "aws-rds", "aws-eks-addon", "aws-machine-image",
                        "github-releases", "github-tags"}
CONSTANT = re.compile(r'^([A-Z][A-Z0-9_]*): Final = "([^"]*)"$', re.MULTILINE)


def python_regex(js: str) -> re.Pattern[str]:
    return re.compile(js.replace("(?<", "(?P<"))


@pytest.fixture(scope="module")
def manager() -> dict[str, Any]:
    config = json.loads((ROOT / "renovate.json").read_text())
    (regex_manager,) = [m for m in config["customManagers"] if m["customType"] == "regex"]
    return dict(regex_manager)


@pytest.fixture(scope="module")
def matches(manager: dict[str, Any]) -> list[re.Match[str]]:
    text = VERSIONS.read_text()
    return [m for js in manager["matchStrings"] for m in python_regex(js).finditer(text)]


def test_the_manager_reads_config_versions(manager: dict[str, Any]) -> None:
    patterns = [p.strip("/") for p in manager["managerFilePatterns"]]
    assert any(re.search(p, "config/versions.py") for p in patterns)
    assert "fileMatch" not in manager  # renamed managerFilePatterns in Renovate 41


def test_every_renovate_comment_is_matched(matches: list[re.Match[str]]) -> None:
    text = VERSIONS.read_text()
    comments = [m.start() for m in re.finditer(r"^# renovate:", text, re.MULTILINE)]
    assert len(comments) >= 10
    assert sorted(m.start() for m in matches) == comments


def test_each_match_names_a_dependency_and_the_pinned_value(matches: list[re.Match[str]]) -> None:
    for m in matches:
        assert m["depName"], m.group(0)
        assert m["datasource"] in RENOVATE_DATASOURCES, m.group(0)
        name, pinned = CONSTANT.findall(m.group(0))[0]
        assert getattr(versions, name) == pinned
        # An image reference keeps its repository; Renovate rewrites the tag only.
        assert pinned == m["currentValue"] or pinned.endswith(":" + m["currentValue"]), m.group(0)
        if m["datasource"] == "helm":
            assert m["registryUrl"] == getattr(versions, name.replace("_CHART", "_REPOSITORY"))


def test_the_eks_add_on_lookup_follows_the_kubernetes_pin(matches: list[re.Match[str]]) -> None:
    (addon,) = [m for m in matches if m["datasource"] == "aws-eks-addon"]
    package = json.loads(addon["packageName"])
    assert package == {"kubernetesVersion": versions.KUBERNETES_VERSION, "addonName": addon["depName"]}


def test_pins_renovate_cannot_look_up_say_how_to_bump_them() -> None:
    text = VERSIONS.read_text()
    assert "datasource=aws-mq" not in text and "datasource=aws-elasticache" not in text
    for command in ("aws rds describe-db-engine-versions", "aws mq describe-broker-engine-types",
                    "aws elasticache describe-cache-engine-versions"):
        assert command in text
