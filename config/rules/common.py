"""What the config rules of several groups share: the problem-yielding rule types, IPv4 parsing, the region form.

Group modules (`config.rules.<group>`) import this and `config.model`, never the `config.rules` package, whose
`__init__` only assembles them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Final

from config.model import Problem, StackConfig

Rule = Callable[[StackConfig], Iterator[Problem]]
DatedRule = Callable[[StackConfig, date], Iterator[Problem]]  # its verdict depends on the date; it never reads it

# An AWS region name (us-east-1, us-gov-west-1, ...): the stack's `aws:region` and `backup.drRegion`.
REGION: Final = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")


def parse_network(value: str) -> ipaddress.IPv4Network | None:
    """The IPv4 network `value` names, or None when it names none (the rule reports it)."""
    try:
        return ipaddress.IPv4Network(value)
    except ValueError:
        return None
