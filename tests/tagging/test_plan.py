"""The tagging plan reads messy real-world tags the same way for policy and FinOps."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentier.tagging import TaggingError, TaggingPlan, load_plan

DEFAULT = Path(__file__).parents[2] / "src" / "sentier" / "tagging" / "default-plan.yaml"


@pytest.fixture
def plan() -> TaggingPlan:
    return load_plan(DEFAULT)


def test_aliases_case_and_whitespace_are_read_into_canonical_keys(plan: TaggingPlan) -> None:
    tags = {" Environment ": "Prod", "Owner": "team-payments", "application": "checkout"}
    assert plan.normalise(tags) == {
        "environment": "production",
        "team": "team-payments",
        "service": "checkout",
    }
    assert plan.is_compliant(tags)


def test_missing_and_not_allowed_values_are_reported(plan: TaggingPlan) -> None:
    violations = plan.check({"env": "sandbox", "team": "team-a"})
    kinds = {(v.key, v.kind) for v in violations}
    assert kinds == {("service", "missing"), ("environment", "not-allowed")}


def test_defaults_by_sub_account_fill_gaps() -> None:
    plan = TaggingPlan.from_data(
        {
            "keys": {"team": {"required": True}, "environment": {"required": True}},
            "defaults_by_sub_account": {"111122223333": {"environment": "production"}},
        }
    )
    assert plan.check({"team": "x"}, sub_account="111122223333") == []
    assert [v.key for v in plan.check({"team": "x"}, sub_account="999")] == ["environment"]


def test_unknown_tag_keys_are_kept_and_empty_values_count_as_absent(plan: TaggingPlan) -> None:
    normalised = plan.normalise({"Project": "apollo", "team": "  "})
    assert normalised == {"Project": "apollo"}


def test_bad_plan_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("version: 1\nkeys:\n  team:\n    required: true\n    pattern: '[a-'\n")
    with pytest.raises(TaggingError) as caught:
        load_plan(path)
    assert str(caught.value).startswith(f"{path}:5: keys.team.pattern: not a valid regular")


def test_alias_claimed_twice_is_refused() -> None:
    with pytest.raises(TaggingError, match="claimed by both"):
        TaggingPlan.from_data(
            {"keys": {"team": {"aliases": ["owner"]}, "owner-team": {"aliases": ["Owner"]}}}
        )
