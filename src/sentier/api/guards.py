"""Requests refused before any route sees them: a NUL character in the path or the query.

No identifier, name, filter or search term of sentier holds a NUL; PostgreSQL refuses it in
text (``ValueError: A string literal cannot contain NUL``), which made a 500 of 23 query
parameters. Refused here once, as a 400 problem, for every route present and future.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sentier.api.problems import PROBLEM_JSON, Problem


def nul_refusal(scope: Scope) -> str | None:
    """Why this request is refused, or None. The percent-encoded and raw forms both count."""
    query: bytes = scope.get("query_string") or b""
    if b"\x00" in query or b"%00" in query:
        return "a query parameter holds a NUL character (%00)"
    raw_path: bytes = scope.get("raw_path") or b""
    if "\x00" in scope.get("path", "") or b"\x00" in raw_path or b"%00" in raw_path:
        return "the path holds a NUL character (%00)"
    return None


class RefuseNul:
    """Pure ASGI middleware answering 400 (``urn:sentier:problem:nul-character``) to a request
    whose path or query holds a NUL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reason = nul_refusal(scope)
            if reason is not None:
                problem = Problem(400, reason, slug="nul-character")
                instance = scope.get("path", "").replace("\x00", "%00")
                response = JSONResponse(
                    problem.body(instance), status_code=400, media_type=PROBLEM_JSON
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
