"""Secrets of webhooks: generated, shown once, kept encrypted (signing needs them back).

Outgoing signing secrets and inbound HMAC secrets must be recoverable to compute HMACs, so they
are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key that
is not in the database: ``SENTIER_EVENTS_SECRET_KEY``, or a key file created once under
``SENTIER_HOME`` with mode 0600. Inbound bearer tokens only need checking, so only their
SHA-256 digest is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as random
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from sentier.events.errors import EventsError

SECRET_PREFIX = "whsec_"
KEY_FILE = "events-secret.key"


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(32)).decode("ascii")


def new_token() -> str:
    return random.token_urlsafe(32)


def check_webhook_secret(secret: str) -> str:
    """Refuse a secret the Standard Webhooks libraries could not use; returns it unchanged."""
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        decoded = base64.b64decode(raw + "==", validate=False)
    except ValueError as error:
        raise EventsError("secret must be base64 (whsec_...)", field="secret") from error
    if len(decoded) < 24 or len(decoded) > 64:
        raise EventsError("secret must decode to 24..64 bytes", field="secret")
    return secret


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, digest: str) -> bool:
    return hmac.compare_digest(token_digest(token), digest)


def _key_path() -> Path:
    from sentier.config import get_settings

    return get_settings().home / KEY_FILE


@lru_cache(maxsize=4)
def _fernet_for(key: str) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except ValueError as error:
        raise EventsError(
            "SENTIER_EVENTS_SECRET_KEY is not a valid Fernet key", field="secret_key"
        ) from error


def _fernet() -> Fernet:
    from sentier.events.settings import get_events_settings

    configured = get_events_settings().secret_key
    if configured:
        return _fernet_for(configured)
    path = _key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        # O_EXCL: two processes starting at once agree on the first key written.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
    return _fernet_for(path.read_text("ascii").strip())


def encrypt(secret: str) -> bytes:
    return _fernet().encrypt(secret.encode("utf-8"))


def decrypt(token: bytes) -> str:
    try:
        return _fernet().decrypt(token).decode("utf-8")
    except InvalidToken as error:
        raise EventsError(
            "cannot decrypt a stored secret: SENTIER_EVENTS_SECRET_KEY (or the key file under "
            "SENTIER_HOME) differs from the one it was stored with",
            code="unavailable",
            field="secret",
        ) from error
