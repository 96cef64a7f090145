"""Entity references follow Backstage's parseEntityRef, defaults included."""

from __future__ import annotations

import pytest

from sentier.catalog import RefError, parse_ref


@pytest.mark.parametrize(
    ("text", "default_kind", "expected"),
    [
        ("team-a", "Group", "group:default/team-a"),
        ("user:guest", "Group", "user:default/guest"),
        ("group:ops/SRE", None, "group:ops/sre"),
        ("ops/sre", "Group", "group:ops/sre"),
        ("Component:Default/Payments", None, "component:default/payments"),
        # A "/" before the first ":" makes the rest of the string the name.
        ("ns/weird:name", "API", "api:ns/weird:name"),
    ],
)
def test_parse_with_defaults(text: str, default_kind: str | None, expected: str) -> None:
    assert parse_ref(text, default_kind=default_kind).key == expected


def test_namespace_default_comes_from_the_context() -> None:
    assert parse_ref("db", default_kind="Resource", default_namespace="billing").key == (
        "resource:billing/db"
    )


@pytest.mark.parametrize("text", ["component:", ":name", "ns/", "component:/x"])
def test_empty_parts_are_refused(text: str) -> None:
    with pytest.raises(RefError, match="was not on the form"):
        parse_ref(text, default_kind="Component")


def test_missing_kind_without_default_is_refused() -> None:
    with pytest.raises(RefError, match="missing or empty kind"):
        parse_ref("orders-db")
