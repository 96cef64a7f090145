"""$text/$json/$yaml placeholders resolve from local files; remote ones are kept with a warning."""

from __future__ import annotations

from pathlib import Path

from sentier.catalog import read_descriptor

API = """apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition:
    $text: {target}
"""


def _read(path: Path):  # type: ignore[no-untyped-def]
    return read_descriptor(path, path.read_bytes())


def test_local_text_placeholder_is_inlined(tmp_path: Path) -> None:
    (tmp_path / "openapi.yaml").write_text("openapi: 3.0.0\n")
    path = tmp_path / "catalog-info.yaml"
    path.write_text(API.format(target="./openapi.yaml"))
    parsed = _read(path)
    assert parsed.problems == []
    assert parsed.entities[0].body["spec"]["definition"] == "openapi: 3.0.0\n"
    assert parsed.dependencies == {
        str(tmp_path / "openapi.yaml"): parsed.dependencies[str(tmp_path / "openapi.yaml")]
    }


def test_json_and_yaml_placeholders_are_parsed(tmp_path: Path) -> None:
    (tmp_path / "profile.json").write_text('{"displayName": "Team A"}')
    path = tmp_path / "catalog-info.yaml"
    path.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\n"
        "spec:\n  type: team\n  children: []\n  profile:\n    $json: ./profile.json\n"
    )
    parsed = _read(path)
    assert parsed.entities[0].body["spec"]["profile"] == {"displayName": "Team A"}


def test_remote_placeholder_keeps_the_entity_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_text(API.format(target="https://example.invalid/openapi.yaml"))
    parsed = _read(path)
    assert len(parsed.entities) == 1
    (warning,) = parsed.problems
    assert warning.severity == "warning"
    assert (warning.line, warning.field) == (9, "spec.definition")
    assert "not fetched" in warning.message


def test_missing_local_placeholder_target_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_text(API.format(target="./nowhere.yaml"))
    parsed = _read(path)
    assert parsed.entities == []
    (error,) = parsed.problems
    assert error.severity == "error" and error.field == "spec.definition"
    assert "could not read ./nowhere.yaml" in error.message
