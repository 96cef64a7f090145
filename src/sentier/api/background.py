"""Background work that ``sentier serve`` runs beside the API (webhook dispatch, consumers...).

A domain registers a starter: called once the app starts, it returns something with an async
``stop()`` (awaited at shutdown). Starters must be idempotent across several worker processes
(state lives in the database, so leases or locks there decide who does what).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol


class Running(Protocol):
    def stop(self) -> Awaitable[None]: ...


Starter = Callable[[], Running | None]
STARTERS: list[Starter] = []
