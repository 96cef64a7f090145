"""Findings stored per scan: attribution to catalog entities, new/still-open/fixed, events."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from sentier.events.types import POLICY_FINDING_FIXED, POLICY_FINDING_OPENED
from sentier.policy import entity_summary, list_findings, record_scan, scan_paths
from sentier.policy.config import PathMapping
from sentier.store import session_scope
from sentier.store.models import OutboxEvent


def _catalog(tmp_path: Path, engine: Engine, infra: Path) -> None:
    from sentier.catalog import ingest_source

    descriptor = tmp_path / "catalog" / "catalog-info.yaml"
    descriptor.parent.mkdir()
    descriptor.write_text(
        f"""apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  annotations:
    backstage.io/source-location: "dir:{infra}/"
spec:
  type: service
  lifecycle: production
  owner: team-payments
""",
        encoding="utf-8",
    )
    with session_scope(engine) as session:
        ingest_source(session, [descriptor])


def test_scan_history_attribution_and_events(tmp_path: Path, engine: Engine) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "main.tf").write_text(
        'resource "aws_s3_bucket" "b" {\n  acl = "public-read"\n}\n'
        'resource "aws_db_instance" "d" {\n  publicly_accessible = true\n}\n',
        encoding="utf-8",
    )
    other = tmp_path / "other.tf"
    other.write_text('resource "aws_ebs_volume" "v" {\n  size = 1\n}\n', encoding="utf-8")
    _catalog(tmp_path, engine, infra)
    with session_scope(engine) as session:
        first = record_scan(session, scan_paths([str(infra), str(other)]), target="acme")
    assert first["new"] > 0 and first["fixed"] == 0
    with session_scope(engine) as session:
        rows = list_findings(session)
        owned = [r for r in rows if r["file"].endswith("main.tf")]
        assert owned and all(r["entity_ref"] == "component:default/payments" for r in owned)
        assert all(r["owner_ref"] == "group:default/team-payments" for r in owned)
        stray = [r for r in rows if r["file"].endswith("other.tf")]
        assert stray and all(r["entity_ref"] is None for r in stray)
        opened = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == POLICY_FINDING_OPENED)
        ).all()
        assert len(opened) == sum(1 for r in rows if r["status"] == "open")

    # Fix the database: one finding fixed, the rest still open.
    (infra / "main.tf").write_text(
        'resource "aws_s3_bucket" "b" {\n  acl = "public-read"\n}\n', encoding="utf-8"
    )
    with session_scope(engine) as session:
        second = record_scan(session, scan_paths([str(infra), str(other)]), target="acme")
    assert second["fixed"] >= 1 and second["new"] == 0 and second["still_open"] >= 1
    with session_scope(engine) as session:
        fixed = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == POLICY_FINDING_FIXED)
        ).all()
        assert any(e.data["rule_id"] == "SNT-AWS-RDS-002" for e in fixed)
        assert all(e.owner_ref == "group:default/team-payments" for e in fixed)
        summary = entity_summary(session, "component:default/payments")
        assert summary["open"] >= 1 and "SNT-AWS-RDS-002" not in {
            f["rule_id"] for f in summary["findings"]
        }


def test_path_mapping_wins(tmp_path: Path, sqlite_engine: Engine) -> None:
    infra = tmp_path / "svc"
    infra.mkdir()
    (infra / "main.tf").write_text(
        'resource "aws_ebs_volume" "v" {\n  size = 1\n}\n', encoding="utf-8"
    )
    with session_scope(sqlite_engine) as session:
        record_scan(
            session,
            scan_paths([str(infra)]),
            mappings=[PathMapping("*/svc/*", "component:default/billing")],
        )
        rows = list_findings(session, entity="component:default/billing")
    assert rows and rows[0]["rule_id"] == "SNT-AWS-EBS-001"


def test_findings_stored_before_anchored_fingerprints_stay_still_open(
    tmp_path: Path, engine: Engine
) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "main.tf").write_text(
        'resource "aws_s3_bucket" "b" {\n  acl = "public-read"\n}\n', encoding="utf-8"
    )
    before = scan_paths([str(infra)], packs=["security"])
    for finding in before.findings:
        finding.anchor = None  # as stored by the previous release
    with session_scope(engine) as session:
        record_scan(session, before, target="infra")
    with session_scope(engine) as session:
        changes = record_scan(session, scan_paths([str(infra)], packs=["security"]), target="infra")
    assert changes["new"] == 0 and changes["fixed"] == 0
    assert changes["still_open"] == len(before.findings)
