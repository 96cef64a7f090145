"""What a descriptor may make sentier read: placeholder and Location targets stay inside the
source's root (no ``..``, no absolute path, no symlink out of it), and hostile placeholder
content (YAML alias bombs, very deep JSON) is an error naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from sentier.catalog import find_entity, ingest_source, read_descriptor
from sentier.catalog.check import check_paths
from sentier.store import session_scope
from tests.catalog.builders import component, group

BOMB = "\n".join(
    [
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def _descriptor(directory: Path, description: object, name: str = "svc") -> Path:
    doc = component(name)
    doc["metadata"]["description"] = description
    path = directory / "catalog-info.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _only_error(path: Path, root: Path | None = None):  # type: ignore[no-untyped-def]
    parsed = read_descriptor(path, path.read_bytes(), root=root)
    assert parsed.entities == []
    (error,) = parsed.problems
    assert error.severity == "error"
    assert error.file == str(path) and error.field == "metadata.description"
    return error


def test_yaml_alias_bomb_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(BOMB)
    path = _descriptor(tmp_path, {"$yaml": "./bomb.yaml"})
    error = _only_error(path)
    assert "could not parse ./bomb.yaml" in error.message


def test_yaml_placeholder_reads_like_the_descriptors_themselves(tmp_path: Path) -> None:
    (tmp_path / "profile.yaml").write_text("displayName: on\nemail: 2024-01-01\n")
    path = tmp_path / "catalog-info.yaml"
    doc = group("team-a")
    doc["spec"]["profile"] = {"$yaml": "./profile.yaml"}
    path.write_text(yaml.safe_dump(doc))
    parsed = read_descriptor(path, path.read_bytes())
    assert parsed.problems == []
    # YAML 1.2, as for the descriptors: "on" is no boolean, a date stays a string.
    assert parsed.entities[0].body["spec"]["profile"] == {
        "displayName": "on",
        "email": "2024-01-01",
    }


@pytest.mark.parametrize("depth", [300, 100_000])
def test_deeply_nested_json_is_refused_with_a_clear_error(tmp_path: Path, depth: int) -> None:
    (tmp_path / "deep.json").write_text("[" * depth + "]" * depth)
    path = _descriptor(tmp_path, {"$json": "./deep.json"})
    error = _only_error(path)
    assert "nested" in error.message and "./deep.json" in error.message


@pytest.mark.parametrize("target", ["../secret.txt", "../../../../../../etc/passwd"])
def test_placeholder_target_outside_the_root_is_refused(tmp_path: Path, target: str) -> None:
    (tmp_path / "secret.txt").write_text("s3cret")
    path = _descriptor(tmp_path / "repo", {"$text": target})
    error = _only_error(path, root=tmp_path / "repo")
    assert "outside" in error.message and target in error.message


def test_absolute_placeholder_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s3cret")
    path = _descriptor(tmp_path / "repo", {"$text": str(tmp_path / "secret.txt")})
    error = _only_error(path, root=tmp_path / "repo")
    assert "absolute" in error.message


def test_placeholder_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s3cret")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").symlink_to(tmp_path / "secret.txt")
    path = _descriptor(repo, {"$text": "./README.md"})
    error = _only_error(path, root=repo)
    assert "outside" in error.message


def test_placeholder_elsewhere_inside_the_root_is_read(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "svc.md").write_text("All about svc")
    path = _descriptor(tmp_path / "services" / "svc", {"$text": "../../docs/svc.md"})
    parsed = read_descriptor(path, path.read_bytes(), root=tmp_path)
    assert parsed.problems == []
    assert parsed.entities[0].body["metadata"]["description"] == "All about svc"
    # Without a root, the file's own directory is the boundary.
    assert "outside" in _only_error(path).message


def _location(directory: Path, *targets: str) -> Path:
    location = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {"name": "root"},
        "spec": {"targets": list(targets)},
    }
    path = directory / "catalog-info.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(location))
    return path


def test_location_targets_outside_the_root_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other-team"
    other.mkdir()
    (other / "team.yaml").write_text(yaml.safe_dump(group("other")))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "linked.yaml").symlink_to(other / "team.yaml")
    _location(
        repo, "../other-team/team.yaml", "../*/team.yaml", str(other / "team.yaml"), "./linked.yaml"
    )
    result = check_paths([repo])
    assert result.entities == 1  # the Location itself; nothing read from other-team
    fields = sorted((p.field, p.message) for p in result.errors)
    assert [field for field, _ in fields] == [f"spec.targets[{i}]" for i in range(4)]
    assert all("outside" in m or "absolute" in m for _, m in fields), fields
    assert all(p.file == str(repo / "catalog-info.yaml") for p in result.errors)


def test_location_targets_inside_the_root_are_followed(tmp_path: Path) -> None:
    (tmp_path / "teams").mkdir()
    (tmp_path / "teams" / "a.yaml").write_text(yaml.safe_dump(group("team-a")))
    (tmp_path / "sub" / "inner").mkdir(parents=True)
    _location(tmp_path / "sub" / "inner", "../../teams/*.yaml")
    result = check_paths([tmp_path / "sub"], boundary=tmp_path)
    assert result.errors == [] and result.entities == 2


def test_a_walked_descriptor_linked_to_a_file_outside_is_not_read(
    engine: Engine, tmp_path: Path
) -> None:
    outside = _descriptor(tmp_path / "elsewhere", "from outside", name="intruder")
    tree = tmp_path / "repo"
    _descriptor(tree / "ok", "inside", name="fine")
    (tree / "linked").mkdir()
    (tree / "linked" / "catalog-info.yaml").symlink_to(outside)
    inside = _descriptor(tree / "shared", "kept inside", name="linked-inside")
    inside = inside.rename(inside.with_name("component.yaml"))  # not walked itself
    (tree / "alias").mkdir()
    (tree / "alias" / "catalog-info.yaml").symlink_to(inside)
    with session_scope(engine) as session:
        report = ingest_source(session, [tree])
    errors = [p for p in report.problems if p.severity == "error"]
    assert [(p.file, p.code) for p in errors] == [
        (str(tree / "linked" / "catalog-info.yaml"), "outside-root")
    ]
    with session_scope(engine) as session:
        assert find_entity(session, "component:intruder") is None
        assert find_entity(session, "component:fine") is not None
        assert find_entity(session, "component:linked-inside") is not None
