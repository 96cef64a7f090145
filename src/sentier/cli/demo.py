"""``sentier demo``: the deterministic demo organisation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentier.cli._common import console

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="The demo organisation: generate it, or build and serve it.", no_args_is_help=True
)


@app.command()
def generate(
    directory: Annotated[Path, typer.Argument(help="Where to write the organisation's files.")],
    seed: Annotated[int, typer.Option(help="Same seed, same organisation.")] = 42,
) -> None:
    """Write the demo organisation as real files (catalog descriptors and more)."""
    from sentier.demo import generate_organisation

    summary = generate_organisation(directory, seed=seed)
    console.print(f"demo organisation written to [bold]{directory}[/]")
    for key, value in summary.items():
        console.print(f"  {key}: {value}")


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Port of the portal.")] = 8000,
    seed: Annotated[int, typer.Option(help="Seed of the organisation.")] = 42,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server.")] = True,
) -> None:
    """Generate the demo organisation under SENTIER_HOME, ingest it, print how to log in, serve."""
    from sentier import auth
    from sentier.catalog import ingest_source
    from sentier.cli._common import open_store
    from sentier.cli.token import make_login_link
    from sentier.config import get_settings
    from sentier.demo import generate_organisation
    from sentier.store import session_scope

    settings = get_settings()
    directory = settings.home / "demo"
    generate_organisation(directory, seed=seed)
    engine = open_store()
    with session_scope(engine) as session:
        report = ingest_source(session, [directory / "catalog"], name="demo-organisation")
        _audit(
            session,
            "source.ingest",
            "demo-organisation",
            {"path": str(directory / "catalog"), **report.summary()},
        )
    console.print(
        f"demo organisation in [bold]{directory}[/]: {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.warnings)} warnings (deliberate mistakes)"
    )
    _scan_terraform(engine, directory / "terraform")
    _ingest_alert_storm(engine, directory / "aiops" / "alerts" / "storm.json")
    # FinOps: the demo billing with its allocation rules and KPIs, budgets, anomalies.
    from sentier.finops.demo import load_demo_billing

    billing = load_demo_billing(engine, directory, settings.home)
    with session_scope(engine) as session:
        details = {"rows": billing.rows, "files": billing.files, "budgets": billing.budgets}
        _audit(session, "finops.ingest", str(directory / "billing"), details)
    console.print(billing.summary())
    _greenops_step(engine, directory)
    with session_scope(engine) as session:
        issued = auth.create_token(session, name="demo-admin", role="admin", created_by=DEMO_ACTOR)
        _audit(session, "token.create", issued.id, {"name": "demo-admin", "role": "admin"})
    base = f"http://127.0.0.1:{port}"
    link = make_login_link(issued.id, base, minutes=60)
    console.print()
    console.print("[bold]Open the portal[/] (one-click login, valid once, for 60 minutes):")
    typer.echo(f"  {link}")
    console.print(
        "[bold]Or log in[/] at " + base + "/login with this admin token (also for the API):"
    )
    typer.echo(f"  {issued.secret}")
    console.print(
        f"  e.g. curl -H 'Authorization: Bearer {issued.secret[:12]}…' {base}/api/v1/entities"
    )
    console.print()
    if serve:
        from sentier.cli.serve import serve as run_server

        run_server(host="127.0.0.1", port=port, workers=1, log_level="warning")


# Who the audit trail names for what ``demo up`` does: a local administrator at the console.
DEMO_ACTOR = "cli: sentier demo up (local administrator)"


def _audit(session: Any, action: str, target: str, details: dict[str, Any]) -> None:
    """Record one step of the demo in the audit trail, in the step's own transaction."""
    from sentier import auth

    auth.audit(
        session, actor=DEMO_ACTOR, action=action, outcome="ok", target=target, details=details
    )


def _ingest_alert_storm(engine: Engine, storm: Path) -> None:
    """The demo's alert storm: two independent faults, correlated into incidents."""
    from sentier.aiops.alerts import ingest_alerts, list_incidents, normalise_text
    from sentier.store import session_scope

    with session_scope(engine) as session:
        alerts = normalise_text(storm.read_text(encoding="utf-8"), str(storm)).alerts
        ingest_alerts(session, alerts)
        _audit(session, "alerts.ingest", str(storm), {"alerts": len(alerts)})
        still_open = list_incidents(session, statuses=["open"])
    causes = ", ".join(sorted(str(i["root_cause"]) for i in still_open))
    console.print(
        f"alert storm: {len(alerts)} notifications, {len(still_open)} open incidents "
        f"(likely root causes: {causes or 'none'}); see /incidents"
    )


def _scan_terraform(engine, terraform: Path) -> None:  # type: ignore[no-untyped-def]
    """Scan the demo's Terraform and store the findings on its systems' pages."""
    from sentier.policy import load_config, record_scan, scan_paths
    from sentier.store import session_scope

    config = load_config(str(terraform / "sentier-policy.yaml"))
    result = scan_paths([str(terraform)], config=config)
    with session_scope(engine) as session:
        record_scan(
            session,
            result,
            target="demo-terraform",
            mappings=config.path_mappings,
            root=str(terraform),
        )
        _audit(session, "policy.scan", "demo-terraform", {"open": len(result.open)})
    console.print(
        f"security scan of the demo Terraform: {len(result.open)} open findings "
        "(see /policy in the portal)"
    )


def _greenops_step(engine: Any, directory: Path) -> None:
    """GreenOps: the demo billing (if not ingested yet) and its machines' facts, for carbon."""
    from sentier.analytics import FactStore
    from sentier.finops import ingest
    from sentier.greenops import read_resource_csv, resource_sources, store_resource_facts
    from sentier.store import session_scope

    if not FactStore.default().dataset("finops").manifest().periods():
        report = ingest(engine, [directory / "billing"])
        console.print(f"demo billing: {report.rows:,} lines ingested ({report.status})")
        with session_scope(engine) as session:
            _audit(session, "finops.ingest", str(directory / "billing"), {"rows": report.rows})
    with session_scope(engine) as session:
        if not any(s["source"] == "demo-inventory" for s in resource_sources(session)):
            facts = read_resource_csv(directory / "greenops" / "resources.csv")
            store_resource_facts(session, "demo-inventory", facts)
            _audit(session, "greenops.resources", "demo-inventory", {"facts": len(facts)})
            console.print(f"demo machines: {len(facts)} instance types and CPU averages")
