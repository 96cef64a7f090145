"""Authentication and authorisation: API tokens, OIDC bearer JWTs, sessions, the audit trail."""

from sentier.auth.audit import AUTH_FAILED, list_audit, recent_failures
from sentier.auth.audit import record as audit
from sentier.auth.limits import TooManyFailures, address_over_limit, check_verification
from sentier.auth.oidc import OidcError, authenticate_jwt
from sentier.auth.oidc import is_configured as oidc_configured
from sentier.auth.principal import ROLES, Principal, Role
from sentier.auth.sessions import (
    COOKIE,
    WebSession,
    create_login_code,
    csrf_token,
    csrf_valid,
    end_session,
    open_session,
    read_cookie,
    redeem_login_code,
    same_secret,
    secret_key,
    session_token,
)
from sentier.auth.tokens import (
    IssuedToken,
    TokenError,
    VerificationNeeded,
    WrongSecret,
    authenticate_token,
    check_row,
    create_token,
    list_tokens,
    parse_duration,
    principal_of,
    revoke_token,
)

__all__ = [
    "AUTH_FAILED",
    "COOKIE",
    "ROLES",
    "IssuedToken",
    "OidcError",
    "Principal",
    "Role",
    "TokenError",
    "TooManyFailures",
    "VerificationNeeded",
    "WebSession",
    "WrongSecret",
    "address_over_limit",
    "audit",
    "authenticate_jwt",
    "authenticate_token",
    "check_row",
    "check_verification",
    "create_login_code",
    "create_token",
    "csrf_token",
    "csrf_valid",
    "end_session",
    "list_audit",
    "list_tokens",
    "oidc_configured",
    "open_session",
    "parse_duration",
    "principal_of",
    "read_cookie",
    "recent_failures",
    "redeem_login_code",
    "revoke_token",
    "same_secret",
    "secret_key",
    "session_token",
]
