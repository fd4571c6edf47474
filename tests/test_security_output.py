"""Output safety: hostile feed HTML through poll -> digest send -> outbox and SMTP, and the
security headers of the daemon endpoint on every response: its own, the dashboard's and
the errors http.server or the connection limits answer."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.dashboard_site import running_site
from tests.feed_server import FeedServer, running_feed_server
from tests.smtp_server import running_smtp_server
from watcher.cli import cli
from watcher.daemon.endpoint import SECURITY_HEADERS, EndpointServer, Health

HOSTILE = Path(__file__).parent / "data" / "hostile"

CONFIG = """\
database: sqlite:///{tmp}/watcher.db
outbox: {tmp}/outbox
feeds:
  - {{name: hostile, url: "{url}", allow_private: true}}
topics:
  - {{name: tides, query: "tide*"}}
digests:
  - {{name: daily, recipients: [desk@example.org], topics: [tides], schedule: "0 7 * * *"}}
{smtp}"""

# Checked on the parsed HTML (tags and attributes as a browser sees them), since the
# template's own <meta> and inlined style= are fine and escaped text like
# "&lt;img onerror=...&gt;" is harmless.
FORBIDDEN_TAGS = frozenset(
    {"script", "iframe", "object", "embed", "svg", "math", "form", "input", "base", "frame"}
)
SCRIPT_SCHEMES = ("javascript:", "data:", "vbscript:")


class MarkupAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            # Browsers drop ASCII whitespace and controls inside a URL's scheme.
            compact = re.sub(r"[\x00-\x20]", "", value or "").lower()
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=>")
            if name in ("href", "src", "action", "xlink:href") and compact.startswith(
                SCRIPT_SCHEMES
            ):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if "evil.example" in compact or "tracker.example" in compact:
                self.problems.append(f"<{tag} {name}={value!r}>")
            if tag == "meta" and name == "http-equiv":
                self.problems.append("<meta http-equiv>")


def audit(html: str) -> list[str]:
    parser = MarkupAudit()
    parser.feed(html)
    parser.close()
    return parser.problems


def watcher(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with running_feed_server() as running:
        running.put("/xss.rss", (HOSTILE / "xss.rss").read_bytes())
        yield running


def assert_safe(message: EmailMessage) -> None:
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    assert "Tide" in html  # the item is there, and only its markup was cut
    assert audit(html) == []
    assert "alert(8)" not in html  # a script's text goes with it
    for name, value in message.items():
        assert "\n" not in value.strip() and "\r" not in value, (name, value)


def test_hostile_html_never_reaches_the_outbox(server: FeedServer, tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(CONFIG.format(tmp=tmp_path, url=server.url("/xss.rss"), smtp=""))
    polled = watcher(config, "poll", "--once")
    assert polled.exit_code == 0, polled.output
    sent = watcher(config, "digest", "send", "daily")
    assert sent.exit_code == 0, sent.output
    files = sorted((tmp_path / "outbox").rglob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert_safe(message)
    html_files = list((tmp_path / "outbox").rglob("*.html"))
    assert html_files
    for html_file in html_files:
        assert audit(html_file.read_text(encoding="utf-8")) == []


def test_hostile_html_never_reaches_the_mail_server(server: FeedServer, tmp_path: Path) -> None:
    with running_smtp_server() as smtp:
        section = f"smtp: {{host: {smtp.host}, port: {smtp.port}, sender: w@example.org}}\n"
        config = tmp_path / "feeds.yaml"
        config.write_text(CONFIG.format(tmp=tmp_path, url=server.url("/xss.rss"), smtp=section))
        assert watcher(config, "poll", "--once").exit_code == 0
        sent = watcher(config, "digest", "send", "daily")
        assert sent.exit_code == 0, sent.output
        received = list(smtp.handler.received)
    assert len(received) == 1
    assert_safe(received[0].message)


# One server for the module: it keeps no state between requests, and each stop()
# waits for serve_forever's next poll (up to 0.5 s).
@pytest.fixture(scope="module")
def endpoint() -> Iterator[EndpointServer]:
    server = EndpointServer(
        "127.0.0.1",
        0,
        health=lambda: Health(ok=True, checks={"db": "ok"}),
        metrics=lambda: b"watcher_up 1\n",
        token="s3cret-token",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("path", "authorization", "status"),
    [
        ("/healthz", None, 200),
        ("/metrics", None, 401),
        ("/metrics", "Bearer wrong", 401),
        ("/metrics", "Bearer s3cret-token", 200),
        ("/nope", "Bearer s3cret-token", 404),
        ("/nope", None, 401),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_endpoint_security_headers_on_every_response(
    endpoint: EndpointServer, path: str, authorization: str | None, status: int, method: str
) -> None:
    request = urllib.request.Request(endpoint.url + path, method=method)
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            got, headers = response.status, response.headers
    except urllib.error.HTTPError as error:
        got, headers = error.code, error.headers
        error.close()
    assert got == status
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value, name
    assert headers["Server"].strip() == "watcher"  # no Python version to fingerprint


def raw_reply(port: int, request: bytes) -> tuple[int, dict[str, str]]:
    """Status and headers of the reply to ``request`` sent as is on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, *lines = received.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT A REQUEST\r\n\r\n", 400),
        (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"X-Filler: yes\r\n" * 120 + b"\r\n", 431),
        (b"DELETE /metrics HTTP/1.1\r\n\r\n", 501),
        (b"GET /healthz\r\n\r\n", 200),  # HTTP/0.9 is answered with headers
    ],
)
def test_endpoint_error_replies_carry_the_security_headers(
    endpoint: EndpointServer, request_bytes: bytes, status: int
) -> None:
    got, headers = raw_reply(endpoint.server_address[1], request_bytes)
    assert got == status
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name.lower()) == value, name


def test_dashboard_replies_carry_the_security_headers(tmp_path: Path) -> None:
    """Every kind of dashboard reply: pages, sign-in, refusals, redirects, errors."""
    form = b"Content-Type: application/x-www-form-urlencoded\r\n"
    requests_and_statuses = [
        (b"GET / HTTP/1.1\r\n\r\n", 401),  # sign in first
        (b"GET /login HTTP/1.1\r\n\r\n", 200),
        (b"GET /items/999999 HTTP/1.1\r\nAuthorization: Bearer tok-abc\r\n\r\n", 404),
        (b"GET /static/dashboard.css HTTP/1.1\r\n\r\n", 200),
        (b"POST /label HTTP/1.1\r\n" + form + b"Content-Length: 3\r\n\r\na=b", 403),
        (
            b"POST /logout HTTP/1.1\r\nAuthorization: Bearer tok-abc\r\n"
            + form
            + b"Content-Length: 0\r\n\r\n",
            303,
        ),  # a Bearer POST needs no CSRF token
        (b"POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
        (b"POST /login HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", 413),
        (b"PUT /login HTTP/1.1\r\n\r\n", 501),
    ]
    with running_site(tmp_path, token="tok-abc", hostile=False) as site:
        port = int(site.url.rsplit(":", 1)[1])
        for request, status in requests_and_statuses:
            got, headers = raw_reply(port, request)
            assert got == status, request[:40]
            assert headers["x-content-type-options"] == "nosniff", request[:40]
            assert headers["referrer-policy"] == "no-referrer", request[:40]
            csp = headers["content-security-policy"]
            assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
            assert headers["cache-control"] in ("no-store", "no-cache"), request[:40]


def test_the_audit_sees_what_it_looks_for() -> None:
    """The checker above must not pass vacuously: unsanitized markup is flagged."""
    raw = (HOSTILE / "xss.rss").read_text(encoding="utf-8")
    fragment = raw.split("<![CDATA[", 1)[1].split("]]>", 1)[0]
    assert len(audit(fragment)) >= 8
