"""Sending one webhook: Standard Webhooks signature, pinned address, bounded response.

The body is the event in CloudEvents structured mode (``application/cloudevents+json``);
``webhook-id`` is the event id (the same on every retry, so receivers deduplicate on it),
``webhook-timestamp`` the send time and ``webhook-signature`` the HMAC-SHA256 of
``id.timestamp.body`` computed by the ``standardwebhooks`` package, so any Standard
Webhooks library verifies it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
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
    """An HTTP client shared by every delivery of a dispatcher (keep-alive, timeouts)."""

    def __init__(self, settings: EventsSettings) -> None:
        timeout = httpx.Timeout(
            connect=settings.connect_timeout_seconds,
            read=settings.read_timeout_seconds,
            write=settings.read_timeout_seconds,
            pool=settings.connect_timeout_seconds,
        )
        self.client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

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
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        started = time.perf_counter()
        try:
            request = self.client.build_request(
                "POST", target.pinned_url(), headers=headers, content=body, extensions=extensions
            )
            response = await self.client.send(request, stream=True)
            try:
                excerpt = await _read_excerpt(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException as error:
            return Outcome(
                False,
                error=f"timeout: {type(error).__name__}",
                retryable=True,
                duration_ms=_ms(started),
            )
        except httpx.HTTPError as error:
            return Outcome(
                False,
                error=f"connection error: {error or type(error).__name__}",
                retryable=True,
                duration_ms=_ms(started),
            )
        ok, retryable, gone = classify(response.status_code)
        return Outcome(
            ok,
            status_code=response.status_code,
            error=None if ok else f"HTTP {response.status_code}",
            duration_ms=_ms(started),
            excerpt=excerpt,
            retryable=retryable,
            gone=gone,
        )


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def _read_excerpt(response: httpx.Response) -> str | None:
    """At most ``EXCERPT_BYTES`` of the body: a receiver's reply is not ours to keep."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= EXCERPT_BYTES:
            break
    data = b"".join(chunks)[:EXCERPT_BYTES]
    return data.decode("utf-8", errors="replace") or None
