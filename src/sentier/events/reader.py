"""Reading the outbox in commit order, never skipping a row that commits late.

On SQLite one writer at a time holds the database, so ids are committed in increasing order
and a reader can page by id. On PostgreSQL ids come from a sequence at insert time: a
transaction that took id 41 may commit after the one that took id 42, and a reader that
keeps only "the last id seen" would skip 41 forever. There, every outbox row carries the id
of its writing transaction (``tx``, a server default), and a reader only takes rows whose
transaction is older than the *horizon* — the oldest transaction of this database still
running (or the next transaction id when none is). Every row still to come belongs to a
transaction at or past the horizon, so ordering by ``(tx, id)`` gives a total order that
never inserts into the past, and a cursor ``(tx, id)`` is a safe high-water mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Engine, func, select, text, tuple_, update
from sqlalchemy.orm import Session

from sentier.store.models import EventCursor, OutboxEvent

# Transactions of *this* database still running, as full (epoch-qualified) ids. Other
# databases of the cluster never write our outbox, so their long transactions must not hold
# our delivery back; pg_stat_activity tells which backends are ours.
_HORIZON_LOCAL = text(
    """
    SELECT least(
        pg_snapshot_xmax(s)::text::bigint,
        (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) AS x
          WHERE x::text::bigint % 4294967296 IN (
            SELECT a.backend_xid::text::bigint FROM pg_stat_activity AS a
             WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL))
    )
    FROM pg_current_snapshot() AS s
    """
)
# Without the right to see other roles' backends, fall back to the cluster-wide horizon:
# as safe, only slower when another database keeps a transaction open.
_HORIZON_CLUSTER = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
_CAN_READ_ALL_STATS = text(
    "SELECT rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') "
    "FROM pg_roles WHERE rolname = current_user"
)

_local_horizon_allowed: dict[str, bool] = {}


@dataclass(frozen=True, slots=True)
class Position:
    """Where a reader stands: the last row read, by ``(tx, id)`` (``tx`` is 0 on SQLite)."""

    tx: int = 0
    last_id: int = 0


def horizon(engine: Engine) -> int | None:
    """The PostgreSQL horizon (see the module doc), or None on SQLite where it is not needed.

    Runs in its own short transaction: pg_stat_activity is a per-transaction snapshot.
    """
    if engine.dialect.name != "postgresql":
        return None
    key = str(engine.url)
    with engine.connect() as connection:
        allowed = _local_horizon_allowed.get(key)
        if allowed is None:
            allowed = bool(connection.execute(_CAN_READ_ALL_STATS).scalar())
            _local_horizon_allowed[key] = allowed
        value = connection.execute(_HORIZON_LOCAL if allowed else _HORIZON_CLUSTER).scalar()
        connection.rollback()
    return int(value or 0)


def horizon_for(session: Session) -> int | None:
    """The horizon for the engine ``session`` is bound to."""
    bind = session.get_bind()
    return horizon(bind if isinstance(bind, Engine) else bind.engine)


def _after(position: Position, tx_order: bool) -> ColumnElement[bool]:
    if not tx_order:
        return OutboxEvent.id > position.last_id
    return tuple_(OutboxEvent.tx, OutboxEvent.id) > tuple_(position.tx, position.last_id)


def read_after(
    session: Session, position: Position, horizon_tx: int | None, limit: int
) -> Sequence[OutboxEvent]:
    """The next rows after ``position`` that are safe to read, in delivery order."""
    query = select(OutboxEvent).where(_after(position, horizon_tx is not None))
    if horizon_tx is not None:
        query = query.where(OutboxEvent.tx < horizon_tx).order_by(OutboxEvent.tx, OutboxEvent.id)
    else:
        query = query.order_by(OutboxEvent.id)
    return session.scalars(query.limit(limit)).all()


def has_rows_after(session: Session, position: Position, horizon_tx: int | None) -> bool:
    """Whether a row is readable after ``position``: a read-only check before taking a lock."""
    query = select(OutboxEvent.id).where(_after(position, horizon_tx is not None))
    if horizon_tx is not None:
        query = query.where(OutboxEvent.tx < horizon_tx)
    return session.scalar(query.limit(1)) is not None


def end_position(session: Session, horizon_tx: int | None) -> Position:
    """The position just after the last row that is safe to read now."""
    if horizon_tx is None:
        last = session.scalar(select(func.max(OutboxEvent.id)))
        return Position(0, int(last or 0))
    row = session.execute(
        select(OutboxEvent.tx, OutboxEvent.id)
        .where(OutboxEvent.tx < horizon_tx)
        .order_by(OutboxEvent.tx.desc(), OutboxEvent.id.desc())
        .limit(1)
    ).first()
    return Position(int(row[0] or 0), int(row[1])) if row else Position()


def position_of(row: OutboxEvent) -> Position:
    return Position(int(row.tx or 0), row.id)


def claim_cursor(
    session: Session, name: str, horizon_tx: int | None, *, start_at_end: bool = True
) -> Position:
    """Lock the cursor ``name`` for this transaction (creating it) and return its position.

    The first statement writes, so the row lock (PostgreSQL) or the write lock (SQLite) is
    held until commit: two routers never route the same rows.
    """
    now = datetime.now(UTC)
    locked = session.execute(
        update(EventCursor).where(EventCursor.name == name).values(updated_at=now)
    )
    if locked.rowcount == 0:  # type: ignore[attr-defined]
        start = end_position(session, horizon_tx) if start_at_end else Position()
        _insert_cursor(session, name, start)
    cursor = session.get(EventCursor, name, with_for_update=True)
    assert cursor is not None
    return Position(cursor.tx, cursor.last_id)


def _insert_cursor(session: Session, name: str, start: Position) -> None:
    values = {
        "name": name,
        "tx": start.tx,
        "last_id": start.last_id,
        "events": 0,
        "updated_at": datetime.now(UTC),
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(EventCursor).values(values).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(EventCursor).values(values).on_conflict_do_nothing())
    session.execute(update(EventCursor).where(EventCursor.name == name).values(updated_at=now()))


def now() -> datetime:
    return datetime.now(UTC)


def ensure_cursor(session: Session, name: str, horizon_tx: int | None) -> Position:
    """Create the cursor ``name`` at the current end if it does not exist; its position."""
    cursor = session.get(EventCursor, name)
    if cursor is not None:
        return Position(cursor.tx, cursor.last_id)
    start = end_position(session, horizon_tx)
    _insert_cursor(session, name, start)
    return start


def read_cursor(session: Session, name: str) -> Position | None:
    cursor = session.get(EventCursor, name)
    return None if cursor is None else Position(cursor.tx, cursor.last_id)


def advance_cursor(
    session: Session, name: str, expected: Position, new: Position, count: int
) -> bool:
    """Move ``name`` from ``expected`` to ``new``; False when someone else moved it first."""
    result = session.execute(
        update(EventCursor)
        .where(
            EventCursor.name == name,
            EventCursor.tx == expected.tx,
            EventCursor.last_id == expected.last_id,
        )
        .values(
            tx=new.tx,
            last_id=new.last_id,
            events=EventCursor.events + count,
            updated_at=now(),
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def set_cursor(session: Session, name: str, position: Position) -> None:
    """Put ``name`` at ``position`` (creating it): replay from there, or skip ahead."""
    if session.get(EventCursor, name) is None:
        _insert_cursor(session, name, position)
        return
    session.execute(
        update(EventCursor)
        .where(EventCursor.name == name)
        .values(tx=position.tx, last_id=position.last_id, updated_at=now())
    )


def cursors(session: Session) -> list[dict[str, object]]:
    """Every reader's position and how many events it has taken, as plain data."""
    return [
        {
            "name": c.name,
            "tx": c.tx,
            "last_id": c.last_id,
            "events": c.events,
            "updated_at": c.updated_at,
        }
        for c in session.scalars(select(EventCursor).order_by(EventCursor.name))
    ]
