"""The one way sentier shows a URL that may carry a receiver's secret.

Receivers keep their credential in the URL as often as not: a query token
(``?token=...``, ``?key=...``), user info (``user:pass@``), or a path segment (Slack's
``/services/T0/B0/<token>``, Discord's ``/api/webhooks/<id>/<token>``). Whoever may not manage
a subscription (a viewer), and every place a URL is copied into — an attempt's error, a
delivery's ``last_error``, an event such as ``delivery.deadlettered``, the audit trail, a log
line — gets the URL through :func:`redact_url` (or :func:`redact_text` for free text), so a
secret is never shown to, or stored for, someone who could not read it from the subscription.

What stays: scheme, host, port and the path's ordinary segments — enough to recognise the
receiver. What goes: user info, query (``?redacted``), fragment, and path segments that look
like tokens (16 characters or more from the URL-safe alphabet, with a digit or a capital:
a long all-lower-case segment such as ``deployment-notifications`` reads as a name and stays).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "redacted"
_TOKEN_SEGMENT = re.compile(r"^[A-Za-z0-9_\-.~%+=:]{16,}$")
# A URL inside free text: a scheme, then everything up to whitespace or a quote/bracket.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{1,15}://[^\s\"'<>`]+")


def _looks_like_token(segment: str) -> bool:
    if not _TOKEN_SEGMENT.match(segment):
        return False
    return any(c.isdigit() or c.isupper() for c in segment)


def redact_url(url: str) -> str:
    """``url`` without user info, query, fragment or token-like path segments."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if not parts.scheme or not parts.netloc:
        # Not an absolute URL: nothing recognisable to keep.
        return REDACTED if url else url
    netloc = parts.netloc.rpartition("@")[2]
    path = "/".join(
        REDACTED if _looks_like_token(segment) else segment for segment in parts.path.split("/")
    )
    query = REDACTED if parts.query else ""
    fragment = REDACTED if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (an error message, a log line)."""
    if "://" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        # Punctuation that ends a sentence is the text's, not the URL's.
        url = match.group(0)
        core = url.rstrip(".,;:!?)]}")
        return redact_url(core) + url[len(core) :]

    return _URL_IN_TEXT.sub(replace, text)


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact_text(text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts URLs in a record's message and traceback.

    Attached to the events domain's loggers: an HTTP client's exception may quote the URL it
    was sending to, query token included.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def redacting_logger(name: str) -> logging.Logger:
    """The logger ``name`` with a :class:`RedactingFilter` (added once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
