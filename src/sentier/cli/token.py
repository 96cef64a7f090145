"""``sentier token``: API tokens (shown once, stored as a salted scrypt hash)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from sentier.cli._common import console, fail, open_store

app = typer.Typer(
    help="API tokens: create, list, revoke, one-time login links.", no_args_is_help=True
)
CLI_ACTOR = "cli (local administrator)"


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. ci.")],
    role: Annotated[str, typer.Option("--role", help="viewer, editor or admin.")] = "viewer",
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Group the token acts for (repeatable).")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime, e.g. 30d, 12h.")
    ] = None,
) -> None:
    """Create a token and print it once; only its salted hash is stored."""
    from sentier import auth
    from sentier.store import session_scope

    if role not in auth.ROLES:
        fail(f"--role must be one of {', '.join(auth.ROLES)}")
    try:
        lifetime = auth.parse_duration(expires) if expires else None
    except ValueError as error:
        fail(str(error))
    with session_scope(open_store()) as session:
        try:
            issued = auth.create_token(
                session,
                name=name,
                role=role,
                groups=group or [],
                expires_in=lifetime,
                created_by=CLI_ACTOR,
            )
        except auth.TokenError as error:
            fail(str(error))
        auth.audit(
            session,
            actor=CLI_ACTOR,
            action="token.create",
            outcome="ok",
            target=issued.id,
            details={"name": name, "role": role, "groups": group or []},
        )
    console.print(f"token [bold]{issued.id}[/] ({name}, {role}) — shown once, store it now:")
    typer.echo(issued.secret)


@app.command("list")
def list_() -> None:
    """List tokens (never their secrets)."""
    from sentier import auth
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        rows = auth.list_tokens(session)
        table = Table(title=f"{len(rows)} tokens")
        for column in ("id", "name", "role", "groups", "created", "expires", "status"):
            table.add_column(column)
        for row in rows:
            status = "revoked" if row.revoked_at else "active"
            table.add_row(
                row.id,
                row.name,
                row.role,
                ", ".join(row.groups or []),
                row.created_at.strftime("%Y-%m-%d"),
                row.expires_at.strftime("%Y-%m-%d") if row.expires_at else "never",
                status,
            )
    console.print(table)


@app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `token list`).")],
) -> None:
    """Revoke a token: it stops working at once, sessions included."""
    from sentier import auth
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        try:
            auth.revoke_token(session, token_id)
        except auth.TokenError as error:
            fail(str(error))
        auth.audit(session, actor=CLI_ACTOR, action="token.revoke", outcome="ok", target=token_id)
    console.print(f"token {token_id} revoked")


@app.command("login-link")
def login_link(
    token_id: Annotated[str, typer.Argument(help="Token whose identity the browser takes.")],
    base_url: Annotated[
        str, typer.Option(help="Where the portal is served.")
    ] = "http://127.0.0.1:8000",
    minutes: Annotated[int, typer.Option(help="Validity of the link.")] = 15,
) -> None:
    """Print a single-use link that logs a browser in as this token."""
    typer.echo(make_login_link(token_id, base_url, minutes))


def make_login_link(token_id: str, base_url: str, minutes: int = 15) -> str:
    from sentier import auth
    from sentier.store import session_scope
    from sentier.store.models import ApiToken

    with session_scope(open_store()) as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            fail(f"no token {token_id}")
        try:
            auth.check_row(row)
        except auth.TokenError as error:
            fail(str(error))
        code = auth.create_login_code(session, row, ttl=timedelta(minutes=minutes))
    return f"{base_url.rstrip('/')}/login/one-time/{code}"
