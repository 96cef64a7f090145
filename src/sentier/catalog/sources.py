"""One folder, one source: which catalog source a set of paths is ingested as.

Two sources reading the same files would each claim every entity, so the second would store
nothing but conflicts (and unregistering it would remove nothing of its own). So paths that a
source already covers exactly are ingested *as that source* (the CLI's ``catalog ingest`` of
a folder registered through the API refreshes it), and paths that overlap another source's
(one inside the other) are refused, naming it. The CLI and the API apply this same rule.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier.catalog.problems import CatalogError, Problem
from sentier.catalog.pushed import source_directory
from sentier.store.models import CatalogSource


class SourceOverlap(CatalogError):
    """Paths already covered by another source; ``source`` names it."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(Problem("error", message, code="source-overlap"))
        self.source = source


def default_name(roots: Sequence[Path]) -> str:
    """The name of a source ingested without one: its resolved paths."""
    return ",".join(str(Path(root).resolve()) for root in roots)


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def _stored_roots(source: CatalogSource) -> list[str]:
    directory = source_directory(source.type, source.target)
    if directory is not None:
        return [os.path.realpath(directory)]
    return [os.path.realpath(line) for line in source.target.split("\n") if line]


def source_for(session: Session, roots: Sequence[Path], name: str | None = None) -> str:
    """The name under which ``roots`` are to be ingested.

    - ``name`` when a source of that name exists (a refresh: its roots are its own);
    - the source covering exactly these paths, when no name is asked for (``name`` None);
    - else ``name`` (or :func:`default_name`), when no other source covers any of them.

    Raises :class:`SourceOverlap` naming the other source when these paths are already that
    source's under another name, or lie inside its paths, or contain them.
    """
    if name is not None and session.scalar(
        select(CatalogSource.id).where(CatalogSource.name == name)
    ):
        return name
    fallback = default_name(roots)
    if name is None and session.scalar(
        select(CatalogSource.id).where(CatalogSource.name == fallback)
    ):
        return fallback
    wanted = [os.path.realpath(root) for root in roots]
    for source in session.scalars(select(CatalogSource).order_by(CatalogSource.id)):
        theirs = _stored_roots(source)
        if theirs and source.type != "push" and sorted(set(theirs)) == sorted(set(wanted)):
            if name is None:
                return source.name
            raise SourceOverlap(
                f"{', '.join(wanted)} is already the catalog source {source.name}: "
                "refresh that source, or unregister it first",
                source.name,
            )
        _refuse_overlap(source, theirs, wanted)
    return name or fallback


def _refuse_overlap(source: CatalogSource, theirs: list[str], wanted: list[str]) -> None:
    for mine in wanted:
        for other in theirs:
            if _within(mine, other) or _within(other, mine):
                raise SourceOverlap(
                    f"{mine} overlaps the catalog source {source.name} ({other}): "
                    "two sources reading the same files would conflict on every entity; "
                    f"ingest {source.name} instead, or unregister it first",
                    source.name,
                )


def check_move(session: Session, source_id: int, roots: Sequence[Path]) -> None:
    """Refuse to point source ``source_id`` at ``roots`` when another source's paths are the
    same, hold them or lie inside them (:class:`SourceOverlap` naming it): the same rule as
    registering, for a source that changes its paths."""
    wanted = [os.path.realpath(root) for root in roots]
    others = select(CatalogSource).where(CatalogSource.id != source_id).order_by(CatalogSource.id)
    for source in session.scalars(others):
        _refuse_overlap(source, _stored_roots(source), wanted)
