"""Catalog sources lose nothing: no removal outside SENTIER_HOME, one source per folder, and a
source that suddenly holds nothing keeps its entities (issue 12, "Data loss")."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from sentier import auth, catalog, events
from sentier.api import create_app
from sentier.catalog import ingest_source
from sentier.cli import app as cli
from sentier.config import get_settings
from sentier.home import OutsideHome, remove_tree
from sentier.store import session_scope
from sentier.store.models import CatalogSource, Entity, OutboxEvent
from tests.api.conftest import Tokens, wait_for_job, write_catalog
from tests.catalog.builders import component

runner = CliRunner()
DOC = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {}\n"
    "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
)


@pytest.fixture
def api(sqlite_engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, Tokens]]:
    """The app on SQLite (the backend is not what these tests are about), a small catalog
    registered as the source ``base``, and a token per role."""
    with session_scope(sqlite_engine) as session:
        assert ingest_source(session, [write_catalog(tmp_path / "catalog")], name="base").ok
        tokens = Tokens(
            auth.create_token(session, name="admin", role="admin").secret,
            auth.create_token(session, name="ci", role="editor", groups=["team-a"]).secret,
            auth.create_token(session, name="reader", role="viewer").secret,
        )
    with TestClient(create_app(), base_url="http://127.0.0.1") as client:
        yield client, tokens


def _repo(root: Path, *names: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    docs = [component(name, owner="team-b") for name in names]
    (root / "catalog-info.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return root


def _sources(engine: Engine) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        return [(s.name, s.type) for s in session.scalars(select(CatalogSource))]


def _count(engine: Engine, source: str | None = None) -> int:
    with session_scope(engine) as session:
        query = select(func.count()).select_from(Entity)
        if source is not None:
            query = query.join(CatalogSource, CatalogSource.id == Entity.source_id).where(
                CatalogSource.name == source
            )
        return session.scalar(query) or 0


# -- nothing removed outside what sentier created under SENTIER_HOME ---------------------------


def test_unregistering_a_source_named_by_its_absolute_path_deletes_no_folder(
    api: tuple[TestClient, Tokens], sqlite_engine: Engine, tmp_path: Path
) -> None:
    client, tokens = api
    repo = _repo(tmp_path / "repo", "search")
    (repo / "README.md").write_text("not a descriptor, not sentier's")
    result = runner.invoke(cli, ["catalog", "ingest", str(repo)])
    assert result.exit_code == 0, result.output
    with session_scope(sqlite_engine) as session:
        source = session.scalar(select(CatalogSource).where(CatalogSource.name == str(repo)))
        assert source is not None
        source_id = source.id
    removed = client.delete(f"/api/v1/sources/{source_id}", headers=tokens.header("admin"))
    assert removed.status_code == 200 and removed.json()["removed"] == 1
    assert (repo / "README.md").read_text() == "not a descriptor, not sentier's"
    assert (repo / "catalog-info.yaml").exists()


def test_pushed_sources_live_under_generated_ids_and_only_they_are_removed(
    api: tuple[TestClient, Tokens], sqlite_engine: Engine
) -> None:
    client, tokens = api
    h = tokens.header("editor")
    pushed = client.post(
        "/api/v1/sources/push",
        headers=h,
        json={"name": "team-a-set", "files": {"svc/a.yaml": DOC.format("pushed-one")}},
    )
    assert pushed.status_code == 202, pushed.text
    assert wait_for_job(client, pushed.json()["job"], h)["status"] == "succeeded"
    root = Path(get_settings().home).absolute() / "pushed"
    (directory,) = [p for p in root.iterdir() if not p.name.startswith(".")]
    assert directory.name != "team-a-set" and len(directory.name) == 32
    assert int(directory.name, 16) >= 0  # a generated hexadecimal id
    assert pushed.json()["source"]["target"] == str(directory / "svc" / "a.yaml")
    # A second push of the same source reuses its directory: paths, hence entities, stay put.
    again = client.post(
        "/api/v1/sources/push",
        headers=h,
        json={"name": "team-a-set", "files": {"svc/a.yaml": DOC.format("pushed-one")}},
    )
    assert wait_for_job(client, again.json()["job"], h)["summary"]["unchanged"] == 1
    assert [p for p in root.iterdir() if not p.name.startswith(".")] == [directory]
    source_id = pushed.json()["source"]["id"]
    deleted = client.delete(f"/api/v1/sources/{source_id}", headers=tokens.header("admin"))
    assert deleted.json() == {"source": "team-a-set", "removed": 1}
    assert not directory.exists() and root.is_dir()


def test_a_source_named_like_another_sources_folder_is_not_a_way_to_delete_it(
    api: tuple[TestClient, Tokens], sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A path source whose stored target is forged to look pushed: its files are never removed."""
    client, tokens = api
    repo = _repo(tmp_path / "elsewhere", "forged")
    with session_scope(sqlite_engine) as session:
        source = CatalogSource(name="forged", type="push", target=str(repo / "catalog-info.yaml"))
        session.add(source)
        session.flush()
        source_id = source.id
    assert (
        client.delete(f"/api/v1/sources/{source_id}", headers=tokens.header("admin")).status_code
        == 200
    )
    assert (repo / "catalog-info.yaml").exists()


def test_sources_pushed_under_their_name_before_keep_working(
    api: tuple[TestClient, Tokens], sqlite_engine: Engine
) -> None:
    """The layout before generated ids (``pushed/<name>``): refreshed, re-pushed and removed
    in place."""
    client, tokens = api
    legacy = Path(get_settings().home).absolute() / "pushed" / "legacy"
    legacy.mkdir(parents=True)
    (legacy / "a.yaml").write_text(DOC.format("old-one"))
    (legacy / "sub").mkdir()
    (legacy / "sub" / "b.yaml").write_text(
        DOC.format("old-two").replace("spec:", "  description: {$text: ../a.yaml}\nspec:")
    )
    with session_scope(sqlite_engine) as session:
        source = CatalogSource(
            name="legacy", type="push", target=f"{legacy / 'a.yaml'}\n{legacy / 'sub' / 'b.yaml'}"
        )
        session.add(source)
        session.flush()
        source_id = source.id
    admin = tokens.header("admin")
    refresh = client.post(f"/api/v1/sources/{source_id}/refresh", headers=admin).json()
    job = wait_for_job(client, refresh["job"], admin)
    # The whole pushed tree is the boundary, as before: sub/b.yaml may read ../a.yaml.
    assert (job["summary"]["added"], job["summary"]["errors"]) == (2, 0), job
    two = client.get("/api/v1/entities/component/default/old-two", headers=admin).json()
    assert two["metadata"]["description"] == DOC.format("old-one")
    pushed = client.post(
        "/api/v1/sources/push",
        headers=tokens.header("editor"),
        json={"name": "legacy", "files": {"a.yaml": DOC.format("old-one")}},
    )
    assert pushed.json()["source"]["target"] == str(legacy / "a.yaml")
    assert wait_for_job(client, pushed.json()["job"], admin)["status"] == "succeeded"
    assert sorted(p.name for p in legacy.iterdir()) == ["a.yaml"]
    client.delete(f"/api/v1/sources/{source_id}", headers=admin)
    assert not legacy.exists()


def test_remove_tree_refuses_anything_outside_its_area(tmp_path: Path) -> None:
    home = tmp_path / "home"
    area = home / "pushed"
    (area / "mine").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    for path in (
        outside,
        area,
        home,
        area / ".." / ".." / "outside",
        area / "mine" / ".." / "..",
        Path("/"),
    ):
        with pytest.raises(OutsideHome):
            remove_tree(path, area="pushed", home=home)
    with pytest.raises(OutsideHome):
        remove_tree(area / "mine", area="/abs", home=home)
    # A link inside the area leading out is unlinked; what it points at stays.
    (area / "link").symlink_to(outside)
    assert remove_tree(area / "link", area="pushed", home=home)
    assert (outside / "keep.txt").read_text() == "keep" and not (area / "link").exists()
    # Through a linked area, the real location is what counts.
    (area / "mine" / "f.yaml").write_text("x")
    assert remove_tree(area / "mine", area="pushed", home=home) and not (area / "mine").exists()


def test_every_removal_in_the_catalog_and_its_shells_goes_through_the_guard() -> None:
    """The review asked for every rmtree/unlink/rename: the catalog, the sources router, the
    portal's sources page and the store call no raw removal (they use ``home.remove_tree``)."""
    source_root = Path(__file__).resolve().parents[2] / "src" / "sentier"
    files = [
        *(source_root / "catalog").glob("*.py"),
        *(source_root / "store").rglob("*.py"),
        source_root / "api" / "routers" / "sources.py",
        source_root / "web" / "pages" / "admin.py",
    ]
    offenders = [
        f"{path.relative_to(source_root)}: {needle}"
        for path in files
        for needle in ("shutil.rmtree", "os.remove(", ".unlink(", "os.unlink(")
        if needle in path.read_text()
    ]
    assert offenders == []


# -- one folder, one source ------------------------------------------------------------------


def test_cli_ingest_of_a_folder_registered_through_the_api_refreshes_that_source(
    api: tuple[TestClient, Tokens], sqlite_engine: Engine, tmp_path: Path
) -> None:
    client, tokens = api
    repo = _repo(tmp_path / "repo", "search", "index")
    h = tokens.header("admin")
    accepted = client.post("/api/v1/sources", headers=h, json={"name": "more", "path": str(repo)})
    assert wait_for_job(client, accepted.json()["job"], h)["summary"]["added"] == 2
    result = runner.invoke(cli, ["catalog", "ingest", str(repo)])
    assert result.exit_code == 0, result.output
    assert "more" in result.output
    assert sorted(_sources(sqlite_engine)) == [("base", "path"), ("more", "path")]
    assert _count(sqlite_engine, "more") == 2


def test_cli_ingest_of_a_folder_overlapping_a_source_is_refused_naming_it(
    api: tuple[TestClient, Tokens], sqlite_engine: Engine, tmp_path: Path
) -> None:
    repo = _repo(tmp_path / "repo" / "inner", "search")
    with session_scope(sqlite_engine) as session:
        ingest_source(session, [repo], name="inner")
    for path in (repo.parent, repo / "catalog-info.yaml"):
        result = runner.invoke(cli, ["catalog", "ingest", str(path)])
        assert result.exit_code == 1
        assert "overlaps the catalog source inner" in " ".join(result.output.split())
    assert sorted(_sources(sqlite_engine)) == [("base", "path"), ("inner", "path")]


def test_registering_a_covered_folder_through_the_api_is_refused_naming_the_source(
    api: tuple[TestClient, Tokens], sqlite_engine: Engine, tmp_path: Path
) -> None:
    client, tokens = api
    h = tokens.header("admin")
    base = tmp_path / "catalog"
    for path in (base, base / "catalog-info.yaml", tmp_path):
        refused = client.post("/api/v1/sources", headers=h, json={"name": "x", "path": str(path)})
        assert refused.status_code == 409, refused.text
        body = refused.json()
        assert body["type"] == "urn:sentier:problem:source-overlap" and body["source"] == "base"
        assert "base" in body["detail"]
    assert _sources(sqlite_engine) == [("base", "path")]


def test_the_rule_is_the_catalogs_own(sqlite_engine: Engine, tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", "search")
    with session_scope(sqlite_engine) as session:
        ingest_source(session, [repo], name="registered")
    with session_scope(sqlite_engine) as session:
        assert catalog.source_for(session, [repo]) == "registered"
        report = ingest_source(session, [repo])
        assert report.source == "registered" and report.ok and report.unchanged == 1
        with pytest.raises(catalog.SourceOverlap) as refused:
            ingest_source(session, [repo], name="second")
        assert refused.value.source == "registered"


# -- a source that suddenly holds nothing keeps its entities -----------------------------------


def _removed_events(engine: Engine) -> int:
    with session_scope(engine) as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.type == events.CATALOG_ENTITY_REMOVED)
            )
            or 0
        )


@pytest.mark.parametrize("how", ["gone", "emptied", "unreadable"])
def test_a_refresh_that_finds_nothing_keeps_the_entities_and_marks_the_source_failed(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    repo = _repo(tmp_path / "repo", "one", "two", "three")
    with session_scope(sqlite_engine) as session:
        assert ingest_source(session, [repo], name="repo").added == 3
    if how == "gone":
        (repo / "catalog-info.yaml").unlink()
        repo.rmdir()
    elif how == "emptied":
        (repo / "catalog-info.yaml").unlink()
    else:  # tests may run as root, for whom permissions do not stop reading
        real_scandir = os.scandir

        def refuse(path: object = ".") -> object:
            if os.fspath(path) == os.path.realpath(repo):  # type: ignore[arg-type]
                raise PermissionError(13, "Permission denied", os.fspath(path))  # type: ignore[arg-type]
            return real_scandir(path)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "scandir", refuse)
    with session_scope(sqlite_engine) as session:
        report = ingest_source(session, [repo], name="repo")
    assert not report.ok and report.removed == 0 and report.failure
    assert "3 entities were stored" in report.failure
    assert {"gone": "its path is gone", "emptied": "no descriptor", "unreadable": "cannot be read"}[
        how
    ] in report.failure
    assert _count(sqlite_engine, "repo") == 3 and _removed_events(sqlite_engine) == 0
    with session_scope(sqlite_engine) as session:
        source = session.scalar(select(CatalogSource).where(CatalogSource.name == "repo"))
        assert source is not None and source.last_status == "failed"
        assert source.last_summary is not None and source.last_summary["error"] == report.failure


def test_one_unreadable_directory_keeps_its_entities_while_the_rest_is_reconciled(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    _repo(repo / "a", "in-a")
    _repo(repo / "b", "in-b")
    with session_scope(sqlite_engine) as session:
        assert ingest_source(session, [repo], name="repo").added == 2
    (repo / "a" / "catalog-info.yaml").write_text(
        yaml.safe_dump_all([component("in-a"), component("new-in-a")])
    )
    real_scandir = os.scandir

    def refuse(path: object = ".") -> object:
        if os.fspath(path) == os.path.realpath(repo / "b"):  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", os.fspath(path))  # type: ignore[arg-type]
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", refuse)
    with session_scope(sqlite_engine) as session:
        report = ingest_source(session, [repo], name="repo")
    assert (report.added, report.removed, report.failure) == (1, 0, None)
    assert [p.code for p in report.errors] == ["unreadable"]
    assert _count(sqlite_engine, "repo") == 3


def test_the_failure_shows_in_the_job_the_api_and_the_portal(
    api: tuple[TestClient, Tokens], sqlite_engine: Engine, tmp_path: Path
) -> None:
    client, tokens = api
    h = tokens.header("admin")
    repo = _repo(tmp_path / "repo", "one")
    accepted = client.post("/api/v1/sources", headers=h, json={"name": "more", "path": str(repo)})
    wait_for_job(client, accepted.json()["job"], h)
    (repo / "catalog-info.yaml").unlink()
    source_id = accepted.json()["source"]["id"]
    job = wait_for_job(
        client, client.post(f"/api/v1/sources/{source_id}/refresh", headers=h).json()["job"], h
    )
    assert job["status"] == "failed" and "1 entities were stored" in job["error"]
    shown = client.get(f"/api/v1/sources/{source_id}", headers=tokens.header("viewer")).json()
    assert shown["last_status"] == "failed" and shown["last_error"] == job["error"]
    page = client.get("/sources", headers=tokens.header("viewer")).text
    assert "no descriptor was found in it" in page
    assert client.get("/api/v1/entities/component/default/one", headers=h).status_code == 200
    result = runner.invoke(cli, ["catalog", "ingest", str(repo)])
    assert result.exit_code == 1 and "they are kept" in " ".join(result.output.split())
