"""Sections other domains add to the entity and group pages (findings, costs, incidents...).

A section is a function of (session, entity ref, entity kind) returning ``None`` (nothing to
show) or a ``Section``: a title, a template under ``web/templates/`` and its context. The same
data is in the API (``json_url``), as every portal page has a JSON twin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session


@dataclass
class Section:
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    json_url: str | None = None


SectionFn = Callable[[Session, str, str], Section | None]

# Filled by each domain's page module at import (see web/pages/__init__.py).
ENTITY_SECTIONS: list[SectionFn] = []


def sections_for(session: Session, ref: str, kind: str) -> list[Section]:
    found = []
    for section in ENTITY_SECTIONS:
        result = section(session, ref, kind)
        if result is not None:
            found.append(result)
    return found
