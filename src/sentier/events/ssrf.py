"""Where a webhook may point: refusing targets that would turn sentier into an SSRF proxy.

A subscription URL is resolved and every address checked: link-local and cloud metadata
addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254) are always refused; loopback, private,
shared, multicast and reserved ranges are refused unless an admin allowed private targets.
The same check runs again at every delivery, and the request is sent to the address that
was checked (the host name travels in Host and TLS SNI), so a DNS answer that changes
between check and connect (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from sentier.events.errors import EventsError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_ALWAYS_REFUSED = [
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("::/128"),
]
_CACHE_SECONDS = 30.0
MAX_URL_CHARS = 2048
_cache: dict[tuple[str, int], tuple[float, list[IPAddress]]] = {}


@dataclass(frozen=True, slots=True)
class Target:
    """A checked webhook target: the URL, its host and port, and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = f"{host}:{self.port}"
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.scheme}://{netloc}{parts.path or '/'}{query}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _unwrap(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why ``address`` may not be a webhook target, or None when it may."""
    address = _unwrap(address)
    for network in _ALWAYS_REFUSED:
        if address in network:
            return f"{address} is a link-local or metadata address"
    if address.is_multicast or address.is_unspecified:
        return f"{address} is not a unicast address"
    if allow_private:
        return None
    if address.is_loopback:
        return f"{address} is a loopback address (private targets are not allowed)"
    if address.is_private or address.is_reserved or not address.is_global:
        return f"{address} is in a private or reserved range (private targets are not allowed)"
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    key = (host, port)
    cached = _cache.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise EventsError(f"cannot resolve {host}: {error.strerror}", field="url") from error
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    else:
        addresses = [literal]
    unique = list(dict.fromkeys(addresses))
    _cache[key] = (time.monotonic() + _CACHE_SECONDS, unique)
    return unique


def check_target(url: str, *, allow_private: bool) -> Target:
    """Parse, resolve and check ``url``; :class:`EventsError` (``refused``) when not allowed.

    Every address the name resolves to must be allowed: a name with one public and one
    internal address is refused, since either may be the one connected to.
    """
    if len(url) > MAX_URL_CHARS:
        raise EventsError(f"URL longer than {MAX_URL_CHARS} characters", field="url")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise EventsError("URL contains whitespace or control characters", field="url")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise EventsError(f"invalid URL: {error}", field="url") from error
    if parts.scheme not in ("http", "https"):
        raise EventsError("only http and https URLs are allowed", field="url")
    if not parts.hostname:
        raise EventsError("URL has no host", field="url")
    if parts.username or parts.password:
        raise EventsError("credentials in the URL are not allowed; use the secret", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise EventsError("invalid port", field="url") from error
    host = parts.hostname
    try:
        addresses = _resolve(host, port)
    except (UnicodeError, ValueError) as error:  # an IDNA label too long, an odd character
        raise EventsError(f"cannot resolve {host}: {error}", field="url") from error
    for address in addresses:
        reason = refusal(address, allow_private)
        if reason:
            raise EventsError(f"refused target {url}: {reason}", code="refused", field="url")
    return Target(url, parts.scheme, host, port, addresses[0])
