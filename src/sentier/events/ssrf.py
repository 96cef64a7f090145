"""Where a webhook may point: refusing targets that would turn sentier into an SSRF proxy.

A subscription URL is resolved and every address checked: link-local and cloud metadata
addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254) are always refused, and so is any IPv6
form of a non-public IPv4 address (6to4, Teredo, NAT64, IPv4-compatible or -translated:
``[2002:a9fe:a9fe::1]`` is 169.254.169.254); loopback, private, site-local, shared and
reserved ranges are refused unless an admin allowed private targets. Error messages show the
URL redacted (:mod:`sentier.events.redact`); the shells audit every refusal.
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
from sentier.events.redact import redact_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_ALWAYS_REFUSED = [
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
]
# "This host": Linux connects 0.0.0.0 (and 0.x.y.z on some stacks) to itself.
_THIS_HOST = [ipaddress.ip_network("0.0.0.0/8"), ipaddress.ip_network("::/128")]
# IPv6 ranges that are not globally reachable, listed here rather than left to
# ``is_global``, whose tables differ between Python versions (3.11 calls fec0::1 global).
_NOT_GLOBAL_V6 = [
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use IPv4/IPv6 translation
    ipaddress.IPv6Network("100::/64"),  # discard-only
    ipaddress.IPv6Network("2001::/23"),  # IETF protocol assignments, Teredo among them
    ipaddress.IPv6Network("2001:db8::/32"),  # documentation
    ipaddress.IPv6Network("3fff::/20"),  # documentation
    ipaddress.IPv6Network("5f00::/16"),  # segment routing
    ipaddress.IPv6Network("fc00::/7"),  # unique local
    ipaddress.IPv6Network("fec0::/10"),  # site-local (deprecated, still routed by some)
]
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
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


def _low32(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with the name of its form.

    6to4 (2002::/16), Teredo (2001::/32: server and de-obfuscated client), NAT64
    (64:ff9b::/96 and the local-use 64:ff9b:1::/48, read as /96), IPv4-compatible
    (``::a.b.c.d``) and IPv4-translated (``::ffff:0:a.b.c.d``). A relay, a translator or an
    old stack may deliver a packet for one of them to the IPv4 address inside.
    """
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo server", server), ("Teredo client", client)]
    if any(address in network for network in _NAT64):
        found.append(("NAT64", _low32(address)))
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: nor ::1
        found.append(("IPv4-compatible", _low32(address)))
    if address in _IPV4_TRANSLATED:
        found.append(("IPv4-translated", _low32(address)))
    return found


def _plain(address: IPAddress) -> IPAddress:
    """The address without an IPv6 zone (``%eth0``), and an IPv4-mapped one as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))  # drops the scope id
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


def _category(address: IPAddress) -> tuple[str, bool] | None:
    """What makes ``address`` (zone dropped, IPv4-mapped unwrapped) unfit as a target, and
    whether an admin may allow it anyway; None for a public unicast address."""
    for network in _ALWAYS_REFUSED:
        if address in network:
            return "a link-local or metadata address", False
    if any(address in network for network in _THIS_HOST):
        return "an unspecified (this host) address", False
    if address.is_multicast or address.is_unspecified or address == _BROADCAST:
        return "not a unicast address", False
    if address.is_loopback:
        return "a loopback address", True
    if (
        address.is_private
        or address.is_reserved
        or not address.is_global
        or (
            isinstance(address, ipaddress.IPv6Address)
            and any(address in network for network in _NOT_GLOBAL_V6)
        )
    ):
        return "in a private or reserved range", True
    return None


def refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why ``address`` may not be a webhook target, or None when it may.

    An IPv6 form of an IPv4 address (6to4, Teredo, NAT64, IPv4-compatible or -translated)
    that carries anything but a public IPv4 address is always refused: nobody writes a
    loopback or metadata address that way but to get past a check. The NAT64 well-known
    prefix carrying a public address is judged as that address (DNS64 networks give every
    public name such an address).
    """
    address = _plain(address)
    if isinstance(address, ipaddress.IPv6Address):
        for form, inner in embedded_ipv4(address):
            found = _category(inner)
            if found is not None:
                return f"{address} is the {form} form of {inner}, {found[0]}"
        if address in _NAT64[0]:
            return None
    found = _category(address)
    if found is None:
        return None
    what, may_allow = found
    if may_allow and allow_private:
        return None
    suffix = " (private targets are not allowed)" if may_allow else ""
    return f"{address} is {what}{suffix}"


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
    shown = redact_url(url)
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
            raise EventsError(f"refused target {shown}: {reason}", code="refused", field="url")
    return Target(url, parts.scheme, host, port, addresses[0])
