"""Catalog sources as Backstage locations: what may be registered, dry runs, analysis, and the
validation of one entity given as data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from sentier import catalog
from sentier.catalog import LocationError
from sentier.store import session_scope
from tests.catalog.builders import component


def test_only_paths_on_the_server_are_locations(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    assert catalog.server_path("file", str(tmp_path / "repo")) == tmp_path / "repo"
    assert catalog.server_path("url", f"file://{tmp_path}/repo") == tmp_path / "repo"
    assert catalog.server_path("file", f"file://{tmp_path}/repo") == tmp_path / "repo"
    with pytest.raises(LocationError, match="works offline"):
        catalog.server_path("url", "https://git.example/x/catalog-info.yaml")
    with pytest.raises(LocationError, match="name a path on this server"):
        catalog.server_path("url", "file://elsewhere/srv")
    with pytest.raises(LocationError, match="absolute path"):
        catalog.server_path("file", "relative/dir")
    with pytest.raises(LocationError, match="no such file"):
        catalog.server_path("file", str(tmp_path / "missing"))
    with pytest.raises(LocationError, match="unsupported location type 'github'"):
        catalog.server_path("github", "org/repo")


def test_location_refs_and_generated_names_follow_backstage() -> None:
    assert catalog.parse_location_ref("url:https://host/a:b") == ("url", "https://host/a:b")
    with pytest.raises(LocationError, match="expected '<type>:<target>'"):
        catalog.parse_location_ref("no-colon")
    location = catalog.Location("3", "file", "/srv/catalog")
    digest = hashlib.sha1(b"file:/srv/catalog", usedforsecurity=False).hexdigest()
    assert location.as_dict() == {
        "id": "3",
        "type": "file",
        "target": "/srv/catalog",
        "entityRef": f"location:default/generated-{digest}",
    }
    assert catalog.source_name("file", "/srv/catalog") == f"location-{digest[:16]}"


def test_a_dry_run_shows_entities_and_refuses_errors_with_their_place(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "catalog-info.yaml").write_text(
        yaml.safe_dump_all([component("a", dependsOn=["component:b"]), component("b")])
    )
    entities = catalog.preview(good)
    assert [e["metadata"]["name"] for e in entities] == ["a", "b"]
    assert "uid" not in entities[0]["metadata"]
    assert {"type": "dependsOn", "targetRef": "component:default/b"} in entities[0]["relations"]
    bad = tmp_path / "bad"
    bad.mkdir()
    broken = component("c")
    del broken["spec"]["owner"]
    (bad / "catalog-info.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(LocationError, match=r"catalog-info.yaml:\d+: spec.owner: required"):
        catalog.preview(bad)


def test_analysis_tells_registered_files_apart(engine: Engine, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "catalog-info.yaml").write_text(yaml.safe_dump(component("svc")))
    (repo / "sub").mkdir()
    (repo / "sub" / "other.yaml").write_text(yaml.safe_dump(component("other")))
    with session_scope(engine) as session:
        found = catalog.analyze(session, repo)
        assert [
            (f["entity"]["metadata"]["name"], f["isRegistered"])
            for f in found["existingEntityFiles"]
        ] == [("svc", False)]
        named = catalog.analyze(session, repo, "other.yaml")
        assert [f["entity"]["metadata"]["name"] for f in named["existingEntityFiles"]] == ["other"]
        assert catalog.ingest_source(session, [repo], name="repo").ok
    with session_scope(engine) as session:
        assert catalog.analyze(session, repo)["existingEntityFiles"][0]["isRegistered"] is True
        empty = tmp_path / "My Empty Repo"
        empty.mkdir()
        suggestion = catalog.analyze(session, empty)
        assert suggestion["existingEntityFiles"] == []
        assert suggestion["generateEntities"][0]["entity"]["metadata"]["name"] == "my-empty-repo"
        with pytest.raises(LocationError, match="plain file name"):
            catalog.analyze(session, repo, "../etc/passwd")


def test_one_entity_checked_as_data() -> None:
    assert catalog.check_entity(component("fine")) == []
    broken = component("Not Valid!", dependsOn=["a:b:c:d"])
    del broken["spec"]["lifecycle"]
    problems = [(p.field, p.message) for p in catalog.check_entity(broken)]
    assert ("spec.lifecycle", "required") in problems
    assert any(field == "metadata.name" for field, _ in problems)
    bad_ref = component("fine", dependsOn=[":"])
    assert [p.code for p in catalog.check_entity(bad_ref)] == ["bad-reference"]
    assert catalog.check_entity("not a mapping")[0].message.startswith("document is not a mapping")
