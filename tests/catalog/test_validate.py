"""Descriptors are judged by Backstage's rules; each broken file yields one precise error."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentier.catalog import read_descriptor, validate_document
from sentier.catalog.check import check_paths

BROKEN = Path(__file__).parent / "broken"

# file -> (line, field, start of the message): exactly one error each.
EXPECTED = {
    "bad-yaml.yaml": (8, None, "YAML syntax error: did not find expected ','"),
    "wrong-apiversion.yaml": (
        1,
        "apiVersion",
        '"backstage.io/v2" is not supported for kind Component',
    ),
    "name-too-long.yaml": (4, "metadata.name", '"this-component-name-…" is 76 characters long'),
    "missing-owner.yaml": (7, "spec.owner", "required"),
    "bad-reference.yaml": (11, "spec.dependsOn[1]", 'entity reference "ledger-db" had missing'),
    "bad-tag.yaml": (7, "metadata.tags[1]", 'tag "Public API" is not valid'),
    "unknown-kind.yaml": (2, "kind", 'unsupported kind "Service"'),
    "bad-namespace.yaml": (5, "metadata.namespace", '"Logistics_EU" is not valid'),
    "mcp-without-remotes.yaml": (5, "spec.remotes", "required for APIs of type mcp-server"),
    "not-a-mapping.yaml": (1, None, "document is not a mapping"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_broken_descriptor_gives_exactly_one_precise_error(name: str) -> None:
    path = (BROKEN / name).resolve()
    parsed = read_descriptor(path, path.read_bytes())
    errors = [p for p in parsed.problems if p.severity == "error"]
    assert len(errors) == 1, [str(e) for e in errors]
    line, field, message = EXPECTED[name]
    (error,) = errors
    assert (error.file, error.line, error.field) == (str(path), line, field)
    assert error.message.startswith(message), error.message
    assert parsed.entities == []


def test_duplicate_entity_in_a_tree_is_one_error_pointing_at_both() -> None:
    result = check_paths([BROKEN / "duplicate-entity.yaml"])
    assert result.entities == 1
    (error,) = result.errors
    assert error.code == "duplicate"
    assert error.line == 12
    assert error.message == (
        f"duplicate entity resource:default/orders-db, already defined at "
        f"{(BROKEN / 'duplicate-entity.yaml').resolve()}:1"
    )


def test_broken_corpus_as_a_whole_has_one_error_per_file() -> None:
    result = check_paths([BROKEN / name for name in sorted(EXPECTED)])
    assert len(result.errors) == len(EXPECTED)


def _component(**spec: object) -> dict[str, object]:
    base: dict[str, object] = {"type": "service", "lifecycle": "production", "owner": "team-a"}
    base.update(spec)
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "svc"},
        "spec": base,
    }


def test_valid_entity_gets_the_default_namespace() -> None:
    entity, issues = validate_document(_component())
    assert issues == []
    assert entity is not None and entity["metadata"]["namespace"] == "default"


@pytest.mark.parametrize(
    ("doc", "field", "message"),
    [
        (_component(owner=12), "spec.owner", "must be a string"),
        (_component(dependsOn="resource:db"), "spec.dependsOn", "must be a list"),
        (_component(owner=""), "spec.owner", "must not be empty"),
        ({**_component(), "extra": 1}, "extra", "unknown root field"),
        (
            {**_component(), "metadata": {"name": "svc", "labels": {"tier": "gold tier"}}},
            "metadata.labels.tier",
            '"gold tier" is not a valid label value',
        ),
        (
            {**_component(), "metadata": {"name": "svc", "annotations": {"a/b/c": "x"}}},
            "metadata.annotations.a/b/c",
            '"a/b/c" is not a valid annotation key',
        ),
    ],
)
def test_field_rules(doc: dict[str, object], field: str, message: str) -> None:
    entity, issues = validate_document(doc)
    assert entity is None
    assert [(i.field, i.message) for i in issues] == [(field, message)]


def test_group_requires_children_and_user_requires_member_of() -> None:
    group = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": "g"},
        "spec": {"type": "team"},
    }
    user = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "User",
        "metadata": {"name": "u"},
        "spec": {},
    }
    assert [i.field for i in validate_document(group)[1]] == ["spec.children"]
    assert [i.field for i in validate_document(user)[1]] == ["spec.memberOf"]


def test_template_uses_the_scaffolder_api_version() -> None:
    template = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "t"},
        "spec": {"type": "service", "steps": []},
    }
    assert validate_document(template)[1] == []
    template["apiVersion"] = "backstage.io/v1alpha1"
    assert [i.field for i in validate_document(template)[1]] == ["apiVersion"]


def test_ai_resource_types_require_their_fields() -> None:
    doc = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "AiResource",
        "metadata": {"name": "review"},
        "spec": {"type": "plugin", "lifecycle": "production", "owner": "team-a"},
    }
    assert [(i.field, i.message) for i in validate_document(doc)[1]] == [
        ("spec.skills", "required for AI resources of type plugin")
    ]
