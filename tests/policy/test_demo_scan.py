"""``sentier demo up`` scans the demo's Terraform and stores the findings on its systems."""

from __future__ import annotations

from sqlalchemy import Engine
from typer.testing import CliRunner

from sentier.cli import app
from sentier.policy import list_findings
from sentier.store import session_scope


def test_demo_up_stores_findings_attributed_to_systems(sqlite_engine: Engine) -> None:
    result = CliRunner().invoke(app, ["demo", "up", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "security scan of the demo Terraform" in result.output
    with session_scope(sqlite_engine) as session:
        bastion = list_findings(
            session, entity="system:default/observability", rule="SNT-AWS-SG-001"
        )
        everything = list_findings(session)
    assert len(bastion) == 1 and bastion[0]["owner_ref"]
    attributed = [f for f in everything if f["entity_ref"]]
    assert attributed and all(f["entity_ref"].startswith("system:default/") for f in attributed)
