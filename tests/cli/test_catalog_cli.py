"""The catalog CLI as a user runs it: exit codes, output shapes, migrations on first use."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from sentier.cli import app
from tests.catalog.builders import component, group

runner = CliRunner()


def _tree(tmp_path: Path, *, broken: bool = False) -> Path:
    root = tmp_path / "repo"
    (root / "svc").mkdir(parents=True)
    (root / "catalog-info.yaml").write_text(yaml.safe_dump_all([group("team-a")]))
    docs = [component("checkout", dependsOn=["component:payments"]), component("payments")]
    if broken:
        del docs[1]["spec"]["owner"]
    (root / "svc" / "catalog-info.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return root


def test_ingest_migrates_on_first_use_and_lists_backstage_shaped_entities(
    tmp_path: Path, isolated_settings: Path
) -> None:
    root = _tree(tmp_path)
    result = runner.invoke(app, ["catalog", "ingest", str(root)])
    assert result.exit_code == 0, result.output
    assert (isolated_settings / "sentier.db").exists()
    listed = runner.invoke(app, ["catalog", "list", "--kind", "component", "--format", "json"])
    entities = json.loads(listed.stdout)
    assert [e["metadata"]["name"] for e in entities] == ["checkout", "payments"]
    checkout = entities[0]
    assert set(checkout) == {"apiVersion", "kind", "metadata", "spec", "relations"}
    assert checkout["metadata"]["uid"]
    assert {"type": "dependsOn", "targetRef": "component:default/payments"} in checkout["relations"]
    as_yaml = yaml.safe_load(
        runner.invoke(app, ["catalog", "list", "-k", "group", "-f", "yaml"]).stdout
    )
    assert as_yaml[0]["relations"] == [
        {"type": "ownerOf", "targetRef": "component:default/checkout"},
        {"type": "ownerOf", "targetRef": "component:default/payments"},
    ]


def test_ingest_with_errors_exits_non_zero_and_names_file_line_field(tmp_path: Path) -> None:
    root = _tree(tmp_path, broken=True)
    result = runner.invoke(app, ["catalog", "ingest", str(root)])
    assert result.exit_code == 1
    assert f"{(root / 'svc' / 'catalog-info.yaml').resolve()}:" in result.output
    assert "spec.owner: required" in result.output
    assert "Traceback" not in result.output
    # The valid entities were stored all the same.
    shown = runner.invoke(app, ["catalog", "show", "checkout", "--format", "json"])
    assert json.loads(shown.stdout)["metadata"]["name"] == "checkout"


def test_validate_writes_nothing(tmp_path: Path, isolated_settings: Path) -> None:
    root = _tree(tmp_path, broken=True)
    result = runner.invoke(app, ["catalog", "validate", str(root)])
    assert result.exit_code == 1
    assert "spec.owner: required" in result.output
    assert not (isolated_settings / "sentier.db").exists()
    assert runner.invoke(app, ["catalog", "validate", str(_tree(tmp_path / "ok"))]).exit_code == 0


def test_show_unknown_entity_is_a_clear_error(tmp_path: Path) -> None:
    runner.invoke(app, ["catalog", "ingest", str(_tree(tmp_path))])
    result = runner.invoke(app, ["catalog", "show", "component:nope"])
    assert result.exit_code == 1
    assert "no entity component:nope" in result.output


def test_graph_as_dot_and_json(tmp_path: Path) -> None:
    runner.invoke(app, ["catalog", "ingest", str(_tree(tmp_path))])
    dot = runner.invoke(app, ["catalog", "graph", "component:checkout"])
    assert dot.exit_code == 0
    assert (
        '"component:default/checkout" -> "component:default/payments" [label="dependsOn"];'
        in dot.stdout
    )
    data = json.loads(
        runner.invoke(app, ["catalog", "graph", "checkout", "--format", "json"]).stdout
    )
    assert {
        "source": "component:default/checkout",
        "type": "ownedBy",
        "target": "group:default/team-a",
    } in data["edges"]


def test_db_upgrade_and_status(isolated_settings: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    status = runner.invoke(app, ["db", "status"])
    assert "up to date" in status.output


def test_unreachable_database_is_one_clear_message(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sentier.config import get_settings

    monkeypatch.setenv("SENTIER_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()
    result = runner.invoke(app, ["catalog", "list"])
    assert result.exit_code == 1
    assert "cannot open the database" in result.output
    assert "Traceback" not in result.output
