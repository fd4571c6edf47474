"""Transports against a real SMTP server (aiosmtpd on 127.0.0.1) and a real outbox folder."""

from __future__ import annotations

import email
import email.policy
import random
import stat
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.smtp_server import (
    Certificate,
    RecordingHandler,
    make_certificate,
    running_smtp_server,
)
from tests.smtp_server import (
    free_port as unused_port,
)
from watcher.config import SmtpConfig
from watcher.exceptions import DeliveryError, TemporaryDeliveryError
from watcher.outputs.deliver import (
    FileTransport,
    SmtpTransport,
    make_transport,
    retry_delay,
)
from watcher.outputs.digest import RenderedDigest, build_message, make_message_id

SENT_AT = datetime(2025, 9, 2, 7, 30, tzinfo=UTC)


def digest_message(
    recipients: tuple[str, ...] = ("ana@example.org", "ben@example.org"), run_id: int = 42
) -> EmailMessage:
    rendered = RenderedDigest(
        subject="Morning digest — 2 new: Leader travel (2)",
        html="<html><body><p>Halvorsen lands in <mark>Beijing</mark></p></body></html>",
        text="Halvorsen lands in *Beijing*\n",
        digest_name="morning",
    )
    return build_message(
        rendered,
        sender="watcher@news.example",
        recipients=recipients,
        message_id=make_message_id(run_id, "morning", "news.example"),
        date=SENT_AT,
    )


def smtp_config(port: int, **changes: object) -> SmtpConfig:
    values: dict[str, object] = {"host": "127.0.0.1", "port": port, "timeout": 5}
    values.update(changes)
    return SmtpConfig.model_validate(values)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_plain_delivery_arrives_as_sent() -> None:
    with running_smtp_server() as server:
        SmtpTransport(smtp_config(server.port)).send(digest_message())

    [received] = server.handler.received
    assert received.mail_from == "watcher@news.example"
    assert received.rcpt_tos == ("ana@example.org", "ben@example.org")
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert message["Message-ID"] == "<digest-42.morning@news.example>"
    assert message["Subject"] == "Morning digest — 2 new: Leader travel (2)"
    assert message["From"] == "watcher@news.example"
    assert message["To"] == "ana@example.org, ben@example.org"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Watcher-Digest"] == "morning"
    assert message["MIME-Version"] == "1.0"
    assert email.utils.parsedate_to_datetime(message["Date"]) == SENT_AT
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == "Halvorsen lands in *Beijing*\n"
    assert "<mark>Beijing</mark>" in html.get_content()
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"


def test_starttls_with_auth(certificate: Certificate) -> None:
    with running_smtp_server(
        tls_context=certificate.server_context(), credentials=("digest", "s3cret horse")
    ) as server:
        config = smtp_config(
            server.port, security="starttls", username="digest", password="s3cret horse"
        )
        SmtpTransport(config, ssl_context=certificate.client_context()).send(digest_message())

    assert server.handler.logins == ["digest"]
    assert [r.message["Message-ID"] for r in server.handler.received] == [
        "<digest-42.morning@news.example>"
    ]


def test_implicit_tls_with_auth(certificate: Certificate) -> None:
    with running_smtp_server(
        implicit_tls_context=certificate.server_context(), credentials=("digest", "s3cret horse")
    ) as server:
        config = smtp_config(
            server.port, security="tls", username="digest", password="s3cret horse"
        )
        SmtpTransport(config, ssl_context=certificate.client_context()).send(digest_message())

    assert server.handler.logins == ["digest"]
    assert len(server.handler.received) == 1


def test_wrong_password_is_permanent(certificate: Certificate) -> None:
    with running_smtp_server(
        tls_context=certificate.server_context(), credentials=("digest", "s3cret horse")
    ) as server:
        config = smtp_config(server.port, security="starttls", username="digest", password="nope")
        transport = SmtpTransport(config, ssl_context=certificate.client_context())
        with pytest.raises(DeliveryError) as raised:
            transport.send(digest_message())

    assert not isinstance(raised.value, TemporaryDeliveryError)
    assert "535" in str(raised.value)
    assert "nope" not in str(raised.value) and "nope" not in repr(transport)
    assert server.handler.received == []


def test_untrusted_certificate_is_permanent(certificate: Certificate) -> None:
    with running_smtp_server(tls_context=certificate.server_context()) as server:
        # The system trust store does not know our self-signed certificate.
        transport = SmtpTransport(smtp_config(server.port, security="starttls"))
        with pytest.raises(DeliveryError) as raised:
            transport.send(digest_message())

    assert not isinstance(raised.value, TemporaryDeliveryError)
    assert "certificate" in str(raised.value)


def test_auth_without_tls_is_refused_permanently(certificate: Certificate) -> None:
    # The server offers AUTH only after STARTTLS; a client configured for a
    # plain connection must not send the password in the clear.
    with running_smtp_server(
        tls_context=certificate.server_context(), credentials=("digest", "s3cret horse")
    ) as server:
        config = smtp_config(server.port, username="digest", password="s3cret horse")
        with pytest.raises(DeliveryError) as raised:
            SmtpTransport(config).send(digest_message())

    assert not isinstance(raised.value, TemporaryDeliveryError)
    assert server.handler.logins == []


def test_greylisting_is_temporary_until_accepted() -> None:
    with running_smtp_server(RecordingHandler(greylist=2)) as server:
        transport = SmtpTransport(smtp_config(server.port))
        for _ in range(2):
            with pytest.raises(TemporaryDeliveryError, match="451"):
                transport.send(digest_message())
        transport.send(digest_message())

    assert server.handler.transactions == 3
    [received] = server.handler.received
    assert received.message["Message-ID"] == "<digest-42.morning@news.example>"


def test_connection_refused_is_temporary() -> None:
    transport = SmtpTransport(smtp_config(unused_port()))
    with pytest.raises(TemporaryDeliveryError, match="cannot reach"):
        transport.send(digest_message())


def test_recipient_refused_with_550_is_permanent() -> None:
    handler = RecordingHandler(rcpt_replies={"ana@example.org": "550 5.1.1 No such mailbox"})
    with running_smtp_server(handler) as server, pytest.raises(DeliveryError) as raised:
        SmtpTransport(smtp_config(server.port)).send(digest_message(("ana@example.org",)))

    assert not isinstance(raised.value, TemporaryDeliveryError)
    assert "ana@example.org (550" in str(raised.value)
    assert server.handler.received == []


def test_partial_refusal_names_the_refused_and_is_permanent_for_5xx() -> None:
    handler = RecordingHandler(rcpt_replies={"ben@example.org": "550 5.1.1 No such mailbox"})
    with running_smtp_server(handler) as server, pytest.raises(DeliveryError) as raised:
        SmtpTransport(smtp_config(server.port)).send(digest_message())

    assert not isinstance(raised.value, TemporaryDeliveryError)
    assert "some recipients" in str(raised.value)
    assert "ben@example.org" in str(raised.value) and "ana@" not in str(raised.value)
    # The accepted recipient did get it; a retry re-sends with the same Message-ID.
    assert [r.rcpt_tos for r in server.handler.received] == [("ana@example.org",)]


def test_partial_refusal_with_4xx_is_temporary() -> None:
    handler = RecordingHandler(rcpt_replies={"ben@example.org": "452 4.2.2 Mailbox full"})
    with running_smtp_server(handler) as server, pytest.raises(TemporaryDeliveryError):
        SmtpTransport(smtp_config(server.port)).send(digest_message())


def test_file_transport_writes_private_files_that_parse_back(tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "outbox"
    transport = FileTransport(outbox)
    files = transport.write(digest_message())

    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    assert files.eml.name == "20250902T073000Z-morning-digest-42.morning_news.example.eml"
    assert files.html is not None and files.html.suffix == ".html"
    for path in (files.eml, files.html):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = email.message_from_bytes(files.eml.read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == "<digest-42.morning@news.example>"
    assert parsed.get_content_type() == "multipart/alternative"
    assert "<mark>Beijing</mark>" in files.html.read_text(encoding="utf-8")
    # No temporary files are left behind.
    assert sorted(path.name for path in outbox.iterdir()) == sorted(
        [files.eml.name, files.html.name]
    )


def test_file_transport_overwrites_the_same_message(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path)
    transport.send(digest_message())
    transport.send(digest_message())
    later = digest_message()
    later.replace_header("Date", email.utils.format_datetime(SENT_AT + timedelta(hours=1)))
    transport.send(later)
    transport.send(digest_message(run_id=43))

    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [
        "20250902T073000Z-morning-digest-43.morning_news.example.eml",
        "20250902T073000Z-morning-digest-43.morning_news.example.html",
        "20250902T083000Z-morning-digest-42.morning_news.example.eml",
        "20250902T083000Z-morning-digest-42.morning_news.example.html",
    ]
    assert len(transport.written) == 4


def test_file_transport_failure_is_a_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the outbox folder should be")
    with pytest.raises(DeliveryError, match="outbox"):
        FileTransport(blocker).send(digest_message())


def test_make_transport_prefers_smtp(tmp_path: Path) -> None:
    assert isinstance(make_transport(smtp_config(25), tmp_path), SmtpTransport)
    assert isinstance(make_transport(None, tmp_path), FileTransport)


def test_smtp_transport_repr_hides_the_password() -> None:
    config = smtp_config(25, username="digest", password=SecretStr("hunter2"))
    assert "hunter2" not in repr(SmtpTransport(config))


def test_retry_delay_grows_to_the_cap_with_jitter() -> None:
    rng = random.Random(7)
    delays = [retry_delay(attempt, rng=rng) for attempt in range(1, 10)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(timedelta(hours=1), timedelta(minutes=1) * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert delays[-1] >= timedelta(minutes=30)
    assert retry_delay(10**6, rng=rng) <= timedelta(hours=1)
    assert len({retry_delay(3, rng=rng) for _ in range(5)}) > 1
    with pytest.raises(ValueError):
        retry_delay(0, rng=rng)
