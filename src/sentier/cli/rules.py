"""``sentier rules``: browse the rule packs and run rules' own tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Policy rules: list, show, and run their tests.", no_args_is_help=True)


def _load(rules: list[Path] | None, pack: list[str] | None):  # type: ignore[no-untyped-def]
    from sentier.policy import PolicyError, load_rules

    try:
        return load_rules([str(r) for r in rules or []], packs=pack or None)
    except PolicyError as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(2) from None


@app.command("list")
def list_(
    rules: Annotated[
        list[Path] | None, typer.Option("--rules", help="Extra rule directory.")
    ] = None,
    pack: Annotated[list[str] | None, typer.Option("--pack")] = None,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List rules with their severity, pack and resource types."""
    from rich.table import Table

    from sentier.cli._common import console, print_json

    loaded = _load(rules, pack)
    if json_output:
        print_json([r.summary() for r in loaded])
        return
    table = Table(title=f"{len(loaded)} rules")
    for column in ("id", "severity", "pack", "title", "resources"):
        table.add_column(column)
    for rule in loaded:
        summary = rule.summary()
        table.add_row(
            rule.id, rule.severity, rule.pack, rule.title, ", ".join(summary["resources"][:4])
        )
    console.print(table)


@app.command()
def show(
    rule_id: Annotated[str, typer.Argument(help="Rule id, e.g. SNT-AWS-S3-001.")],
    rules: Annotated[list[Path] | None, typer.Option("--rules")] = None,
) -> None:
    """Show one rule: description, remediation, references, tests."""
    from sentier.cli._common import print_yaml

    found = next((r for r in _load(rules, None) if r.id.lower() == rule_id.lower()), None)
    if found is None:
        sys.stderr.write(f"error: no rule {rule_id}\n")
        raise typer.Exit(2)
    data = found.as_dict()
    data["tests"] = [{"name": t.name, "file": t.filename, "expect": t.expect} for t in found.tests]
    print_yaml(data)


@app.command()
def test(
    rule_ids: Annotated[list[str] | None, typer.Argument(help="Only these rules.")] = None,
    rules: Annotated[
        list[Path] | None, typer.Option("--rules", help="Rule directory to test (custom rules).")
    ] = None,
    pack: Annotated[list[str] | None, typer.Option("--pack")] = None,
) -> None:
    """Run the rules' own positive and negative samples; exit 1 on any failure."""
    from sentier.policy.testing import run_rule_tests

    loaded = _load(rules, pack if pack or not rules else ["__none__"])
    if rule_ids:
        wanted = {r.lower() for r in rule_ids}
        loaded = [r for r in loaded if r.id.lower() in wanted]
    outcomes = run_rule_tests(loaded)
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        sys.stdout.write(f"FAIL {outcome.describe()}\n")
    untested = [r.id for r in loaded if not r.tests]
    for rule_id in untested:
        sys.stdout.write(f"WARN {rule_id}: no tests\n")
    sys.stdout.write(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed\n")
    if failed:
        raise typer.Exit(1)
