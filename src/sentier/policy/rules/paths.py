"""Attribute paths in rules: ``ingress[*].cidr_blocks``, ``metadata.annotations."a/b"``.

A key applied to a list applies to every element, so one rule reads Terraform blocks (lists)
and attribute objects (maps) alike, and plan JSON (where every block is a list) too.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from sentier.policy.model import Path, Resource

_TOKEN = re.compile(r'"([^"]*)"|\[(\*|\d+)\]|([^.\[\]"]+)|(\.)')


@lru_cache(maxsize=4096)
def parse_path(text: str) -> tuple[str | int, ...]:
    """``a.b[0].c[*]`` -> ("a", "b", 0, "c", "*"); ``""`` and ``"."`` are the base itself."""
    if text in ("", "."):
        return ()
    out: list[str | int] = []
    for quoted, bracket, bare, dot in _TOKEN.findall(text):
        if dot:
            continue
        if quoted:
            out.append(quoted)
        elif bracket:
            out.append("*" if bracket == "*" else int(bracket))
        elif bare:
            out.append(bare)
    return tuple(out)


def resolve(resource: Resource, base: Path, rel: tuple[str | int, ...]) -> list[tuple[Path, Any]]:
    """Every ``(absolute path, value)`` that ``rel`` reaches from ``base``; empty if absent."""
    start = resource.get(base) if base else resource.attrs
    if start is None and base:
        return []
    current: list[tuple[Path, Any]] = [(base, start)]
    for step in rel:
        following: list[tuple[Path, Any]] = []
        for path, value in current:
            if step == "*":
                if isinstance(value, list):
                    following.extend(((*path, i), v) for i, v in enumerate(value))
                elif isinstance(value, dict):
                    following.extend(((*path, k), v) for k, v in value.items())
            elif isinstance(step, int):
                if isinstance(value, list) and step < len(value):
                    following.append(((*path, step), value[step]))
            elif isinstance(value, dict):
                if step in value:
                    following.append(((*path, step), value[step]))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict) and step in item:
                        following.append(((*path, i, step), item[step]))
        current = following
        if not current:
            return []
    return current


def elements(resource: Resource, base: Path, rel: tuple[str | int, ...]) -> list[Path]:
    """Element bases for iteration: each list item reached by ``rel`` (a lone map counts once)."""
    out: list[Path] = []
    for path, value in resolve(resource, base, rel):
        if isinstance(value, list):
            out.extend((*path, i) for i, item in enumerate(value) if isinstance(item, dict))
        elif isinstance(value, dict):
            out.append(path)
    return out
