"""Network semantics rules need: which sources mean "the internet", which ports a spec opens.

AWS and GCP CIDRs are judged as networks: ``0.0.0.0/0`` and ``::/0`` are the world, and a
``/0`` with host bits set (``1.0.0.0/0``) is an invalid value the providers reject, not a
second way to say "anywhere". Azure security rules take free-form prefixes, where ``*``,
``Internet``, ``any``, ``0.0.0.0`` and any ``x/0`` all mean the internet.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from sentier.policy.model import Unknown

AZURE_WORLD = {"*", "internet", "any", "0.0.0.0", "0.0.0.0/0", "::/0", "<nw>/0", "/0"}


def is_world_cidr(value: Any, *, lenient: bool = False) -> bool | None:
    """True for a source that means anywhere; None when unknown."""
    if isinstance(value, Unknown):
        return None
    if not isinstance(value, str):
        return False
    text = value.strip().lower()
    if lenient:
        return text in AZURE_WORLD or text.endswith("/0")
    if text in ("0.0.0.0/0", "::/0", "::0/0"):
        return True
    if text.endswith("/0"):
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError:
            return False
        return network.prefixlen == 0
    return False


def any_world(values: Any, *, lenient: bool = False) -> bool | None:
    items = values if isinstance(values, list) else [values]
    unknown = False
    for item in items:
        result = is_world_cidr(item, lenient=lenient)
        if result:
            return True
        if result is None:
            unknown = True
    return None if unknown else False


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def port_spec_covers(spec: Any, port: int) -> bool | None:
    """Does a port spec (``"*"``, ``"22"``, ``"20-30"``, ``"21, 22-23"``, lists) include port?"""
    if isinstance(spec, Unknown):
        return None
    if spec is None:
        return False
    if isinstance(spec, list):
        unknown = False
        for item in spec:
            result = port_spec_covers(item, port)
            if result:
                return True
            if result is None:
                unknown = True
        return None if unknown else False
    if isinstance(spec, bool):
        return False
    if isinstance(spec, int | float):
        return int(spec) == port
    text = str(spec).strip().lower()
    if text in ("*", "any", "all", "-1"):
        return True
    for part in text.split(","):
        match = _RANGE.match(part)
        if not match:
            continue
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if low <= port <= high:
            return True
    return False


def range_covers(low: Any, high: Any, port: int, protocol: Any = None) -> bool | None:
    """AWS-style from/to ports; protocol ``-1``/``all`` opens every port whatever the range."""
    if isinstance(protocol, str) and protocol.strip().lower() in ("-1", "all"):
        return True
    if isinstance(low, Unknown) or isinstance(high, Unknown):
        return None
    try:
        start, end = int(low), int(high)
    except (TypeError, ValueError):
        return None
    if start == -1 or end == -1:
        return True
    return start <= port <= end
