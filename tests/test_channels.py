"""Short digest messages, the JSON webhook and Apprise, against real servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.test_atom import NOW, TOPICS, load_news
from watcher.config import DigestConfig
from watcher.exceptions import DeliveryError, TemporaryDeliveryError
from watcher.outputs.channels import (
    AppriseChannel,
    ChannelMessage,
    WebhookChannel,
    make_channel,
    redact_url,
)
from watcher.outputs.digest import digest_as_json
from watcher.outputs.short import render_short_message
from watcher.outputs.view import DigestView, build_digest_view

MESSAGE_ID = "<digest-12.ports@watcher.example>"
SECRET_PATH = "/hooks/T0KEN-s3cret"


def port_view(max_items: int = 50, *, items: bool = True) -> DigestView:
    stored, also_reported_by = load_news()
    digest = DigestConfig(
        name="ports",
        title="Ports desk",
        recipients=("desk@example.org",),
        topics=("port-strikes", "energy-prices"),
        schedule="0 7 * * *",
        max_items=max_items,
    )
    return build_digest_view(
        digest, TOPICS, stored if items else [], now=NOW, also_reported_by=also_reported_by
    )


# --- a real HTTP server that records what it is sent --------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    # When set, the handler waits for it before answering (to test client timeouts).
    hold: threading.Event | None = None


class RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, reply: Reply) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.reply = reply
        self.received: list[Received] = []
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _RecordingHandler(BaseHTTPRequestHandler):
    server: RecordingServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with self.server.lock:
            self.server.received.append(Received(self.path, dict(self.headers.items()), body))
        reply = self.server.reply
        if reply.hold is not None:
            reply.hold.wait(timeout=10)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            pass  # the client gave up (timeout test)


@contextmanager
def recording_server(reply: Reply | None = None) -> Iterator[RecordingServer]:
    server = RecordingServer(reply or Reply())
    # A short poll interval so shutdown() returns quickly at the end of each test.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if server.reply.hold is not None:
            server.reply.hold.set()
        server.shutdown()
        server.server_close()
        thread.join()


def message() -> ChannelMessage:
    return render_short_message(
        port_view(), idempotency_key=MESSAGE_ID, url="https://digests.example/ports/12"
    )


# --- the short message ---------------------------------------------------------------------


def test_short_message_lists_the_strongest_stories() -> None:
    rendered = message()
    assert rendered.title == "Ports desk"
    assert rendered.url == "https://digests.example/ports/12"
    assert rendered.idempotency_key == MESSAGE_ID
    assert rendered.payload == digest_as_json(port_view())
    assert rendered.text.splitlines() == [
        "Ports desk: 6 new items — Port strikes (5), Energy prices (1)",
        "• Dockworkers walk out at Eastport as port strike begins — Harbour Gazette "
        "<https://gazette.example/ports/eastport-walkout>",
        # Hostile text stays text; the javascript: link is dropped.
        "• <script>alert(1)</script>Harbour talks stall over strike pay — Mischief <b>Daily</b>",
        "• Ferry timetable cut during strike — Harbour Gazette "
        "<https://gazette.example/search?q=strike&page=2&sort=<new>>",
        "• Fuel prices climb as tankers wait offshore — Mischief Daily",
        "• Union leaders meet ministers — Coastal Wire <https://wire.example/union-meets-ministers>",
        "and 1 more",
        "Full digest: https://digests.example/ports/12",
    ]


@pytest.mark.parametrize("max_chars", [60, 150, 250, 400, 1000])
def test_short_message_fits_max_chars_and_counts_what_it_drops(max_chars: int) -> None:
    digest_url = "https://digests.example/ports/12"
    rendered = render_short_message(
        port_view(), idempotency_key=MESSAGE_ID, max_chars=max_chars, url=digest_url
    )
    assert len(rendered.text) <= max_chars
    lines = rendered.text.splitlines()
    stories = [line for line in lines if line.startswith("• ")]
    assert lines[0].startswith("Ports desk: 6 new items")
    if lines[-1].startswith("Full digest:"):
        lines.pop()
    else:
        # The link goes only once every story has gone.
        assert stories == []
    assert lines[-1] == f"and {6 - len(stories)} more"


def test_short_message_counts_items_the_digest_cap_left_out() -> None:
    rendered = render_short_message(port_view(max_items=2), idempotency_key=MESSAGE_ID)
    lines = rendered.text.splitlines()
    assert lines[0].startswith("Ports desk: 6 new items")
    assert len([line for line in lines if line.startswith("• ")]) == 2
    assert lines[-1] == "and 4 more"


def test_short_message_for_an_empty_digest() -> None:
    rendered = render_short_message(port_view(items=False), idempotency_key=MESSAGE_ID)
    assert rendered.text == "Ports desk: nothing new matched"


def test_short_message_drops_an_unsafe_digest_url() -> None:
    rendered = render_short_message(
        port_view(), idempotency_key=MESSAGE_ID, url="javascript:alert(1)"
    )
    assert rendered.url is None
    assert "javascript" not in rendered.text


def test_idempotency_key_must_fit_a_header() -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        render_short_message(port_view(), idempotency_key="<run\r\nX-Evil: 1>")


# --- the webhook ---------------------------------------------------------------------------


def test_webhook_posts_the_digest_json_with_an_idempotency_key() -> None:
    with recording_server() as server:
        channel = WebhookChannel(
            server.url("/hook?source=watcher"), headers={"Authorization": "Bearer s3cret"}
        )
        channel.send(message())
    [request] = server.received
    assert request.path == "/hook?source=watcher"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == f'"{MESSAGE_ID}"'
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["User-Agent"].startswith("watcher/")
    body = json.loads(request.body.decode("utf-8"))
    assert body["title"] == "Ports desk"
    assert body["text"] == message().text
    assert body["url"] == "https://digests.example/ports/12"
    assert body["idempotency_key"] == MESSAGE_ID
    assert body["digest"] == digest_as_json(port_view())
    assert body["digest"]["topics"][0]["items"][0]["title"].startswith("Dockworkers")


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_webhook_server_trouble_is_temporary(status: int) -> None:
    reply = Reply(status=status, headers={"Retry-After": "120"}, body=b"busy, try later")
    with recording_server(reply) as server:
        channel = WebhookChannel(server.url(SECRET_PATH))
        with pytest.raises(TemporaryDeliveryError) as raised:
            channel.send(message())
    text = str(raised.value)
    assert f"answered {status}" in text
    assert "busy, try later" in text
    assert "Retry-After: 120" in text
    assert "T0KEN" not in text


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_webhook_client_errors_are_permanent(status: int) -> None:
    with recording_server(Reply(status=status, body=b"bad payload")) as server:
        channel = WebhookChannel(server.url(SECRET_PATH))
        with pytest.raises(DeliveryError) as raised:
            channel.send(message())
    assert not isinstance(raised.value, TemporaryDeliveryError)
    assert f"answered {status}" in str(raised.value)
    assert "T0KEN" not in str(raised.value)


def test_webhook_redirect_is_not_followed() -> None:
    reply = Reply(status=301, headers={"Location": "https://elsewhere.example/new/T0KEN"})
    with recording_server(reply) as server:
        channel = WebhookChannel(server.url(SECRET_PATH))
        with pytest.raises(DeliveryError, match="update the webhook URL") as raised:
            channel.send(message())
        assert len(server.received) == 1
    assert not isinstance(raised.value, TemporaryDeliveryError)
    assert "https://elsewhere.example/***" in str(raised.value)


def test_webhook_refused_connection_is_temporary() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now.
    channel = WebhookChannel(f"http://127.0.0.1:{port}{SECRET_PATH}")
    with pytest.raises(TemporaryDeliveryError, match="cannot connect") as raised:
        channel.send(message())
    assert "T0KEN" not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_webhook_timeout_is_temporary() -> None:
    with recording_server(Reply(hold=threading.Event())) as server:
        channel = WebhookChannel(server.url("/slow"), timeout=timedelta(seconds=0.2))
        with pytest.raises(TemporaryDeliveryError, match="timed out"):
            channel.send(message())


def test_a_webhook_trickling_its_reply_is_cut_by_one_total_deadline() -> None:
    """Each byte comes well within the per-read timeout; the whole reply never would."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                if stop.wait(0.1):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    channel = WebhookChannel(f"http://127.0.0.1:{port}{SECRET_PATH}", timeout=timedelta(seconds=1))
    try:
        with pytest.raises(TemporaryDeliveryError, match="timed out") as raised:
            channel.send(message())
    finally:
        stop.set()
        listener.close()
        thread.join()
    # Cut at the deadline: the reply needed ~5 s at this pace.
    assert "T0KEN" not in str(raised.value)


def test_webhook_needs_an_http_url() -> None:
    with pytest.raises(ValueError, match="http or https"):
        WebhookChannel("ftp://127.0.0.1/hook")
    with pytest.raises(ValueError, match="positive"):
        WebhookChannel("http://127.0.0.1/hook", timeout=timedelta(0))


def test_webhook_repr_and_name_hide_the_token() -> None:
    channel = WebhookChannel("https://hooks.example/services/T0KEN", headers={"X-Key": "T0KEN"})
    assert "T0KEN" not in repr(channel)
    assert "T0KEN" not in channel.name
    assert channel.name == "webhook https://hooks.example/***"


# --- choosing a channel by URL ------------------------------------------------------------


def test_make_channel_webhook_prefix() -> None:
    channel = make_channel("webhook+https://hooks.example/watcher")
    assert isinstance(channel, WebhookChannel)
    assert channel.name == "webhook https://hooks.example/***"


@pytest.mark.parametrize(
    ("url", "message_part"),
    [
        ("https://hooks.example/watcher", "ambiguous"),
        ("http://hooks.example/watcher", "ambiguous"),
        ("hooks.example/watcher", "no scheme"),
        ("", "no scheme"),
    ],
)
def test_make_channel_refuses_unclear_urls(url: str, message_part: str) -> None:
    with pytest.raises(ValueError, match=message_part):
        make_channel(url)


def test_make_channel_webhook_sends_to_the_url_without_prefix() -> None:
    with recording_server() as server:
        make_channel("webhook+" + server.url("/via-make-channel")).send(message())
    assert [request.path for request in server.received] == ["/via-make-channel"]


# --- redaction -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://hooks.example/services/T0/B0/XYZ", "https://hooks.example/***"),
        ("https://hooks.example/", "https://hooks.example/"),
        (
            "https://user:pw@hooks.example:8443/x?token=abc",
            "https://***@hooks.example:8443/***?***",
        ),
        ("webhook+http://127.0.0.1:9000/hook", "webhook+http://127.0.0.1:9000/***"),
        ("http://[::1]:9000/hook", "http://[::1]:9000/***"),
        ("tgram://123456789:AAbbCC/98765", "tgram://***"),
        ("mailto://user:password@mail.example", "mailto://***"),
        ("no scheme at all", "***"),
        ("https://[::1/broken", "***"),
        (None, "***"),
    ],
)
def test_redact_url(url: str | None, redacted: str) -> None:
    assert redact_url(url) == redacted


# --- Apprise -------------------------------------------------------------------------------


# Apprise imports the stdlib's imghdr, deprecated since Python 3.11 (its warning, not ours).
APPRISE_IMPORT_WARNING = "ignore:'imghdr' is deprecated:DeprecationWarning"


@pytest.mark.filterwarnings(APPRISE_IMPORT_WARNING)
def test_apprise_delivers_to_its_json_target() -> None:
    pytest.importorskip("apprise")
    with recording_server() as server:
        port = server.server_address[1]
        channel = make_channel(f"json://127.0.0.1:{port}/apprise/T0KEN")
        assert isinstance(channel, AppriseChannel)
        assert "T0KEN" not in channel.name and "T0KEN" not in repr(channel)
        channel.send(message())
    [request] = server.received
    assert request.path == "/apprise/T0KEN"
    body = json.loads(request.body.decode("utf-8"))
    assert body["title"] == "Ports desk"
    assert body["message"] == message().text


@pytest.mark.filterwarnings(APPRISE_IMPORT_WARNING)
def test_apprise_failure_is_temporary() -> None:
    pytest.importorskip("apprise")
    with recording_server(Reply(status=500)) as server:
        port = server.server_address[1]
        channel = AppriseChannel([f"json://127.0.0.1:{port}/apprise"])
        with pytest.raises(TemporaryDeliveryError, match="could not deliver"):
            channel.send(message())
        assert len(server.received) >= 1


@pytest.mark.filterwarnings(APPRISE_IMPORT_WARNING)
def test_apprise_refuses_an_unknown_scheme() -> None:
    pytest.importorskip("apprise")
    with pytest.raises(ValueError, match="does not recognise"):
        make_channel("nosuchservice://T0KEN@somewhere")


def test_apprise_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes "import apprise" raise ImportError,
    # as on an installation without the extra.
    monkeypatch.setitem(sys.modules, "apprise", None)
    with pytest.raises(DeliveryError, match=r"install watcher\[apprise\]"):
        make_channel("json://127.0.0.1:9/apprise")
