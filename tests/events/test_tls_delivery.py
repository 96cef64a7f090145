"""https receivers: the connection goes to the checked address, while the certificate is
verified for the URL's host name (SNI), against the system's CAs plus SENTIER_EVENTS_CA_FILE."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine

from sentier import events
from sentier.config import get_settings
from sentier.store import session_scope


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (its own CA), as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class TlsReceiver:
    def __init__(self, cert: Path, key: Path) -> None:
        self.hosts: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.hosts.append(self.headers.get("host", ""))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[Callable[[str], TlsReceiver]]:
    started: list[TlsReceiver] = []

    def start(name: str) -> TlsReceiver:
        receiver = TlsReceiver(*_certificate(tmp_path, name))
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def _deliver_one(engine: Engine, url: str, dispatch: Callable[..., object]) -> dict:  # type: ignore[type-arg]
    with session_scope(engine) as session:
        sub = events.add_subscription(session, url, allow_private=True)
        events.record(session, "io.sentier.catalog.entity.updated", "component:default/x", {})

    def tried() -> bool:
        with session_scope(engine) as session:
            (delivery,) = events.list_deliveries(session, sub["id"]) or [{"attempts": 0}]
        return bool(delivery["attempts"])

    dispatch(engine, tried)
    with session_scope(engine) as session:
        (delivery,) = events.list_deliveries(session, sub["id"])
    return delivery


def test_https_receiver_gets_the_event_checked_for_its_name_at_the_pinned_address(
    sqlite_engine: Engine,
    tls_receiver: Callable[[str], TlsReceiver],
    dispatch: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    receiver = tls_receiver("localhost")
    monkeypatch.setenv("SENTIER_EVENTS_CA_FILE", str(tmp_path / "localhost.pem"))
    get_settings.cache_clear()
    delivery = _deliver_one(sqlite_engine, f"https://localhost:{receiver.port}/hook", dispatch)
    assert delivery["status"] == "delivered", delivery
    assert receiver.hosts == [f"localhost:{receiver.port}"]


def test_a_certificate_for_another_name_or_an_unknown_ca_is_refused(
    sqlite_engine: Engine,
    tls_receiver: Callable[[str], TlsReceiver],
    dispatch: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    impostor = tls_receiver("receiver.example")
    monkeypatch.setenv("SENTIER_EVENTS_CA_FILE", str(tmp_path / "receiver.example.pem"))
    get_settings.cache_clear()
    wrong_name = _deliver_one(sqlite_engine, f"https://localhost:{impostor.port}/hook", dispatch)
    assert wrong_name["status"] == "pending" and "certificate" in wrong_name["last_error"].lower()
    unknown_ca = tls_receiver("localhost")  # its CA is not the configured one
    untrusted = _deliver_one(sqlite_engine, f"https://localhost:{unknown_ca.port}/hook", dispatch)
    assert untrusted["status"] == "pending" and "certificate" in untrusted["last_error"].lower()
    assert impostor.hosts == [] and unknown_ca.hosts == []
