"""Errors as RFC 9457 problem details (``application/problem+json``), one stable type per error.

Under ``/api/catalog`` (the Backstage-compatible catalog API) the same errors take Backstage's
shape instead, ``{error: {name, message}, request, response: {statusCode}}``, so that
Backstage's clients raise the error class they expect (``NotFoundError``, ``InputError``...).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
_BASE = "urn:sentier:problem:"

TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-request", "Invalid request"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


class Problem(Exception):
    """Raise from any route: becomes a problem+json response with a stable ``type``."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        default_slug, default_title = TITLES.get(status, ("error", "Error"))
        self.status = status
        self.detail = detail
        self.slug = slug or default_slug
        self.title = title or default_title
        self.headers = headers
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body = {
            "type": _BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


BACKSTAGE_PREFIX = "/api/catalog"
# Backstage's error names (@backstage/errors) by status; a request validation error (422 here)
# is Backstage's InputError, a 400.
BACKSTAGE_NAMES = {
    400: "InputError",
    401: "AuthenticationError",
    403: "NotAllowedError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    429: "TooManyRequestsError",
    501: "NotImplementedError",
    503: "ServiceUnavailableError",
}


def is_backstage(request: Request) -> bool:
    path = request.url.path
    return path == BACKSTAGE_PREFIX or path.startswith(BACKSTAGE_PREFIX + "/")


def backstage_error(
    status: int, message: str, request: Request, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error in the shape Backstage's backends send and its clients parse."""
    status = 400 if status == 422 else status
    url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return JSONResponse(
        {
            "error": {"name": BACKSTAGE_NAMES.get(status, "Error"), "message": message},
            "request": {"method": request.method, "url": url},
            "response": {"statusCode": status},
        },
        status_code=status,
        headers=headers,
    )


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    if request is not None and is_backstage(request):
        return backstage_error(problem.status, problem.detail, request, problem.headers)
    return JSONResponse(
        problem.body(request.url.path if request else None),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


async def handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


async def handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    problem = Problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
    return problem_response(problem, request)


async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"location": "", "message": "invalid request"}
    problem = Problem(422, f"{first['location']}: {first['message']}", errors=errors)
    return problem_response(problem, request)


# Seconds a client is asked to wait when the database is restarting or busy.
RETRY_AFTER_SECONDS = 2


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Any other error: a 503 if the database was unavailable or busy, else a 500.

    Registered for ``Exception`` (Starlette's outermost handler, which re-raises so the server
    logs it) and for SQLAlchemy's database errors (answered inside, logged here only).
    """
    # The details stay in the server's log; the client gets a stable, non-revealing error.
    import logging

    from sentier.store import is_transient
    from sentier.store.retry import describe

    log = logging.getLogger("sentier.api")
    if is_transient(exc):
        # The database restarting, a lost connection, a lock or serialization conflict: the
        # request was not at fault and may be sent again.
        log.warning("database unavailable on %s: %s", request.url.path, describe(exc))
        problem = Problem(
            503,
            "the database is unavailable or busy; retry shortly",
            slug="database-unavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        return problem_response(problem, request)
    log.exception("unhandled error on %s", request.url.path)
    return problem_response(Problem(500, "an unexpected error occurred"), request)
