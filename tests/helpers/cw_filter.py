"""A small evaluator of CloudWatch Logs JSON filter patterns, for testing the alarm patterns against sample events.

Covers the subset the platform writes (components/observability/alarm_specs.py): `{ <expr> }` where an expression is a
comparison `$.a.b[0] <op> <value>` or a parenthesised expression, joined by `&&` or `||`. Mixing `&&` and `||` without
parentheses is refused rather than guessed. String values are quoted and may contain `*` (any characters); numbers
compare numerically. A selector that does not resolve, or resolves to the wrong type, never matches - as in
CloudWatch, where a JSON pattern only matches events that have the field.
Ref: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(r'\s*(\{|\}|\(|\)|&&|\|\||!=|>=|<=|=|>|<|"(?:[^"\\]|\\.)*"|\$[\w.\[\]-]*|[^\s(){}&|=!<>]+)')
Predicate = Callable[[Any], bool]


class PatternError(ValueError):
    pass


def _tokens(pattern: str) -> list[str]:
    out, pos = [], 0
    while pos < len(pattern):
        if pattern[pos:].strip() == "":
            break
        m = _TOKEN.match(pattern, pos)
        if not m:
            raise PatternError(f"cannot read {pattern[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _resolve(event: Any, selector: str) -> tuple[bool, Any]:
    value = event
    for name, index in re.findall(r"\.([\w-]+)|\[(\d+)\]", selector[1:]):
        if name:
            if not isinstance(value, dict) or name not in value:
                return False, None
            value = value[name]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return False, None
            value = value[int(index)]
    return True, value


def _comparison(selector: str, op: str, raw: str) -> Predicate:
    if raw.startswith('"'):
        text = json.loads(raw)
        regex = re.compile("^" + ".*".join(re.escape(part) for part in text.split("*")) + "$", re.DOTALL)
        if op not in ("=", "!="):
            raise PatternError(f"{op} on a string value")

        def match_string(event: Any) -> bool:
            found, value = _resolve(event, selector)
            if not found or not isinstance(value, str):
                return False
            return bool(regex.match(value)) == (op == "=")
        return match_string
    number = float(raw)
    compare: dict[str, Callable[[float, float], bool]] = {
        "=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
        ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b}

    def match_number(event: Any) -> bool:
        found, value = _resolve(event, selector)
        if not found or isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return compare[op](float(value), number)
    return match_number


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.pos = tokens, 0

    def take(self, expected: str | None = None) -> str:
        if self.pos >= len(self.tokens):
            raise PatternError("unexpected end of pattern")
        token = self.tokens[self.pos]
        if expected is not None and token != expected:
            raise PatternError(f"expected {expected!r}, got {token!r}")
        self.pos += 1
        return token

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def expression(self) -> Predicate:
        terms, joiners = [self.term()], set()
        while self.peek() in ("&&", "||"):
            joiners.add(self.take())
            terms.append(self.term())
        if len(joiners) > 1:
            raise PatternError("&& and || mixed without parentheses")
        if joiners == {"||"}:
            return lambda event: any(t(event) for t in terms)
        return lambda event: all(t(event) for t in terms)

    def term(self) -> Predicate:
        if self.peek() == "(":
            self.take("(")
            inner = self.expression()
            self.take(")")
            return inner
        selector = self.take()
        if not selector.startswith("$"):
            raise PatternError(f"expected a $ selector, got {selector!r}")
        op = self.take()
        if op not in ("=", "!=", ">", "<", ">=", "<="):
            raise PatternError(f"unknown operator {op!r}")
        return _comparison(selector, op, self.take())


def compile_pattern(pattern: str) -> Predicate:
    """A predicate over a decoded JSON event; raises PatternError for anything outside the supported subset."""
    parser = _Parser(_tokens(pattern))
    parser.take("{")
    predicate = parser.expression()
    parser.take("}")
    if parser.peek() is not None:
        raise PatternError(f"trailing {parser.peek()!r}")
    return predicate


def matches(pattern: str, message: str) -> bool:
    """Whether a log event's message matches; a non-JSON message never matches a JSON pattern."""
    predicate = compile_pattern(pattern)
    try:
        event = json.loads(message)
    except ValueError:
        return False
    return predicate(event)
