"""Does every Helm values key the program sets change what the chart renders? Found out with the real Helm engine.

For one release (chart, version, name, namespace and values exactly as the plan registered them), every leaf the
program sets (a list is one leaf, as `flatten` counts it) must change the rendered manifests when its value changes;
a key the chart never reads, or reads only on a path the stack has switched off, is a defect of the values builder.

One render per leaf would cost ~65 s for prod alone. This shows the same in a few renders per release:

1. Markers. Every leaf that can carry one gets a unique marker at once (strings and `true` become `zq0007x`,
   numbers 870007; inside a list, each of its scalars) and the chart renders once. In every rendered file that, with
   the markers put back to the values they replaced, is exactly the plain render (same objects, same branches), the
   markers are plain value flow: a leaf whose marker appears there reaches the output, so changing it changes it.
   The leaves whose markers sit in a file that does not come back to the plain render (a marker took another branch,
   or was hashed) are split in halves and tried again, as are all of them on a render error; a leaf alone that
   changes the render, or that a template rejects, has shown its effect.
2. Changes, in batches. Every leaf not shown by a marker (false, null, an empty map or list, a value used only in a
   condition or hashed) is changed at once (negated, filled, emptied or marked) and the chart renders once. A file
   that differs from the plain render shows the effect of a changed leaf if no other changed leaf can reach that
   file. What can reach a file is read off the chart's own sources: a template reads a top-level key only by
   spelling its name, in the file, in a template it includes (`include "name"`, `$.Template.BasePath`), or in the
   subchart scope it renders in. Leaves left without such a file are split in halves and retried; a leaf alone
   has an effect if anything at all differs (or the chart rejects the value with a render error).

Comparisons leave out what cannot count as an effect: the template that echoes the whole values tree
(linkerd-config's `values`, read by Linkerd's CLI and injector rather than by a template), and, when checking that
markers were plain value flow, checksum annotations (hashes of other rendered files, which are compared themselves).
Secret data is compared decoded. Sprig's random generators (`genSelfSignedCert`, `genCA`, `genSignedCert`,
`randAlphaNum`) take ~90 % of a Linkerd render and make renders differ run to run: the analysis renders the pinned
chart with each such call replaced by a fixed result, after checking once per chart that this changes nothing but
the generated material (against the unmodified chart) and that two renders are then identical. Identical releases in
several stacks are analysed once (functools.cache).
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import re
import tarfile
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import helm_python as helm
import yaml

from tests.conftest import plan_of
from tests.helpers.helm_render import RELEASE, SEPARATOR, chart_dir, parse_manifests

Obj = dict[str, Any]
Manifests = dict[str, str]
KeyPath = tuple[str, ...]

# Templates that render the whole values tree into an object, by chart: (template, kind, name, field path). Every key
# "changes" such an object, so it proves nothing; it is taken out before comparing.
# Ref: https://github.com/linkerd/linkerd2/blob/edge-26.8.3/charts/linkerd-control-plane/templates/config.yaml
VALUES_ECHOES: Final[dict[str, tuple[str, str, str, tuple[str, ...]]]] = {
    "linkerd-control-plane": ("templates/config.yaml", "ConfigMap", "linkerd-config", ("data", "values")),
}
# Keys whose effect cannot show in an offline render, by chart, each with what reads it. Keep it tiny.
ALLOWED: Final[dict[str, dict[str, str]]] = {
    "linkerd-control-plane": {
        # Ref: https://github.com/linkerd/linkerd2/blob/edge-26.8.3/pkg/healthcheck/healthcheck.go (isHA)
        "highAvailability": "read by no template: `linkerd check` reads it from linkerd-config's values (isHA) to "
                            "run its HA checks",
    },
}

_STRING_MARKER: Final = re.compile(r"zq\d{4}x")
_NUMBER_BASE: Final = 870000  # six digits: Go prints a float64 >= 1e6 as 1e+06, and Helm's numbers are float64s
_NUMBER_MARKER: Final = re.compile(r"(?<![\d.])87\d{4}(?![\d.])")
_ANY_MARKER: Final = re.compile(rf"{_STRING_MARKER.pattern}|{_NUMBER_MARKER.pattern}")
# Sprig's random generators and the fixed results the analysis renders instead (a certificate is used as .Cert/.Key).
_GENERATED_CERT, _GENERATED_KEY, _GENERATED_CHAR = "generated-cert", "generated-key", "g"
_GENERATORS: Final = re.compile(r"\b(?:genSelfSignedCert|genCA|genSignedCert)\b[^}]*?(?=\s*-?\}\})")
_RANDOM_TEXT: Final = re.compile(r"\brandAlphaNum\s+(\d+)")
_CHAIN: Final = re.compile(r'\.Values((?:\.[A-Za-z0-9_]+)*)((?:\s+"[^"]*")*)')
_LITERAL: Final = re.compile(r'"([^"]*)"')
_COMMENT: Final = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.DOTALL)
_INCLUDE: Final = re.compile(r"\b(?:include|template)\s+\"([^\"]+)\"")
_INCLUDE_FILE: Final = re.compile(r"Template\.BasePath\s+\"([^\"]+)\"")
_DEFINE: Final = re.compile(r"\{\{-?\s*define\s+\"([^\"]+)\"")


# ------------------------------------------------------------------------------------------------ values and text

def go_text(value: Any) -> str:
    """A scalar as a Go template prints it (`{{ . }}`); Helm decodes every number as a float64."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _go_float(float(value))
    return "null" if value is None else str(value)


def _go_float(number: float) -> str:
    """Go's `%v` of a float64: shortest digits, in exponent form when the exponent is < -4 or >= 6 (strconv's rule
    for 'g' with the shortest precision; Ref: https://pkg.go.dev/strconv#FormatFloat)."""
    if number == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent
    if point - 1 < -4 or point - 1 >= 6:
        result = f"{text[0]}{'.' + text[1:] if len(text) > 1 else ''}e{point - 1:+03d}"
    elif point <= 0:
        result = "0." + "0" * -point + text
    else:
        result = text[:point] + "0" * (point - len(text)) + (f".{text[point:]}" if point < len(text) else "")
    return ("-" if sign else "") + result


@dataclass(frozen=True)
class Leaf:
    path: KeyPath  # segments into the values tree
    value: Any

    @property
    def key(self) -> str:
        """The dotted path as `flatten` names it (quoted segments with dots, `[]` for a list, `{}` an empty map)."""
        text = ".".join(f'"{s}"' if "." in s or not s else s for s in self.path)
        if isinstance(self.value, list):
            return f"{text}[]"
        return f"{text}{{}}" if isinstance(self.value, Mapping) else text


def leaves(values: Mapping[str, Any], prefix: KeyPath = ()) -> list[Leaf]:
    found: list[Leaf] = []
    for key, value in values.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            found += leaves(value, path)
        else:
            found.append(Leaf(path, value))
    return found


def _set(values: Obj, path: KeyPath, value: Any) -> Obj:
    """A copy of `values` with `path` set (only the maps on the path are copied)."""
    head, *rest = path
    copy = dict(values)
    copy[head] = _set(values[head], tuple(rest), value) if rest else value
    return copy


class _Markers:
    """Unique markers for a set of leaves, and the way back to the values they replaced."""

    def __init__(self, text_allowed: Any = None) -> None:
        self.original: dict[str, Any] = {}  # marker text -> value it replaced
        self.leaf_of: dict[str, int] = {}  # marker text -> leaf index
        self.text_allowed = text_allowed or (lambda path: True)  # may a value at this path be a string (schema)?

    def _new(self, leaf: int, value: Any, *, as_text: bool) -> str | int:
        index = len(self.original)
        assert index < 10000, "more than 10,000 markers in one render"
        marker: str | int = f"zq{index:04d}x" if as_text else _NUMBER_BASE + index
        self.original[str(marker)], self.leaf_of[str(marker)] = value, leaf
        return marker

    def carry(self, leaf: int, value: Any, path: KeyPath | None = None) -> Any:
        """`value` with its strings, numbers and `true`s replaced by markers (lists and maps descended), or None when
        nothing in it can carry one. `true` at `path` becomes a string marker (as truthy in a condition, visible in
        output) where the chart's schema allows a string; an empty string is left (a marker would be truthy)."""
        if (value is True and self.text_allowed(path)) or (isinstance(value, str) and value):
            return self._new(leaf, value, as_text=True)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._new(leaf, value, as_text=False)
        if isinstance(value, list) and value:
            carried = [self.carry(leaf, item) for item in value]
            if all(c is None for c in carried):
                return None
            return [item if c is None else c for item, c in zip(value, carried, strict=True)]
        if isinstance(value, Mapping) and value:
            items = {k: self.carry(leaf, v) for k, v in value.items()}
            return None if all(c is None for c in items.values()) else {
                k: (value[k] if c is None else c) for k, c in items.items()}
        return None

    def change(self, leaf: int, value: Any) -> Any:
        """A different value for a leaf: marked where it can be, otherwise negated, filled or emptied."""
        if isinstance(value, bool):
            return not value
        carried = self.carry(leaf, value)
        if carried is not None:
            return carried
        if isinstance(value, list) and value:
            return []
        marker = self._new(leaf, value, as_text=True)
        if isinstance(value, list):
            return [marker]
        return {str(marker): marker} if isinstance(value, Mapping) else marker  # an empty map; null or ""

    def found(self, text: str) -> set[int]:
        hits = _STRING_MARKER.findall(text) + _NUMBER_MARKER.findall(text)
        return {self.leaf_of[h] for h in hits if h in self.leaf_of}

    def _back(self, match: re.Match[str]) -> str:
        return go_text(self.original[match.group(0)]) if match.group(0) in self.original else match.group(0)

    def restore_text(self, text: str) -> str:
        return _NUMBER_MARKER.sub(self._back, _STRING_MARKER.sub(self._back, text))

    def restore(self, tree: Any) -> Any:
        """A canonical tree with each marker put back to the value it replaced, as a template prints it."""
        if isinstance(tree, dict):
            return {self.restore(k): self.restore(v) for k, v in tree.items()}
        if isinstance(tree, list):
            return [self.restore(v) for v in tree]
        if isinstance(tree, str):
            return go_text(self.original[tree]) if tree in self.original else self.restore_text(tree)
        return tree


# ---------------------------------------------------------------------------------------------------- the charts

def _canon(value: Any) -> Any:
    """Scalars as text: what was rendered, not the YAML type a template happened to print."""
    if isinstance(value, Mapping):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canon(v) for v in value]
    return value if isinstance(value, str) else go_text(value)


def _decoded(text: str) -> str:
    try:
        return "base64:" + base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return text


def _document(text: str) -> Any:
    """A ConfigMap's or Secret's file as its YAML/JSON structure when it is one (so a marker and the value it stands
    for compare equal however the YAML quotes them), else the text."""
    try:
        parsed = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return text
    return {"document": _canon(parsed)} if isinstance(parsed, dict | list) and parsed else text


class _Chart:
    """One pinned chart: rendered with fixed generators, and what each of its template files can reach."""

    def __init__(self, chart: str, version: str) -> None:
        self.root: Path = chart_dir(chart, version)
        self.name = str(yaml.safe_load((self.root / "Chart.yaml").read_text())["name"])
        self.sources: dict[str, str] = {}  # rendered path ("<chart>/templates/x.yaml") -> template source
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if path.is_file() and "templates" in relative.parts and path.suffix in (".yaml", ".yml", ".tpl", ".txt"):
                self.sources[f"{self.name}/{relative.as_posix()}"] = path.read_text()
        self.defines: dict[str, str] = {}  # define name -> its text up to the next define
        for source in self.sources.values():
            starts = list(_DEFINE.finditer(source))
            ends = [m.start() for m in starts[1:]] + [len(source)] * bool(starts)
            for start, end in zip(starts, ends, strict=True):
                self.defines[start.group(1)] = source[start.start():end]
        self.substitutions = 0
        self.pinned = helm.Chart.load(str(self.root))
        self.schema: Any = self.pinned.schema
        self.fixed = helm.Chart.load_archive(self._fixed_archive())
        self.checked = False
        self.recent: OrderedDict[tuple[str, str, str], Manifests | _RenderError] = OrderedDict()
        self._chains: dict[str, frozenset[KeyPath]] = {}

    def _fixed_archive(self) -> bytes:
        """The chart as an in-memory archive with Sprig's random generators replaced by fixed results."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=0) as archive:
            for path in sorted(self.root.rglob("*")):
                if not path.is_file():
                    continue
                data = path.read_bytes()
                if f"{self.name}/{path.relative_to(self.root).as_posix()}" in self.sources and (
                        b"genSelfSignedCert" in data or b"genCA" in data or b"genSignedCert" in data
                        or b"randAlphaNum" in data):
                    text, generators = _GENERATORS.subn(
                        f'dict "Cert" "{_GENERATED_CERT}" "Key" "{_GENERATED_KEY}"', data.decode())
                    text, random_texts = _RANDOM_TEXT.subn(rf'repeat \1 "{_GENERATED_CHAR}"', text)
                    self.substitutions += generators + random_texts
                    data = text.encode()
                info = tarfile.TarInfo(f"{self.name}/{path.relative_to(self.root).as_posix()}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    def chains(self, rendered: str) -> frozenset[KeyPath]:
        """The value paths the template of a rendered file spells (`.Values.a.b`, `index .Values "a" "b"`), in
        it, in the templates it includes (`include "name"`) and in the files it includes ($.Template.BasePath),
        template comments left out. Templates reach values only through such paths (and variables bound to them)."""
        if rendered not in self._chains:
            base = rendered.split("/templates/")[0] + "/templates"
            seen_defines: set[str] = set()
            seen_files = {rendered}
            texts = [self.sources.get(rendered, "")]
            pending = list(texts)
            while pending:
                text = pending.pop()
                for name in _INCLUDE.findall(text):
                    if name in self.defines and name not in seen_defines:
                        seen_defines.add(name)
                        pending.append(self.defines[name])
                        texts.append(self.defines[name])
                for name in _INCLUDE_FILE.findall(text):
                    included = f"{base}/{name.lstrip('/')}"
                    if included in self.sources and included not in seen_files:
                        seen_files.add(included)
                        pending.append(self.sources[included])
                        texts.append(self.sources[included])
            self._chains[rendered] = frozenset().union(*map(_chains_in, texts))
        return self._chains[rendered]

    def may_read(self, rendered: str, leaf: Leaf) -> bool:
        """Whether the template of a rendered file can read the leaf: in its scope (a subchart's templates see only
        their own subtree and `global`) it spells a path to the leaf, to an ancestor (a map it may take whole), or
        into it (an item of a list)."""
        scope = tuple(rendered.split("/templates/")[0].split("/")[2::2])  # "<chart>/charts/<a>/charts/<b>"
        if leaf.path[:len(scope)] == scope and len(leaf.path) > len(scope):
            path = leaf.path[len(scope):]
        elif leaf.path[0] == "global":
            path = leaf.path
        else:
            return False
        return any(path[:len(c)] == c or c[:len(path)] == path for c in self.chains(rendered))

    def objects(self, rendered: str, text: str, *, masked: bool = False) -> list[Obj]:
        """The canonical objects of one rendered file: values echo out, Secret data decoded, and (masked) checksum
        annotations out."""
        echo = VALUES_ECHOES.get(self.name)
        result = []
        for obj in parse_manifests({rendered: text}):
            meta = obj.get("metadata") or {}
            if echo and rendered == f"{self.name}/{echo[0]}" and obj.get("kind") == echo[1] \
                    and meta.get("name") == echo[2]:
                inner = obj
                for segment in echo[3][:-1]:
                    inner = inner.get(segment) or {}
                inner.pop(echo[3][-1], None)
            if obj.get("kind") == "Secret" and isinstance(obj.get("data"), Mapping):
                obj["data"] = {k: _decoded(str(v)) for k, v in obj["data"].items()}
            if masked and obj.get("kind") in ("Secret", "ConfigMap"):
                for part in ("data", "stringData"):
                    if isinstance(obj.get(part), Mapping):
                        obj[part] = {k: _document(str(v).removeprefix("base64:")) for k, v in obj[part].items()}
            canonical = _canon(obj)
            if masked:
                _mask_checksums(canonical)
            result.append(canonical)
        return result

    def readers(self, leaf: Leaf) -> list[str]:
        """The template files that spell a path to the leaf itself (not only to all values, as the echo does)."""
        found = []
        for rendered, text in self.sources.items():
            scope = tuple(rendered.split("/templates/")[0].split("/")[2::2])
            path = leaf.path[len(scope):] if leaf.path[:len(scope)] == scope else ()
            if path and any(c and (path[:len(c)] == c or c[:len(path)] == path) for c in _chains_in(text)):
                found.append(rendered)
        return found

    def text_allowed(self, path: KeyPath | None) -> bool:
        """Whether the chart's values schema (if any) lets the value at `path` be a string (None: inside a list)."""
        if self.schema is None:
            return True
        if path is None:
            return False
        node: Any = self.schema
        for segment in path:
            node = self._resolved(node).get("properties", {}).get(segment)
            if node is None:
                return True  # below what the schema describes
        kind = self._resolved(node).get("type")
        return kind is None or kind == "string" or (isinstance(kind, list) and "string" in kind)

    def _resolved(self, node: Any) -> Any:
        """A schema node with its local `$ref`s followed."""
        for _ in range(20):
            ref = node.get("$ref") if isinstance(node, Mapping) else None
            if not (isinstance(ref, str) and ref.startswith("#/")):
                break
            target: Any = self.schema
            for segment in ref[2:].split("/"):
                target = target.get(segment, {}) if isinstance(target, Mapping) else {}
            node = target
        return node if isinstance(node, Mapping) else {}

    def is_echo(self, rendered: str) -> bool:
        echo = VALUES_ECHOES.get(self.name)
        return echo is not None and rendered == f"{self.name}/{echo[0]}"


@functools.cache
def _chains_in(text: str) -> frozenset[KeyPath]:
    return frozenset(tuple(f for f in fields.split(".") if f) + tuple(_LITERAL.findall(literals))
                     for fields, literals in _CHAIN.findall(_COMMENT.sub("", text)))


def _mask_checksums(tree: Any) -> None:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "annotations" and isinstance(value, dict):
                for name in [n for n in value if "checksum" in n]:
                    value[name] = "<checksum>"
            else:
                _mask_checksums(value)
    elif isinstance(tree, list):
        for item in tree:
            _mask_checksums(item)


@functools.cache
def chart_of(chart: str, version: str) -> _Chart:
    """A pinned chart, loaded once: its sources, what each template file reads, and its fixed-generator copy."""
    return _Chart(chart, version)


# -------------------------------------------------------------------------------------------------------- analysis

@dataclass(frozen=True)
class ReleaseInputs:
    """What the Helm provider renders: the registered chart, version, release name, namespace and values."""

    chart: str
    version: str
    name: str
    namespace: str
    values_json: str

    @property
    def values(self) -> Obj:
        loaded: Obj = json.loads(self.values_json)
        return loaded


@dataclass
class Analysis:
    """Everything learnt about one release: each leaf's verdict and what it cost."""

    inputs: ReleaseInputs
    proof: dict[str, str] = field(default_factory=dict)  # leaf key -> how its effect was shown
    findings: dict[str, str] = field(default_factory=dict)  # leaf key -> why it is a defect
    renders: int = 0
    seconds: float = 0.0  # CPU


class _RenderError(Exception):
    """The chart rejected the values: by its values.schema.json (which shows only that the key is declared), or in a
    template (which shows that a template reads it)."""

    @property
    def by_schema(self) -> bool:
        return "schema" in str(self)


class _Release:
    def __init__(self, inputs: ReleaseInputs, report: Analysis) -> None:
        self.inputs, self.report = inputs, report
        self.chart = chart_of(inputs.chart, inputs.version)
        self.values = inputs.values
        self.leaves = leaves(self.values)
        if inputs not in _BASES:
            _BASES[inputs] = self.render(self.values)
        self.base = _BASES[inputs]
        if not self.chart.checked:
            self._check_fixed_generators()
        text = "\n".join(self.base.values())
        assert not _ANY_MARKER.search(text), (
            f"{inputs.name}: the plain render already contains marker-like text; change the markers")

    def render(self, values: Obj, *, chart: Any = None, cached: bool = True) -> Manifests:
        """The chart's render of these values (NOTES.txt left out). Renders are remembered per chart for a while:
        releases that differ only in values the markers replace (replicas, sizes) share their marker render."""
        key = (self.inputs.name, self.inputs.namespace, json.dumps(values, sort_keys=True))
        recent = self.chart.recent
        if cached and chart is None and key in recent:
            recent.move_to_end(key)
        else:
            self.report.renders += 1
            try:
                manifests = (chart or self.chart.fixed).render(
                    values=values, name=self.inputs.name, namespace=self.inputs.namespace, is_install=True)
                result: Manifests | _RenderError = {
                    path: text for path, text in manifests.items() if not path.endswith("NOTES.txt")}
            except Exception as error:  # any render error: the chart rejected these values
                result = _RenderError((str(error).strip().splitlines() or [repr(error)])[0][:240])
            if chart is not None or not cached:
                if isinstance(result, _RenderError):
                    raise result
                return result
            recent[key] = result
            if len(recent) > 12:
                recent.popitem(last=False)
        found = recent[key]
        if isinstance(found, _RenderError):
            raise found
        return found

    def _check_fixed_generators(self) -> None:
        """Once per chart: fixed generators change nothing but the generated material, and make renders repeatable."""
        assert self.render(self.values, cached=False) == self.base, f"{self.inputs.chart}: two renders differ"
        if self.chart.substitutions:
            pinned = self.render(self.values, chart=self.chart.pinned)
            assert set(pinned) == set(self.base), f"{self.inputs.chart}: fixed generators change the files rendered"
            generated = {_GENERATED_CERT, _GENERATED_KEY}
            for path in self.base:
                if pinned[path] == self.base[path]:
                    continue
                ours, theirs = self.chart.objects(path, self.base[path]), self.chart.objects(path, pinned[path])
                for where, value in _differences(ours, theirs):
                    text = value.removeprefix("base64:") if isinstance(value, str) else ""
                    plain = _decoded(text).removeprefix("base64:")
                    assert (text in generated or plain in generated or set(text) == {_GENERATED_CHAR}
                            or set(plain) == {_GENERATED_CHAR} or any("checksum" in w for w in where)), (
                        f"{self.inputs.chart}: fixed generators change {path} at {where}")
        self.chart.checked = True

    def changed_files(self, manifests: Manifests) -> set[str]:
        changed = set(manifests) ^ set(self.base)
        for path in set(manifests) & set(self.base):
            if manifests[path] != self.base[path] and not (
                    self.chart.is_echo(path)
                    and self.chart.objects(path, manifests[path]) == self.chart.objects(path, self.base[path])):
                changed.add(path)
        return changed


def _differences(a: Any, b: Any, where: KeyPath = ()) -> list[tuple[KeyPath, Any]]:
    """(path, value in a) where two canonical trees differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b))
                for d in (_differences(a[k], b[k], (*where, k)) if k in a and k in b else [((*where, k), a.get(k))])]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, (*where, str(i)))]
    return [] if a == b else [(where, a)]


def _marker_stage(release: _Release, group: list[int], proof: dict[int, str]) -> list[int]:
    """Markers for every leaf of the group that can carry one; the leaves not shown that way are returned.

    A file whose markers, put back, do not give the plain render (a marker changed a branch) proves nothing for
    the markers in it: their leaves are split in halves and tried again, and a leaf alone that changes the render
    has shown its effect. A render error splits the group the same way."""
    markers = _Markers(release.chart.text_allowed)
    values, carried, rest = release.values, [], []
    for i in group:
        replacement = markers.carry(i, release.leaves[i].value, release.leaves[i].path)
        if replacement is None:
            rest.append(i)
        else:
            values = _set(values, release.leaves[i].path, replacement)
            carried.append(i)
    if not carried:
        return rest
    try:
        manifests = release.render(values)
    except _RenderError as error:
        if len(carried) == 1:
            if error.by_schema:  # declared, but what reads it is for the next stage to show
                return [*rest, carried[0]]
            proof[carried[0]] = f"a template rejects another value ({error})"
            return rest
        return rest + _split(_marker_stage, release, carried, proof)
    chart, found, suspects = release.chart, set(), set()
    for path in set(manifests) | set(release.base):
        text, base = manifests.get(path), release.base.get(path)
        if text == base:
            continue  # the markers changed nothing here: nothing to find
        if text is not None and base is not None:
            if not chart.is_echo(path) and markers.restore_text(text) == base:
                found |= markers.found(text)
                continue
            objects = chart.objects(path, text, masked=True)
            if markers.restore(objects) == chart.objects(path, base, masked=True):
                found |= markers.found(json.dumps(objects))
                continue
            suspects |= markers.found(json.dumps(objects))
        if len(carried) == 1:  # alone, and this file is not the plain render with the marker put back
            proof[carried[0]] = f"changes {path}"
            return rest
    for i in carried:
        if i in found:
            proof[i] = "its marker is rendered"
    retry = [i for i in carried if i in suspects and i not in found]
    rest += [i for i in carried if i not in found and i not in suspects]
    return rest + (_split(_marker_stage, release, retry, proof) if len(retry) > 1 else
                   _marker_stage(release, retry, proof) if retry else [])


def _split(stage: Any, release: _Release, group: list[int], proof: dict[int, str]) -> list[int]:
    half = len(group) // 2
    return stage(release, group[:half], proof) + stage(release, group[half:], proof)


def _change_stage(release: _Release, group: list[int], proof: dict[int, str]) -> list[int]:
    """Change every leaf of the group at once and credit each changed file to the one changed leaf that can reach
    it; the rest is split and tried again. Returned: the leaves that, changed alone, change nothing."""
    markers = _Markers(release.chart.text_allowed)
    values = release.values
    for i in group:
        values = _set(values, release.leaves[i].path, markers.change(i, release.leaves[i].value))
    try:
        changed = release.changed_files(release.render(values))
    except _RenderError as error:
        if len(group) == 1:
            if error.by_schema:
                return group
            proof[group[0]] = f"a template rejects another value ({error})"
            return []
        changed = set()
    if len(group) == 1:
        if changed:
            proof[group[0]] = f"changes {sorted(changed)[0]}"
            return []
        return group
    for path in sorted(changed):
        readers = [i for i in group if release.chart.may_read(path, release.leaves[i])]
        if len(readers) == 1:
            proof.setdefault(readers[0], f"changes {path}")
    unproven = [i for i in group if i not in proof]
    half = len(unproven) // 2
    if not unproven:
        return []
    if half == 0:
        return _change_stage(release, unproven, proof)
    return _change_stage(release, unproven[:half], proof) + _change_stage(release, unproven[half:], proof)


def analyse(inputs: ReleaseInputs) -> Analysis:
    """Each leaf of the release: how its effect on the render was shown, or why it is a defect."""
    return _analyse(inputs)


@functools.cache
def _analyse(inputs: ReleaseInputs) -> Analysis:
    started = time.process_time()
    report = Analysis(inputs)
    release = _Release(inputs, report)
    allowed = ALLOWED.get(inputs.chart, {})
    checked = [i for i, leaf in enumerate(release.leaves) if leaf.key not in allowed]
    proof: dict[int, str] = {}
    rest = _marker_stage(release, checked, proof)
    no_effect = _change_stage(release, rest, proof) if rest else []
    for i, leaf in enumerate(release.leaves):
        if leaf.key in allowed:
            report.proof[leaf.key] = f"allowed: {allowed[leaf.key]}"
        elif i in no_effect:
            report.findings[leaf.key] = _why(release.chart, leaf)
        else:
            report.proof[leaf.key] = proof[i]
    report.seconds = time.process_time() - started
    return report


_MISSING: Final = object()


def _why(chart: _Chart, leaf: Leaf) -> str:
    defaults: Any = chart.pinned.merge_values({})
    for segment in leaf.path:
        defaults = defaults.get(segment, _MISSING) if isinstance(defaults, Mapping) else _MISSING
    declared = ("not declared in the chart's values.yaml" if defaults is _MISSING else
                f"declared in the chart's values.yaml (default {json.dumps(defaults)[:60]})")
    readers = chart.readers(leaf)
    if not readers:
        return f"{declared}, and no template reads it: changing it changes nothing rendered"
    where = readers[0].split("/", 1)[1] + (f" and {len(readers) - 1} more" if len(readers) > 1 else "")
    return (f"{declared}; {where} reads it, but changing it changes nothing rendered with this stack's other "
            "values: what reads it is switched off")


def releases_of(stack: str) -> dict[str, ReleaseInputs]:
    """Release name -> the inputs the plan registered, for every Helm release of the stack."""
    return {r.inputs["name"]: ReleaseInputs(r.inputs["chart"], r.inputs["version"], r.inputs["name"],
                                            r.inputs["namespace"], json.dumps(r.inputs["values"], sort_keys=True))
            for r in plan_of(stack).of_type(RELEASE)}


_BASES: dict[ReleaseInputs, Manifests] = {}  # the plain render of each release, shared with `workloads`


_WORKLOAD_KIND: Final = re.compile(r"^kind:\s*(?:Deployment|StatefulSet|DaemonSet|Job|CronJob)\s*$", re.MULTILINE)


@functools.cache
def workloads(inputs: ReleaseInputs) -> list[Obj]:
    """The Deployments, StatefulSets, DaemonSets, Jobs and CronJobs of a release's plain render, the one the analysis
    compares against: the pinned chart with its random generators fixed (checked to change nothing else). Only the
    documents that declare such a kind are parsed (CRDs make up most of some renders)."""
    if inputs not in _BASES:
        chart = chart_of(inputs.chart, inputs.version)
        _BASES[inputs] = {path: text for path, text in chart.fixed.render(
            values=inputs.values, name=inputs.name, namespace=inputs.namespace, is_install=True).items()
            if not path.endswith("NOTES.txt")}
    documents = {f"{path}#{i}": part for path, text in _BASES[inputs].items() if _WORKLOAD_KIND.search(text)
                 for i, part in enumerate(SEPARATOR.split(text)) if _WORKLOAD_KIND.search(part)}
    return parse_manifests(documents)
