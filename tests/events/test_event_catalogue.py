"""The catalogue of event types: every type documented, every emitted event valid."""

from __future__ import annotations

from pathlib import Path

from jsonschema import Draft202012Validator
from sqlalchemy import Engine

from sentier import events
from sentier.store import session_scope


def test_every_declared_type_has_a_valid_data_schema() -> None:
    entries = {entry["type"]: entry for entry in events.list_types()}
    assert events.CATALOG_ENTITY_UPDATED in entries
    for entry in entries.values():
        assert entry["documented"], f"{entry['type']} has no entry in event_types.yaml"
        Draft202012Validator.check_schema(entry["dataschema"])


def test_catalog_ingestion_emits_events_that_match_their_schemas(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from sentier.catalog import ingest_source
    from sentier.demo import generate_organisation

    generate_organisation(tmp_path / "org")
    with session_scope(sqlite_engine) as session:
        ingest_source(session, [tmp_path / "org"], name="demo")
    with session_scope(sqlite_engine) as session:
        emitted = events.list_events(session, limit=100_000)
    assert len(emitted) > 50
    for row in emitted:
        assert events.validate_data(row.type, row.data) == [], row.type
    assert events.validate_data(events.CATALOG_ENTITY_ADDED, {"before": None}) != []
