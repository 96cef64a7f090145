"""Ingestion as reconciliation: a source's files in, the catalog brought in line, atomically.

Unchanged files (same SHA-256, same placeholder targets) are not parsed again; entities are
compared by content hash, so a re-ingestion writes only what changed. Entities that disappeared
from the source are removed. Every change goes to the outbox in the same transaction.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Queue
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from sentier import events
from sentier.catalog.boundary import is_within, root_of
from sentier.catalog.descriptors import locate_in_file
from sentier.catalog.discovery import walk_descriptors
from sentier.catalog.problems import Problem
from sentier.catalog.pushed import source_directory
from sentier.catalog.reader import ParsedEntity, ParsedFile, read_descriptor
from sentier.catalog.sources import source_for
from sentier.store import bulk_insert
from sentier.store.ids import uuid7
from sentier.store.models import CatalogFile, CatalogSource, Entity, EntitySearch, Relation

ProgressCallback = Callable[[int, int], None]
BATCH_FILES = 500
_CHUNK = 500


@dataclass
class IngestReport:
    """What an ingestion did and found; ``ok`` is false when any error was found."""

    source: str
    files_total: int = 0
    files_parsed: int = 0
    files_removed: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    dangling: int = 0
    problems: list[Problem] = field(default_factory=list)
    # Why the source was not reconciled at all (it suddenly held nothing): its entities stay.
    failure: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "files": self.files_total,
            "files_parsed": self.files_parsed,
            "files_removed": self.files_removed,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "dangling_relations": self.dangling,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            **({"error": self.failure} if self.failure else {}),
        }


@dataclass(slots=True)
class _Existing:
    id: str
    content_hash: str
    file_id: int | None
    owner_ref: str | None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _file_digest(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


# After this many changed entities, table statistics are refreshed: without it PostgreSQL
# plans the next queries (dangling relations, lists) as if the tables were still empty.
ANALYZE_AFTER = 5000


def _refresh_statistics(session: Session) -> None:
    for table in ("entities", "relations", "entity_search", "catalog_files"):
        session.execute(text(f"ANALYZE {table}"))


def source_id_of(session: Session, name: str) -> int | None:
    return session.scalar(select(CatalogSource.id).where(CatalogSource.name == name))


def get_or_create_source(
    session: Session, name: str, target: str, type: str = "path"
) -> CatalogSource:
    source = session.scalar(select(CatalogSource).where(CatalogSource.name == name))
    if source is None:
        source = CatalogSource(name=name, target=target, type=type)
        session.add(source)
        session.flush()
    return source


class _BatchWriter:
    """Writes batches on a thread of its own while the caller reads and parses the next ones.

    Parsing is Python work and writing mostly waits on the database (SQLite's C code or the
    PostgreSQL server, both releasing the GIL), so on two cores the two overlap. Only this
    thread touches the session while it runs; a failure is re-raised in the caller.
    """

    def __init__(self, write: Callable[[list[tuple[ParsedFile, int | None]]], None]) -> None:
        self._write = write
        self._queue: Queue[list[tuple[ParsedFile, int | None]] | None] = Queue(maxsize=2)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sentier-catalog-writer")
        self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self.error is None:
                try:
                    self._write(batch)
                except BaseException as error:  # noqa: BLE001 - handed to the caller
                    self.error = error

    def put(self, batch: list[tuple[ParsedFile, int | None]]) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(batch)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error


class _Reconciler:
    """One ingestion run of one source; each phase is a method so that each stays readable."""

    def __init__(self, session: Session, source: CatalogSource, report: IngestReport) -> None:
        self.session = session
        self.source = source
        self.report = report
        self.now = datetime.now(UTC)
        self.stored_files = {
            row.path: row
            for row in session.execute(
                select(
                    CatalogFile.id,
                    CatalogFile.path,
                    CatalogFile.sha256,
                    CatalogFile.dependencies,
                    CatalogFile.location_targets,
                    CatalogFile.problems,
                    CatalogFile.entity_count,
                    CatalogFile.entity_refs,
                ).where(CatalogFile.source_id == source.id)
            )
        }
        self.existing: dict[str, _Existing] = {
            row.ref: _Existing(row.id, row.content_hash, row.file_id, row.owner_ref)
            for row in session.execute(
                select(
                    Entity.ref, Entity.id, Entity.content_hash, Entity.file_id, Entity.owner_ref
                ).where(Entity.source_id == source.id)
            )
        }
        self.unchanged_file_ids: set[int] = set()
        # Paths that could not be read this time (a missing root, an unreadable directory or
        # file): what was stored from them is kept, not taken for removed.
        self.lost: list[str] = []
        self.files_read = 0
        self.seen: dict[str, tuple[str, int]] = {}  # written entities (writer thread)
        self.claimed: dict[str, str] = {}  # ref -> where first defined (reading thread)
        self.reached: set[str] = set()
        self.pending_events: list[events.PendingEvent] = []
        self.unchanged_in_files = 0  # counted by the reading thread, added at the end

    def _lose(self, path: Path) -> None:
        self.lost.extend(
            {os.path.abspath(path), os.path.realpath(path)}  # noqa: PTH100 - as stored
        )

    def kept_file_ids(self) -> set[int]:
        """Stored files under a path that could not be read: kept with their entities."""
        if not self.lost:
            return set()
        tops = [top.rstrip(os.sep) for top in self.lost]
        return {
            row.id
            for path, row in self.stored_files.items()
            if any(path == top or path.startswith(top + os.sep) for top in tops)
        }

    @property
    def found_nothing(self) -> bool:
        """Nothing read where entities were stored: a vanished, unreadable or emptied source
        is far likelier a mistake (an unmounted disk, a wrong checkout) than the wish to
        remove every entity, which unregistering the source expresses."""
        return self.files_read == 0 and bool(self.existing)

    def _is_unchanged(self, stored: Any, digest: str, top: Path) -> bool:
        if stored is None or stored.sha256 != digest:
            return False
        # A dependency outside the root (stored before roots were enforced) means parse again.
        return all(
            is_within(p, top) and _file_digest(p) == sha
            for p, sha in (stored.dependencies or {}).items()
        )

    # -- phase 1: read every reachable file, parse the changed ones, write them in batches ----
    def read_all(
        self, roots: Sequence[Path], progress: ProgressCallback | None, boundary: Path | None
    ) -> None:
        queue: deque[tuple[Path, str, Path]] = deque()
        for root in roots:
            if not root.exists():
                self.report.problems.append(
                    Problem("error", "no such file or directory", file=str(root), code="missing")
                )
                self._lose(root)
                continue
            origin = f"file:{root.resolve()}"
            top = boundary if boundary is not None else root_of(root)
            unreadable: list[OSError] = []
            found = [(path, origin, top) for path in walk_descriptors(root, unreadable)]
            for error in unreadable:
                where = error.filename or str(root)
                self.report.problems.append(
                    Problem(
                        "error",
                        f"cannot read this directory: {error.strerror or error}",
                        file=str(where),
                        code="unreadable",
                    )
                )
                self._lose(Path(where))
            if not found and not unreadable:
                self.report.problems.append(
                    Problem(
                        "warning",
                        "no catalog-info.yaml or *.catalog.yaml file found here",
                        file=str(root),
                        code="empty",
                    )
                )
            queue.extend(found)
        batch: list[tuple[ParsedFile, int | None]] = []
        writer = _BatchWriter(self._write_batch)
        try:
            self._walk(queue, batch, writer, progress)
        finally:
            writer.close()
        self.report.files_total = len(self.reached)

    def _walk(
        self,
        queue: deque[tuple[Path, str, Path]],
        batch: list[tuple[ParsedFile, int | None]],
        writer: _BatchWriter,
        progress: ProgressCallback | None,
    ) -> None:
        while queue:
            path, origin, top = queue.popleft()
            key = str(path)
            if key in self.reached:
                continue  # a Location cycle, or a file reached twice: read once
            self.reached.add(key)
            if path.is_symlink() and not is_within(key, top):
                # A walked descriptor that is a link to elsewhere would let whoever commits to
                # a registered repository make the server read any file it can.
                self.report.problems.append(
                    Problem(
                        "error",
                        "a symbolic link to a file outside the source's root: not read",
                        file=key,
                        code="outside-root",
                    )
                )
                continue
            try:
                data = path.read_bytes()
            except OSError as error:
                self.report.problems.append(
                    Problem("error", f"cannot read: {error.strerror}", file=key, code="unreadable")
                )
                self._lose(path)
                continue
            self.files_read += 1
            stored = self.stored_files.get(key)
            digest = hashlib.sha256(data).hexdigest()
            if stored is not None and self._is_unchanged(stored, digest, top):
                self.unchanged_file_ids.add(stored.id)
                self.unchanged_in_files += stored.entity_count
                self.report.problems.extend(Problem.from_dict(p) for p in stored.problems or [])
                self._claim_unchanged(key, stored.entity_refs or [])
                queue.extend(
                    (Path(t), origin, top)
                    for t in stored.location_targets or []
                    if is_within(t, top)  # checked when parsed; a symlink may have moved since
                )
            else:
                parsed = read_descriptor(path, data, origin=origin, root=top)
                self._claim_parsed(parsed)
                self.report.files_parsed += 1
                batch.append((parsed, stored.id if stored else None))
                queue.extend((Path(t), origin, top) for t in parsed.location_targets)
                if len(batch) >= BATCH_FILES:
                    writer.put(batch)
                    batch = []
            if progress:
                progress(len(self.reached), len(self.reached) + len(queue))
        if batch:
            writer.put(batch)

    # Duplicates are judged here, in reading order, before any write: the first file that
    # defines an entity (changed or not) keeps it; later definitions are errors of their file.
    def _claim_unchanged(self, path: str, refs: list[str]) -> None:
        for ref in refs:
            first = self.claimed.setdefault(ref, path)
            if first != path:
                self.report.problems.append(
                    Problem(
                        "error",
                        f"duplicate entity {ref}, already defined at {first}",
                        file=path,
                        field="metadata.name",
                        entity_ref=ref,
                        code="duplicate",
                    )
                )

    def _claim_parsed(self, parsed: ParsedFile) -> None:
        kept = []
        for entity in parsed.entities:
            where = f"{parsed.path}:{entity.line}"
            first = self.claimed.setdefault(entity.key, where)
            if first == where:
                kept.append(entity)
                continue
            parsed.problems.append(
                Problem(
                    "error",
                    f"duplicate entity {entity.key}, already defined at {first}",
                    file=parsed.path,
                    line=locate_in_file(parsed.path, entity.line, "metadata.name"),
                    field="metadata.name",
                    entity_ref=entity.key,
                    code="duplicate",
                )
            )
        parsed.entities = kept

    def _upsert_files(self, batch: list[tuple[ParsedFile, int | None]]) -> list[int]:
        """Record the batch's files; new ones are inserted together and their ids read back."""
        new_rows: dict[int, dict[str, Any]] = {}
        updates: list[dict[str, Any]] = []
        for index, (parsed, file_id) in enumerate(batch):
            values = {
                "sha256": parsed.sha256,
                "dependencies": parsed.dependencies or None,
                "location_targets": parsed.location_targets or None,
                "problems": [p.as_dict() for p in parsed.problems] or None,
                "entity_count": len(parsed.entities),
                "entity_refs": [entity.key for entity in parsed.entities] or None,
                "read_at": self.now,
            }
            if file_id is None:
                new_rows[index] = {"source_id": self.source.id, "path": parsed.path, **values}
            else:
                updates.append({"id": file_id, **values})
        new_ids: dict[int, int] = {}
        if new_rows:
            statement = insert(CatalogFile).returning(CatalogFile.id, sort_by_parameter_order=True)
            ids = self.session.scalars(statement, list(new_rows.values())).all()
            new_ids = dict(zip(new_rows, ids, strict=True))
        if updates:
            self.session.execute(update(CatalogFile), updates)
        return [new_ids[i] if file_id is None else file_id for i, (_, file_id) in enumerate(batch)]

    def _write_batch(self, batch: list[tuple[ParsedFile, int | None]]) -> None:
        file_ids = self._upsert_files(batch)
        inserts: list[tuple[ParsedEntity, int]] = []
        updates: list[tuple[ParsedEntity, int, _Existing]] = []
        candidates: list[tuple[ParsedEntity, int, ParsedFile]] = []
        for (parsed, _), file_id in zip(batch, file_ids, strict=True):
            self.report.problems.extend(parsed.problems)
            for entity in parsed.entities:
                existing = self.existing.get(entity.key)
                self.seen[entity.key] = (parsed.path, entity.line)
                if existing is None:
                    candidates.append((entity, file_id, parsed))
                elif existing.content_hash != entity.content_hash or existing.file_id != file_id:
                    updates.append((entity, file_id, existing))
                else:
                    self.report.unchanged += 1
        inserts = self._drop_conflicts(candidates)
        self._insert(inserts)
        self._update(updates)
        # Written per batch, so entity bodies do not pile up in memory until the end.
        events.record_many(self.session, self.pending_events)
        self.pending_events = []

    def _drop_conflicts(
        self, candidates: list[tuple[ParsedEntity, int, ParsedFile]]
    ) -> list[tuple[ParsedEntity, int]]:
        """New entities already claimed by another source are refused and reported."""
        claimed: dict[str, int] = {}
        keys = [entity.key for entity, _, _ in candidates]
        for chunk in _chunks(keys):
            for ref, source_id in self.session.execute(
                select(Entity.ref, Entity.source_id).where(Entity.ref.in_(chunk))
            ):
                claimed[ref] = source_id
        names: dict[int, str] = {}
        kept: list[tuple[ParsedEntity, int]] = []
        for entity, file_id, parsed in candidates:
            other = claimed.get(entity.key)
            if other is None or other == self.source.id:
                kept.append((entity, file_id))
                continue
            if other not in names:
                names[other] = self.session.get(CatalogSource, other).name  # type: ignore[union-attr]
            self.seen.pop(entity.key, None)
            self.report.problems.append(
                Problem(
                    "error",
                    f"conflict: {entity.key} is already provided by source {names[other]}",
                    file=parsed.path,
                    line=locate_in_file(parsed.path, entity.line, "metadata.name"),
                    field="metadata.name",
                    entity_ref=entity.key,
                    code="conflict",
                )
            )
        return kept

    def _rows(self, entity: ParsedEntity, entity_id: str, file_id: int) -> dict[str, Any]:
        metadata = entity.body["metadata"]
        spec = entity.body.get("spec") or {}
        return {
            "id": entity_id,
            "ref": entity.key,
            "kind": entity.kind,
            "namespace": entity.namespace,
            "name": entity.name,
            "title": metadata.get("title"),
            "spec_type": spec.get("type") if isinstance(spec.get("type"), str) else None,
            "lifecycle": spec.get("lifecycle") if isinstance(spec.get("lifecycle"), str) else None,
            "owner_ref": entity.owner_ref,
            "system_ref": entity.system_ref,
            "body": entity.body,
            "content_hash": entity.content_hash,
            "search_text": entity.search_text,
            "source_id": self.source.id,
            "file_id": file_id,
            "line": entity.line,
            "updated_at": self.now,
        }

    def _children(
        self, pairs: list[tuple[ParsedEntity, str]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        relations = [
            {"entity_id": entity_id, "source_ref": s, "type": t, "target_ref": o}
            for entity, entity_id in pairs
            for s, t, o in sorted(entity.relations)
        ]
        search = [
            {"entity_id": entity_id, "key": key, "value": value}
            for entity, entity_id in pairs
            for key, value in entity.search
        ]
        return relations, search

    def _insert(self, inserts: list[tuple[ParsedEntity, int]]) -> None:
        if not inserts:
            return
        rows, pairs = [], []
        for entity, file_id in inserts:
            entity_id = uuid7()
            entity.body["metadata"]["uid"] = entity_id
            row = self._rows(entity, entity_id, file_id)
            row["created_at"] = self.now
            rows.append(row)
            pairs.append((entity, entity_id))
            self.existing[entity.key] = _Existing(
                entity_id, entity.content_hash, file_id, entity.owner_ref
            )
            self.pending_events.append(
                events.PendingEvent(
                    events.CATALOG_ENTITY_ADDED,
                    entity.key,
                    {"before": None, "after": entity.body},
                    owner_ref=entity.owner_ref,
                )
            )
        relations, search = self._children(pairs)
        bulk_insert(self.session, Entity.__table__, rows)  # type: ignore[arg-type]
        bulk_insert(self.session, Relation.__table__, relations)  # type: ignore[arg-type]
        bulk_insert(self.session, EntitySearch.__table__, search)  # type: ignore[arg-type]
        self.report.added += len(rows)

    def _update(self, updates: list[tuple[ParsedEntity, int, _Existing]]) -> None:
        if not updates:
            return
        ids = [existing.id for _, _, existing in updates]
        before = self._bodies(ids)
        rows, pairs = [], []
        for entity, file_id, existing in updates:
            entity.body["metadata"]["uid"] = existing.id
            rows.append(self._rows(entity, existing.id, file_id))
            pairs.append((entity, existing.id))
            existing.content_hash, existing.file_id = entity.content_hash, file_id
            if before.get(existing.id) == entity.body:
                continue  # moved to another file, same content: not a change worth an event
            self.pending_events.append(
                events.PendingEvent(
                    events.CATALOG_ENTITY_UPDATED,
                    entity.key,
                    {"before": before.get(existing.id), "after": entity.body},
                    owner_ref=entity.owner_ref,
                )
            )
        for chunk in _chunks(ids):
            self.session.execute(delete(Relation).where(Relation.entity_id.in_(chunk)))
            self.session.execute(delete(EntitySearch).where(EntitySearch.entity_id.in_(chunk)))
        self.session.execute(update(Entity), rows)
        relations, search = self._children(pairs)
        bulk_insert(self.session, Relation.__table__, relations)  # type: ignore[arg-type]
        bulk_insert(self.session, EntitySearch.__table__, search)  # type: ignore[arg-type]
        self.report.updated += len(rows)

    def _bodies(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        bodies: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            rows = self.session.execute(select(Entity.id, Entity.body).where(Entity.id.in_(chunk)))
            bodies.update((entity_id, body) for entity_id, body in rows)
        return bodies

    # -- phase 2: remove what disappeared from the source -----------------------------------
    def sweep(self) -> None:
        if self.found_nothing:
            return
        kept = self.kept_file_ids()
        gone = [
            (ref, existing)
            for ref, existing in self.existing.items()
            if ref not in self.seen
            and existing.file_id not in self.unchanged_file_ids
            and existing.file_id not in kept
        ]
        if gone:
            ids = [existing.id for _, existing in gone]
            before = self._bodies(ids)
            for ref, existing in gone:
                self.pending_events.append(
                    events.PendingEvent(
                        events.CATALOG_ENTITY_REMOVED,
                        ref,
                        {"before": before.get(existing.id), "after": None},
                        existing.owner_ref,
                    )
                )
            for chunk in _chunks(ids):
                self.session.execute(delete(Relation).where(Relation.entity_id.in_(chunk)))
                self.session.execute(delete(EntitySearch).where(EntitySearch.entity_id.in_(chunk)))
                self.session.execute(delete(Entity).where(Entity.id.in_(chunk)))
            self.report.removed += len(gone)
        stale = [
            row.id
            for path, row in self.stored_files.items()
            if path not in self.reached and row.id not in kept
        ]
        for chunk in _chunks(stale):
            self.session.execute(delete(CatalogFile).where(CatalogFile.id.in_(chunk)))
        self.report.files_removed = len(stale)

    # -- phase 3: report relations that point nowhere -----------------------------------------
    def report_dangling(self) -> None:
        from sentier.catalog.queries import dangling_relations

        for item in dangling_relations(self.session, source_id=self.source.id):
            self.report.dangling += 1
            self.report.problems.append(
                Problem(
                    "warning",
                    f"{item.type} {item.target_ref}: no such entity (dangling relation)",
                    file=item.file,
                    line=item.line,
                    field=item.field,
                    entity_ref=item.source_ref,
                    code="dangling",
                )
            )


def ingest_source(
    session: Session,
    roots: Sequence[Path],
    *,
    name: str | None = None,
    progress: ProgressCallback | None = None,
    check_dangling: bool = True,
    boundary: Path | None = None,
) -> IngestReport:
    """Reconcile one source (its root paths) into the catalog, inside the caller's transaction.

    Descriptors may name files (placeholders, Location targets) only inside ``boundary``, by
    default each root (a file root: its directory; a pushed source: its whole tree).

    Paths another source covers exactly are ingested as that source when no ``name`` is given;
    paths overlapping another source's are refused (:class:`~sentier.catalog.sources.
    SourceOverlap`, see :func:`~sentier.catalog.sources.source_for`). A source that suddenly
    holds nothing readable keeps its entities and is marked failed (``report.failure``).
    """
    roots = [Path(root) for root in roots]
    name = source_for(session, roots, name)
    source = get_or_create_source(session, name, target="\n".join(str(r.resolve()) for r in roots))
    if boundary is None:
        boundary = source_directory(source.type, source.target)
    report = IngestReport(source=name)
    reconciler = _Reconciler(session, source, report)
    reconciler.read_all(roots, progress, boundary)
    report.unchanged += reconciler.unchanged_in_files
    if reconciler.found_nothing:
        report.unchanged = len(reconciler.existing)  # kept as they were
        report.failure = _nothing_found(report, len(reconciler.existing))
        report.problems.append(
            Problem("error", report.failure, file=source.target.split("\n")[0], code="vanished")
        )
    reconciler.sweep()
    if report.added + report.updated + report.removed >= ANALYZE_AFTER:
        _refresh_statistics(session)
    if check_dangling:
        reconciler.report_dangling()
    if not report.ok:
        reconciler.pending_events.append(
            events.PendingEvent(
                events.CATALOG_INGESTION_FAILED,
                f"source:{name}",
                {
                    "source": name,
                    "errors": len(report.errors),
                    "first_errors": [str(p) for p in report.errors[:20]],
                },
            )
        )
    events.record_many(session, reconciler.pending_events)
    source.last_ingested_at = reconciler.now
    source.last_status = "failed" if report.failure else "ok" if report.ok else "errors"
    source.last_summary = report.summary()
    return report


def _nothing_found(report: IngestReport, stored: int) -> str:
    codes = {problem.code for problem in report.problems}
    why = (
        "its path is gone"
        if "missing" in codes
        else "it cannot be read"
        if "unreadable" in codes
        else "no descriptor was found in it"
    )
    return (
        f"nothing was read from this source ({why}) where {stored} entities were stored: they "
        "are kept, and the source is marked failed; unregister the source to remove them"
    )


def remove_source(session: Session, source_id: int) -> int:
    """Unregister a source: its entities go (each with a ``removed`` event), then the source."""
    source = session.get(CatalogSource, source_id)
    if source is None:
        return 0
    rows = session.execute(
        select(Entity.id, Entity.ref, Entity.body, Entity.owner_ref).where(
            Entity.source_id == source_id
        )
    ).all()
    events.record_many(
        session,
        [
            events.PendingEvent(
                events.CATALOG_ENTITY_REMOVED,
                row.ref,
                {"before": row.body, "after": None},
                row.owner_ref,
            )
            for row in rows
        ],
    )
    ids = [row.id for row in rows]
    for chunk in _chunks(ids):
        session.execute(delete(Relation).where(Relation.entity_id.in_(chunk)))
        session.execute(delete(EntitySearch).where(EntitySearch.entity_id.in_(chunk)))
        session.execute(delete(Entity).where(Entity.id.in_(chunk)))
    session.execute(delete(CatalogFile).where(CatalogFile.source_id == source_id))
    session.delete(source)
    return len(ids)


def remove_entity(session: Session, entity_id: str) -> str | None:
    """Remove one entity (with a ``removed`` event); its reference, or ``None`` if unknown.

    As in Backstage, an entity that its source still defines comes back at the source's next
    ingestion: the file it was read from is marked for re-reading, so that the catalog heals
    from a removal made by mistake instead of treating the file as unchanged.
    """
    row = session.execute(
        select(Entity.ref, Entity.body, Entity.owner_ref, Entity.file_id).where(
            Entity.id == entity_id
        )
    ).first()
    if row is None:
        return None
    events.record_many(
        session,
        [
            events.PendingEvent(
                events.CATALOG_ENTITY_REMOVED,
                row.ref,
                {"before": row.body, "after": None},
                row.owner_ref,
            )
        ],
    )
    session.execute(delete(Relation).where(Relation.entity_id == entity_id))
    session.execute(delete(EntitySearch).where(EntitySearch.entity_id == entity_id))
    session.execute(delete(Entity).where(Entity.id == entity_id))
    if row.file_id is not None:
        session.execute(update(CatalogFile).where(CatalogFile.id == row.file_id).values(sha256=""))
    return str(row.ref)
