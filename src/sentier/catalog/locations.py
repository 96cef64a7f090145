"""Catalog sources seen as Backstage locations, and what an entity came from.

Backstage calls a registered place that entities are read from a *location*: ``{id, type,
target}``. In sentier that is a catalog source. A source registered from a path on the server
is a ``file`` location whose target is that path; a pushed set of descriptors is a ``push``
location whose target is its name. Ids are the sources' ids, as strings.

sentier works offline: a location can only be a path on the server, given as a ``file``
location or as a ``url`` location with a ``file://`` URL; anything remote is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sentier.catalog.check import check_paths
from sentier.catalog.discovery import SKIPPED_DIRS, walk_descriptors
from sentier.catalog.problems import CatalogError
from sentier.catalog.queries import entity_document
from sentier.catalog.reader import ParsedEntity, read_descriptor
from sentier.catalog.refs import DEFAULT_NAMESPACE
from sentier.store.models import CatalogFile, CatalogSource, Entity

# A dry run or an analysis reads synchronously, inside one request: bounded.
MAX_PREVIEW_ENTITIES = 5000
MAX_ANALYZED_FILES = 1000
MAX_ANCESTRY = 100


class LocationError(CatalogError):
    """A location that cannot be registered or read; the message says why."""


def _error(message: str, field: str = "target") -> LocationError:
    error = LocationError.of(message, field=field)
    assert isinstance(error, LocationError)
    return error


def metadata_name(type: str, target: str) -> str:
    """The name Backstage gives the Location entity of a registered location."""
    digest = hashlib.sha1(f"{type}:{target}".encode(), usedforsecurity=False).hexdigest()
    return f"generated-{digest}"


def source_name(type: str, target: str) -> str:
    """The catalog source name of a location registered through the Backstage API."""
    digest = hashlib.sha1(f"{type}:{target}".encode(), usedforsecurity=False).hexdigest()
    return f"location-{digest[:16]}"


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    type: str
    target: str

    @property
    def ref(self) -> str:
        """Backstage's location reference, ``type:target``."""
        return f"{self.type}:{self.target}"

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "type": self.type,
            "target": self.target,
            "entityRef": f"location:{DEFAULT_NAMESPACE}/{metadata_name(self.type, self.target)}",
        }


def location_of(source: CatalogSource) -> Location:
    if source.type == "push":
        return Location(str(source.id), "push", source.name)
    return Location(str(source.id), "file", source.target)


def list_locations(session: Session) -> list[Location]:
    sources = session.scalars(select(CatalogSource).order_by(CatalogSource.id))
    return [location_of(source) for source in sources]


def get_location(session: Session, location_id: str) -> CatalogSource | None:
    """The source behind a location id (``None`` for an unknown or malformed id)."""
    if not location_id.isdigit() or len(location_id) > 18:
        return None
    return session.get(CatalogSource, int(location_id))


def find_location(session: Session, type: str, target: str) -> CatalogSource | None:
    """The source already registered for this location, if any."""
    if type == "push":
        return session.scalar(
            select(CatalogSource).where(CatalogSource.type == "push", CatalogSource.name == target)
        )
    return session.scalar(
        select(CatalogSource).where(CatalogSource.type == "path", CatalogSource.target == target)
    )


def location_of_entity(session: Session, ref: str) -> Location | None:
    """The location (source) an entity was read from; ``None`` when no such entity."""
    source_id = session.scalar(select(Entity.source_id).where(Entity.ref == ref.lower()))
    if source_id is None:
        return None
    source = session.get(CatalogSource, source_id)
    return location_of(source) if source is not None else None


def parse_location_ref(text: str) -> tuple[str, str]:
    """``type:target`` split as Backstage's ``parseLocationRef`` does."""
    type, colon, target = text.partition(":")
    if not colon or not type or not target:
        raise _error(
            f"unable to parse location ref '{text}', expected '<type>:<target>', "
            "e.g. 'file:/srv/catalog/catalog-info.yaml'",
            "location",
        )
    return type, target


def server_path(type: str, target: str) -> Path:
    """The path on the server a location designates: a ``file`` location's target, or a ``url``
    location's ``file://`` URL. Remote URLs are refused (sentier reads nothing from outside)."""
    if type == "url":
        url = urlparse(target)
        if url.scheme != "file":
            raise _error(
                f"{target}: sentier works offline and reads no remote location; register a "
                "path on the server (type 'file', or a file:// URL)"
            )
        if url.netloc not in ("", "localhost"):
            raise _error(f"{target}: a file:// URL must name a path on this server")
        raw = unquote(url.path)
    elif type == "file":
        raw = unquote(urlparse(target).path) if target.startswith("file://") else target
    else:
        raise _error(f"unsupported location type '{type}' (use 'file' or 'url')", "type")
    if "\x00" in raw:
        raise _error("a location target cannot contain NUL characters")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise _error(f"{target}: give an absolute path on the server")
    if not path.exists():
        raise _error(f"{target}: no such file or directory on the server")
    return path


def preview_document(entity: ParsedEntity) -> dict[str, Any]:
    """An entity as a dry run shows it: Backstage's shape, without the uid it does not have yet."""
    body = dict(entity.body)
    body["relations"] = sorted(
        (
            {"type": t, "targetRef": target}
            for source, t, target in entity.relations
            if source == entity.key
        ),
        key=lambda r: (r["type"], r["targetRef"]),
    )
    return body


def preview(path: Path) -> list[dict[str, Any]]:
    """What registering ``path`` would add: its entities, read and checked, nothing written.

    Errors in the descriptors refuse the whole location, naming file, line and field of each.
    """
    result = check_paths([path], keep_entities=True)
    if result.errors:
        shown = "; ".join(str(p) for p in result.errors[:10])
        more = f" (and {len(result.errors) - 10} more)" if len(result.errors) > 10 else ""
        raise _error(f"{len(result.errors)} error(s) in the location: {shown}{more}")
    if len(result.found) > MAX_PREVIEW_ENTITIES:
        raise _error(
            f"the location holds {len(result.found)} entities; a dry run shows at most "
            f"{MAX_PREVIEW_ENTITIES} (register it instead)"
        )
    return [preview_document(entity) for entity in result.found]


_NAME_CHARS = re.compile(r"[^a-z0-9]+")


def _descriptor_files(root: Path, catalog_filename: str | None) -> list[Path]:
    if root.is_file():
        return [root]
    if not catalog_filename:
        files = []
        for path in walk_descriptors(root):
            files.append(path)
            if len(files) >= MAX_ANALYZED_FILES:
                break
        return files
    found: list[Path] = []
    for directory, subdirs, names in os.walk(os.path.realpath(root)):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS and not d.startswith("."))
        if catalog_filename in names:
            found.append(Path(directory) / catalog_filename)
            if len(found) >= MAX_ANALYZED_FILES:
                break
    return found


def analyze(session: Session, path: Path, catalog_filename: str | None = None) -> dict[str, Any]:
    """Backstage's location analysis for a path on the server: the descriptors found there
    (each with whether its file is already part of a registered source) or, when there is
    none, a Component to start from, its owner left for the user to give."""
    if catalog_filename is not None and (
        "/" in catalog_filename or catalog_filename in ("", ".", "..")
    ):
        raise _error("catalogFilename must be a plain file name", "catalogFilename")
    existing: list[dict[str, Any]] = []
    top = path if path.is_dir() else path.parent
    for file in _descriptor_files(path, catalog_filename):
        try:
            data = file.read_bytes()
        except OSError as error:
            raise _error(f"{file}: cannot read: {error.strerror}") from error
        parsed = read_descriptor(file, data, root=top)
        registered = (
            session.scalar(select(func.count()).where(CatalogFile.path == parsed.path)) or 0
        ) > 0
        existing.extend(
            {
                "location": {"type": "file", "target": parsed.path},
                "isRegistered": registered,
                "entity": preview_document(entity),
            }
            for entity in parsed.entities
        )
    generate: list[dict[str, Any]] = []
    if not existing:
        name = _NAME_CHARS.sub("-", top.name.lower()).strip("-")[:63] or "component"
        generate.append(
            {
                "entity": {
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "Component",
                    "metadata": {"name": name, "namespace": DEFAULT_NAMESPACE},
                    "spec": {"type": "other", "lifecycle": "unknown"},
                },
                "fields": [
                    {
                        "field": "spec.owner",
                        "state": "needsUserInput",
                        "value": None,
                        "description": "Entity owner is recommended",
                    }
                ],
            }
        )
    return {"existingEntityFiles": existing, "generateEntities": generate}


def ancestry(session: Session, ref: str) -> list[tuple[dict[str, Any], list[str]]] | None:
    """The entity and the Location entities that led to it, each with its parents' refs, as
    Backstage's ``ancestry``: a parent is a Location entity whose targets include the file the
    child was read from. ``None`` when there is no such entity."""
    root = entity_document(session, ref)
    if root is None:
        return None
    targets_by_file: list[tuple[int, set[str]]] = [
        (file_id, set(targets or []))
        for file_id, targets in session.execute(
            select(CatalogFile.id, CatalogFile.location_targets).where(
                CatalogFile.location_targets.is_not(None)
            )
        )
    ]
    items: list[tuple[dict[str, Any], list[str]]] = []
    seen = {ref.lower()}
    todo: deque[tuple[str, dict[str, Any]]] = deque([(ref.lower(), root)])
    while todo and len(items) < MAX_ANCESTRY:
        current_ref, current = todo.popleft()
        path = session.scalar(
            select(CatalogFile.path)
            .join(Entity, Entity.file_id == CatalogFile.id)
            .where(Entity.ref == current_ref)
        )
        parent_files = [fid for fid, targets in targets_by_file if path and path in targets]
        parents = (
            list(
                session.scalars(
                    select(Entity.ref)
                    .where(Entity.file_id.in_(parent_files), func.lower(Entity.kind) == "location")
                    .order_by(Entity.ref)
                )
            )
            if parent_files
            else []
        )
        items.append((current, parents))
        for parent in parents:
            if parent not in seen:
                seen.add(parent)
                document = entity_document(session, parent)
                if document is not None:
                    todo.append((parent, document))
    return items
