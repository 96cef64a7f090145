"""Tables of the software catalog: sources, the files read from them, entities and relations.

Entity references are stored lower-cased (``kind:namespace/name``), as Backstage compares them,
so that lookups and joins never depend on how a descriptor spelled a name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sentier.store.models.base import Base, JSONType, utcnow


class CatalogSource(Base):
    """A place entities come from: a path on the server, or a set of pushed descriptors."""

    __tablename__ = "catalog_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(16), default="path")
    target: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_ingested_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[str | None] = mapped_column(String(16), default=None)
    last_summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


class CatalogFile(Base):
    """A descriptor file as last read, so an unchanged file costs one hash and nothing more."""

    __tablename__ = "catalog_files"
    __table_args__ = (UniqueConstraint("source_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_sources.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    # Location targets found in the file, kept so unchanged files still lead to their targets.
    location_targets: Mapped[list[str] | None] = mapped_column(JSONType, default=None)
    # Files read through placeholders, path -> SHA-256; a change there means re-reading this.
    dependencies: Mapped[dict[str, str] | None] = mapped_column(JSONType, default=None)
    # Problems found in the file at its last read, replayed while the file is unchanged.
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, default=None)
    entity_count: Mapped[int] = mapped_column(Integer, default=0)
    # Entities the file defined, so that an unchanged file still claims them (duplicates).
    entity_refs: Mapped[list[str] | None] = mapped_column(JSONType, default=None)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class Entity(Base):
    """A catalog entity in Backstage's shape (``body``), with the fields we filter on pulled out."""

    __tablename__ = "entities"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ref: Mapped[str] = mapped_column(String(512), unique=True)
    kind: Mapped[str] = mapped_column(String(63), index=True)
    namespace: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(63), index=True)
    title: Mapped[str | None] = mapped_column(Text, default=None)
    spec_type: Mapped[str | None] = mapped_column(String(255), index=True, default=None)
    lifecycle: Mapped[str | None] = mapped_column(String(255), index=True, default=None)
    owner_ref: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    system_ref: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    content_hash: Mapped[str] = mapped_column(String(40))
    search_text: Mapped[str] = mapped_column(Text, default="")
    source_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_sources.id", ondelete="CASCADE"), index=True
    )
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_files.id", ondelete="SET NULL"), index=True, default=None
    )
    line: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Relation(Base):
    """A relation emitted by an entity, in both directions, as Backstage's processors emit them.

    ``entity_id`` is the entity whose descriptor produced the relation: when it changes or goes,
    its relations go with it. A target that exists nowhere is kept, and shown as dangling.
    """

    __tablename__ = "relations"
    __table_args__ = (
        Index("ix_relations_source_type", "source_ref", "type"),
        Index("ix_relations_target_type", "target_ref", "type"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    entity_id: Mapped[str] = mapped_column(
        ForeignKey("entities.id", ondelete="CASCADE"), index=True
    )
    source_ref: Mapped[str] = mapped_column(String(512))
    type: Mapped[str] = mapped_column(String(64))
    target_ref: Mapped[str] = mapped_column(String(512))


class EntitySearch(Base):
    """Flattened ``key = value`` pairs of an entity, lower-cased, for generic filters.

    The same idea as Backstage's ``search`` table: ``spec.type=service``,
    ``metadata.tags=java``, ``metadata.annotations.backstage.io/techdocs-ref=dir:.``.
    """

    __tablename__ = "entity_search"
    __table_args__ = (Index("ix_entity_search_key_value", "key", "value"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    entity_id: Mapped[str] = mapped_column(
        ForeignKey("entities.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(String(512), default=None)
