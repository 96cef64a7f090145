"""Sending one webhook: Standard Webhooks signature, pinned address, bounded response.

The body is the event in CloudEvents structured mode (``application/cloudevents+json``);
``webhook-id`` is the event id (the same on every retry, so receivers deduplicate on it),
``webhook-timestamp`` the send time and ``webhook-signature`` the HMAC-SHA256 of
``id.timestamp.body`` computed by the ``standardwebhooks`` package, so any Standard
Webhooks library verifies it.
"""

from __future__ import annotations

import random
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from standardwebhooks import Webhook

from sentier import __version__
from sentier.events.outbox import STRUCTURED_CONTENT_TYPE
from sentier.events.settings import EventsSettings
from sentier.events.ssrf import Target

EXCERPT_BYTES = 256
USER_AGENT = f"sentier-webhooks/{__version__}"
# Worth retrying: the receiver may recover. Other 4xx (and 3xx: redirects are not followed)
# are permanent and dead-letter at once; 410 Gone disables the subscription.
RETRYABLE_STATUS = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt gave: delivered, or why not and whether trying again may help."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    excerpt: str | None = None
    retryable: bool = False
    gone: bool = False
    refused: bool = False  # the SSRF check refused the target (audited)


def classify(status_code: int) -> tuple[bool, bool, bool]:
    """``(ok, retryable, gone)`` for an HTTP status."""
    if 200 <= status_code < 300:
        return True, False, False
    if status_code == 410:
        return False, False, True
    return False, status_code >= 500 or status_code in RETRYABLE_STATUS, False


def backoff_delay(
    attempts: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with "equal jitter": between half and all of ``base * 2**(n-1)``.

    Half fixed keeps retries from bunching at zero; half random spreads receivers' load
    when many deliveries failed together (an outage ends).
    """
    rng = rng or random.Random()
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


def sign(secret: str, msg_id: str, timestamp: datetime, body: bytes) -> str:
    return Webhook(secret).sign(msg_id, timestamp, body.decode("utf-8"))


class Sender:
    """An HTTP client shared by every delivery of a dispatcher (keep-alive, timeouts).

    aiohttp rather than httpx: sending is the dispatcher's main cost, and on this path aiohttp
    spends about a fifth of httpx's CPU per request (bench/events.py). Certificates are checked
    against the system's trust store plus ``SENTIER_EVENTS_CA_FILE`` (an internal CA), for the
    URL's host name while the connection goes to the address that was checked.
    """

    def __init__(self, settings: EventsSettings) -> None:
        read = settings.read_timeout_seconds
        connect = settings.connect_timeout_seconds
        # sock_read restarts at each chunk; ``total`` bounds a receiver that trickles bytes.
        self._timeout = aiohttp.ClientTimeout(
            total=connect + 2 * read, sock_connect=connect, sock_read=read
        )
        self._ca_file = settings.ca_file
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the dispatcher's event loop.
        if self._session is None or self._session.closed:
            context = ssl.create_default_context(
                cafile=str(self._ca_file) if self._ca_file else None
            )
            if self._ca_file:
                context.load_default_certs()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, ssl=context),
                timeout=self._timeout,
                trust_env=False,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, target: Target, webhook: Webhook, msg_id: str, body: bytes) -> Outcome:
        now = datetime.now(UTC)
        headers = {
            "content-type": STRUCTURED_CONTENT_TYPE,
            "user-agent": USER_AGENT,
            "host": target.host_header,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": webhook.sign(msg_id, now, body.decode("utf-8")),
        }
        started = time.perf_counter()
        try:
            async with self._client().post(
                target.pinned_url(),
                data=body,
                headers=headers,
                allow_redirects=False,
                # TLS: SNI and certificate check for the name; the socket to the checked address.
                server_hostname=target.host if target.scheme == "https" else None,
            ) as response:
                status = response.status
                # At most an excerpt: a receiver's reply is not ours to keep.
                excerpt = await response.content.read(EXCERPT_BYTES)
        except TimeoutError as error:
            return Outcome(
                False,
                error=f"timeout: {type(error).__name__}",
                retryable=True,
                duration_ms=_ms(started),
            )
        except aiohttp.ClientError as error:
            return Outcome(
                False,
                error=f"connection error: {error or type(error).__name__}",
                retryable=True,
                duration_ms=_ms(started),
            )
        ok, retryable, gone = classify(status)
        return Outcome(
            ok,
            status_code=status,
            error=None if ok else f"HTTP {status}",
            duration_ms=_ms(started),
            excerpt=excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace") or None,
            retryable=retryable,
            gone=gone,
        )


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
