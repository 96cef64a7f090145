"""``sentier scan`` and ``sentier findings``: IaC security as code from the command line.

Imports stay inside the commands so ``sentier scan`` starts fast (no SQLAlchemy or pydantic
unless ``--store`` is given).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class ScanFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    junit = "junit"


class Threshold(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"
    none = "none"


def _error(message: str, code: int = 2) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def scan(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files or directories: .tf, plan/state JSON, Kubernetes YAML."),
    ],
    format: Annotated[
        ScanFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ScanFormat.text,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here.")
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Extra rule directory or file (repeatable)."),
    ] = None,
    pack: Annotated[
        list[str] | None, typer.Option("--pack", help="Only these built-in packs (repeatable).")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Accept findings listed in this baseline file."),
    ] = None,
    write_baseline: Annotated[
        Path | None,
        typer.Option("--write-baseline", help="Write the open findings as a baseline and exit 0."),
    ] = None,
    fail_on: Annotated[
        Threshold,
        typer.Option("--fail-on", help="Exit 1 when an open finding is at least this severe."),
    ] = Threshold.high,
    var_file: Annotated[
        list[Path] | None, typer.Option("--var-file", help="Terraform variables file (repeatable).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Policy configuration (default: ./sentier-policy.yaml)."),
    ] = None,
    tagging_plan: Annotated[
        Path | None, typer.Option("--tagging-plan", help="Tagging plan for the tagging pack.")
    ] = None,
    store: Annotated[
        bool,
        typer.Option(
            "--store", help="Store findings, attribute them to catalog entities, emit events."
        ),
    ] = False,
    target: Annotated[
        str | None,
        typer.Option("--target", help="Name under which scans are compared (default: the paths)."),
    ] = None,
    show_suppressed: Annotated[
        bool, typer.Option("--show-suppressed", help="List suppressed and baselined findings too.")
    ] = False,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="Directory SARIF and JUnit paths are relative to "
            "(default: the git repository scanned, else the paths' common directory).",
        ),
    ] = None,
) -> None:
    """Scan infrastructure code; exit 1 when open findings reach --fail-on, 2 on bad input."""
    from sentier.policy import PolicyError, find_config, load_config, render, scan_paths
    from sentier.policy.scan import load_tagging_plan, select_rules

    try:
        cfg = load_config(str(config) if config else find_config("."))
        rule_list = select_rules(cfg, rules_dirs=[str(r) for r in rules or []], packs=pack or None)
        plan = None
        if any(r.pack == "tagging" for r in rule_list):
            plan = load_tagging_plan(cfg, str(tagging_plan) if tagging_plan else None)
        result = scan_paths(
            [str(p) for p in paths],
            rules=rule_list,
            config=cfg,
            var_files=[str(v) for v in var_file or []],
            baseline=str(baseline) if baseline else None,
            tagging_plan=plan,
            root=str(root) if root else None,
        )
    except PolicyError as error:
        raise _error(str(error)) from None
    if write_baseline is not None:
        from sentier.policy import write_baseline as write

        count = write(result.findings, str(write_baseline))
        sys.stderr.write(f"baseline with {count} findings written to {write_baseline}\n")
        raise typer.Exit(0)
    report = render(result, format.value, show_suppressed=show_suppressed)
    if output is not None:
        output.write_text(report, encoding="utf-8")
        sys.stderr.write(
            render(result, "text").splitlines()[-1] + f"\nreport written to {output}\n"
        )
    else:
        sys.stdout.write(report)
    if store:
        _store(result, target, cfg)
    failing = result.failing(fail_on.value)
    if failing:
        raise typer.Exit(1)


def _store(result, target, cfg) -> None:  # type: ignore[no-untyped-def]
    from sentier.cli._common import open_store
    from sentier.policy.store import record_scan
    from sentier.store import session_scope

    engine = open_store()
    with session_scope(engine) as session:
        changes = record_scan(
            session,
            result,
            target=target,
            mappings=cfg.path_mappings,
            root=str(Path(cfg.source).parent) if cfg.source else ".",
        )
    sys.stderr.write(
        f"stored scan {changes['scan_id']} of {changes['target']}: "
        f"{changes['new']} new, {changes['still_open']} still open, {changes['fixed']} fixed\n"
    )


findings_app = typer.Typer(help="Stored findings: by entity, owner or scan.", no_args_is_help=True)


@findings_app.command("list")
def findings_list(
    entity: Annotated[
        str | None, typer.Option(help="Entity reference, e.g. component:default/payments.")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Owner group reference.")] = None,
    scan_id: Annotated[
        int | None, typer.Option("--scan", help="One scan instead of the latest per target.")
    ] = None,
    include_fixed: Annotated[bool, typer.Option("--include-fixed")] = False,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Findings of the latest scan of every target, with their new/still-open/fixed state."""
    from rich.table import Table

    from sentier.catalog import resolve_ref
    from sentier.cli._common import console, open_store, print_json
    from sentier.policy.store import list_findings
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        rows = list_findings(
            session,
            entity=resolve_ref(entity, default_kind="component") if entity else None,
            owner=resolve_ref(owner, default_kind="group") if owner else None,
            scan_id=scan_id,
            include_fixed=include_fixed,
        )
    if json_output:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} findings")
    for column in ("state", "severity", "rule", "where", "entity", "message"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["state"],
            row["severity"],
            row["rule_id"],
            f"{row['file']}:{row['line']}",
            row["entity_ref"] or "(unattributed)",
            row["message"],
        )
    console.print(table)


@findings_app.command("scans")
def findings_scans(json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Stored scans, newest first, with how many findings each opened and fixed."""
    from rich.table import Table

    from sentier.cli._common import console, open_store, print_json
    from sentier.policy.store import list_scans
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        scans = list_scans(session)
    if json_output:
        print_json(scans)
        return
    table = Table(title="policy scans")
    for column in ("id", "when", "target", "new", "still open", "fixed"):
        table.add_column(column)
    for s in scans:
        table.add_row(
            str(s["id"]),
            s["started_at"],
            s["target"],
            str(s["new"]),
            str(s["still_open"]),
            str(s["fixed"]),
        )
    console.print(table)
