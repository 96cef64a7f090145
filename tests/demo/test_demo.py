"""The demo organisation: deterministic, the sizes the issue asks for, two deliberate mistakes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import Engine

from sentier.catalog import ingest_source
from sentier.demo import generate_organisation
from sentier.store import session_scope


def _digest(root: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        sha.update(str(path.relative_to(root)).encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    generate_organisation(tmp_path / "a", seed=1)
    generate_organisation(tmp_path / "b", seed=1)
    generate_organisation(tmp_path / "c", seed=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_demo_catalog_has_the_promised_shape_and_mistakes(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    summary = generate_organisation(tmp_path)
    assert {
        k: summary[k] for k in ("User", "Domain", "System", "Component", "API", "Resource")
    } == {
        "User": 40,
        "Domain": 6,
        "System": 12,
        "Component": 60,
        "API": 30,
        "Resource": 50,
    }
    assert 10 <= summary["Group"] <= 15
    with session_scope(sqlite_engine) as session:
        report = ingest_source(session, [tmp_path / "catalog"])
    assert report.ok, [str(p) for p in report.errors]
    dangling = sorted(
        (p.field, p.message.split(":")[0]) for p in report.warnings if p.code == "dangling"
    )
    assert dangling == [
        ("spec.dependsOn[2]", "dependsOn resource"),
        ("spec.owner", "ownedBy group"),
    ]
    assert {p.entity_ref for p in report.warnings} == {
        "component:default/docs-site",
        "component:default/invoicing",
    }
