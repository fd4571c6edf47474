"""Real SMTP servers for tests (aiosmtpd on 127.0.0.1, a free port each).

``running_smtp_server`` starts one and yields a ``RunningSmtpServer`` whose
``handler.received`` lists what arrived: the envelope and the message parsed
back with ``email.policy.default``. Options make it a STARTTLS server with
AUTH (``tls_context`` + ``credentials``), a greylisting server (``greylist``:
answer 451 to the first N transactions) or one that refuses some recipients
(``rcpt_replies``). ``make_certificate`` writes a self-signed certificate for
127.0.0.1 with openssl, so a client can verify it for real.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the server saw it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that keeps what it accepts and refuses what it is told to.

    ``greylist``: the first N mail transactions get every RCPT answered with
    451 (like greylisting). ``rcpt_replies``: address -> reply line for RCPT.
    """

    greylist: int = 0
    rcpt_replies: Mapping[str, str] = field(default_factory=dict)
    received: list[ReceivedMessage] = field(default_factory=list)
    transactions: int = 0
    logins: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self._lock:
            self.transactions += 1
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.transactions <= self.greylist:
            return "451 4.7.1 Greylisted, please try again later"
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.received.append(
                ReceivedMessage(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    raw=raw,
                    message=parsed,
                )
            )
        return "250 2.0.0 Queued"


class _LocalController(Controller):
    """A Controller that may listen on port 0 (aiosmtpd connects to self.port to check)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class RunningSmtpServer:
    host: str
    port: int
    handler: RecordingHandler


@contextmanager
def running_smtp_server(
    handler: RecordingHandler | None = None,
    *,
    tls_context: ssl.SSLContext | None = None,
    implicit_tls_context: ssl.SSLContext | None = None,
    credentials: tuple[str, str] | None = None,
) -> Iterator[RunningSmtpServer]:
    """Run an SMTP server on 127.0.0.1 until the block ends.

    With ``tls_context`` it offers STARTTLS; with ``implicit_tls_context`` it
    speaks TLS from the first byte (port 465 style); with ``credentials`` it
    requires AUTH (PLAIN/LOGIN), which it offers only over TLS.
    """
    recording = handler or RecordingHandler()

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        if (
            credentials is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == credentials
        ):
            recording.logins.append(auth_data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    options: dict[str, Any] = {}
    if tls_context is not None:
        options.update(tls_context=tls_context, require_starttls=True)
    if credentials is not None:
        options.update(authenticator=authenticate, auth_required=True, auth_require_tls=True)
        if implicit_tls_context is not None:
            # aiosmtpd counts only STARTTLS as TLS when deciding to offer AUTH;
            # over implicit TLS the connection is encrypted anyway, so offer it
            # (and do not require it, which aiosmtpd warns about without TLS).
            options.update(auth_required=False, auth_require_tls=False)
    controller = _LocalController(
        recording,
        hostname=HOST,
        port=0,
        ssl_context=implicit_tls_context,
        server_hostname="smtp.test",
        **options,
    )
    controller.start()
    try:
        yield RunningSmtpServer(host=HOST, port=controller.port, handler=recording)
    finally:
        controller.stop()


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate only, checking the hostname."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_certificate(folder: Path) -> Certificate:
    """Write a self-signed certificate (and key) valid for 127.0.0.1 and localhost."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-nodes", "-days", "2",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(key), "-out", str(cert),
            "-subj", "/CN=watcher test SMTP",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Certificate(cert=cert, key=key)


def free_port() -> int:
    """A port nothing listens on (bound, then released), for connection-refused tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port
