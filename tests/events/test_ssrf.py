"""Webhook targets that would reach internal services are refused."""

from __future__ import annotations

import pytest

from sentier.events import EventsError
from sentier.events.ssrf import check_target


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/", "http://[fe80::1]/"],
)
def test_link_local_and_metadata_are_always_refused(url: str) -> None:
    with pytest.raises(EventsError) as refused:
        check_target(url, allow_private=True)
    assert refused.value.code == "refused"


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3/", "http://192.168.0.1/", "http://127.0.0.1:8080/", "http://[::1]/"]
)
def test_private_ranges_need_an_admin(url: str) -> None:
    with pytest.raises(EventsError, match="private"):
        check_target(url, allow_private=False)
    assert check_target(url, allow_private=True).address


def test_a_name_is_checked_by_what_it_resolves_to() -> None:
    with pytest.raises(EventsError, match="loopback"):
        check_target("http://localhost:8080/hook", allow_private=False)
    target = check_target("https://localhost:8443/hook", allow_private=True)
    assert target.pinned_url().startswith(("https://127.0.0.1:8443/", "https://[::1]:8443/"))
    assert target.host_header == "localhost:8443"


def test_other_schemes_and_credentials_are_refused() -> None:
    for url in ("file:///etc/passwd", "gopher://x/", "http://user:pw@example.org/"):
        with pytest.raises(EventsError):
            check_target(url, allow_private=True)
