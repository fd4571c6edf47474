"""A real HTTP server on 127.0.0.1 that misbehaves on purpose, for fetch and parse tests.

Routes (GET only):

    /feed.xml             a small RSS feed with ETag and Last-Modified; 304 on a match
    /feeds/<n>.xml        feed number n (any n), realistic size, conditional like /feed.xml
    /moved                301 -> /feed.xml
    /slow                 the small feed after ``slow_seconds`` (for overlap tests)
    /trickle              headers at once, then one body byte every ``trickle_interval``
    /hang                 accepts the request and never answers
    /status/<code>        an empty response with that status (500, 404, 410, ...)
    /rate-limited         429 with Retry-After: 120
    /loop/a, /loop/b      301 to each other
    /gzip-bomb            ~64 KB of gzip that inflates to 64 MiB of zeros
    /huge                 50 MB declared by Content-Length, generated as it is sent
    /huge-unsized         50 MB without Content-Length, generated as it is sent
    /wrong-charset        a UTF-8 feed served as charset=us-ascii
    /truncated            an RSS feed cut off in the middle of its third item
    /html                 an HTML page served as text/html
    /empty                200 with an empty body
    /json-feed            a JSON Feed 1.1

Every request is recorded (path, request headers, monotonic start and end,
body bytes sent) so tests can check overlap and what the client sent.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import gzip
import hashlib
import io
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LAST_MODIFIED = "Mon, 02 Mar 2026 08:00:00 GMT"
HUGE_BODY_BYTES = 50 * 1000 * 1000
BOMB_INFLATED_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    started: float
    ended: float
    bytes_sent: int


def max_overlap(records: Sequence[RecordedRequest]) -> int:
    """The largest number of these requests that were being served at the same moment."""
    events = sorted(
        [(record.started, 1) for record in records] + [(record.ended, -1) for record in records],
        # At equal times count the end first: back-to-back requests do not overlap.
        key=lambda event: (event[0], event[1]),
    )
    current = peak = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def rss_document(title: str, items: int, *, link_base: str = "https://news.example.org") -> bytes:
    """An RSS 2.0 feed with ``items`` entries of a few paragraphs each, in our own words."""
    entries = []
    for number in range(items):
        entries.append(
            f"""    <item>
      <title>{title}: report {number} on the harbour &amp; the tides</title>
      <link>{link_base}/{title.lower().replace(" ", "-")}/{number}?utm_source=rss</link>
      <guid isPermaLink="false">{title}-{number}</guid>
      <pubDate>Mon, 02 Mar 2026 {number % 24:02d}:15:00 +0100</pubDate>
      <category>harbour</category>
      <description><![CDATA[<p>The harbour master said the tide tables for week {number}
        were revised after the storm.</p><p>Boats should check the new times.</p>]]></description>
    </item>"""
        )
    return (
        f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>{title}</title>
    <link>{link_base}/</link>
    <description>Harbour news for testing</description>
{chr(10).join(entries)}
  </channel>
</rss>
"""
    ).encode()


SMALL_FEED = rss_document("Harbour Log", 3)

WRONG_CHARSET_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Café Notes</title><link>https://cafe.example.org/</link>
<item><title>Crème brûlée at the café</title><guid>cafe-1</guid>
<link>https://cafe.example.org/1</link><description>Naïve résumé of the menu</description></item>
</channel></rss>
""".encode()

TRUNCATED_FEED = rss_document("Cut Short", 3)[:-200]

HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>Welcome to our shop</title></head>
<body><h1>Spring sale</h1><p>Everything must go.</p></body></html>
"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Lighthouse Journal",
        "home_page_url": "https://lighthouse.example.org/",
        "items": [
            {
                "id": "lamp-1",
                "url": "/posts/lamp?fbclid=abc",
                "title": "The lamp was replaced",
                "content_html": "<p>A new <b>LED</b> lamp now turns all night.</p>",
                "date_published": "2026-03-01T10:00:00+02:00",
                "authors": [{"name": "Keeper Ada"}],
                "tags": ["lamp", "maintenance"],
            },
            {
                "id": "fog-2",
                "url": "https://lighthouse.example.org/posts/fog",
                "title": "Fog horn test",
                "content_text": "The fog horn sounds at noon on Fridays.",
                "date_published": "2026-03-02T09:30:00Z",
            },
        ],
    }
).encode()


@functools.cache
def gzip_bomb() -> bytes:
    """gzip of BOMB_INFLATED_BYTES zeros (compresses about 1000:1)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as compressor:
        zeros = bytes(1024 * 1024)
        for _ in range(BOMB_INFLATED_BYTES // len(zeros)):
            compressor.write(zeros)
    return buffer.getvalue()


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


class ChaosServer(ThreadingHTTPServer):
    # Non-daemon handler threads, joined by server_close(): every socket is closed
    # before a test ends (pytest turns a ResourceWarning into a failure).
    daemon_threads = False
    block_on_close = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ChaosHandler)
        self.stopping = threading.Event()
        self.slow_seconds = 0.2
        self.trickle_interval = 0.2
        self.feeds_per_document = 20
        self.connections_accepted = 0
        self._open_connections: set[socket.socket] = set()
        self._records: list[RecordedRequest] = []
        # Paths whose request has started, recorded at once (records come at the end).
        self.started_paths: list[str] = []
        self._records_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._records_lock:
            self.connections_accepted += 1
            self._open_connections.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (the point of several routes) or a connection
        # cut by stop() is expected; anything else is a bug worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._records_lock:
            self._open_connections.discard(request)
        super().shutdown_request(request)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def record(self, request: RecordedRequest) -> None:
        with self._records_lock:
            self._records.append(request)

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        """Finished requests, optionally only those for ``path``."""
        with self._records_lock:
            return [r for r in self._records if path is None or r.path == path]

    def finished_requests(
        self, path: str, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """``requests(path)`` once ``count`` of them finished: a request is recorded
        after its response is written, so the client can be done before the server."""
        deadline = time.monotonic() + timeout
        while len(found := self.requests(path)) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return found

    def stop(self) -> None:
        """Stop serving and end every handler, including idle keep-alive ones."""
        self.stopping.set()
        self.shutdown()
        with self._records_lock:
            open_connections = list(self._open_connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # wakes a handler waiting to read
        self.server_close()


@contextlib.contextmanager
def running_chaos_server(server: ChaosServer | None = None) -> Iterator[ChaosServer]:
    """``server`` (a new ChaosServer by default) answering until the block ends."""
    server = server if server is not None else ChaosServer()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=5)


class _ChaosHandler(BaseHTTPRequestHandler):
    server: ChaosServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers do
    disable_nagle_algorithm = True  # headers and body are separate writes; do not delay the body
    timeout = 5  # an idle keep-alive connection must not hold server_close() for long

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        started = time.monotonic()
        with self.server._records_lock:
            self.server.started_paths.append(self.path)
        self._bytes_sent = 0
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up, which is often the point
        finally:
            self.server.record(
                RecordedRequest(
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    started=started,
                    ended=time.monotonic(),
                    bytes_sent=self._bytes_sent,
                )
            )

    # --- helpers ------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self._bytes_sent += len(data)

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "application/rss+xml; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._write(body)

    def _send_conditional(self, body: bytes) -> None:
        """RFC 9110 §13.1: If-None-Match wins over If-Modified-Since when both are sent."""
        etag = _etag(body)
        validators = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if_none_match = self.headers.get("If-None-Match")
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_none_match is not None:
            not_modified = etag in [tag.strip() for tag in if_none_match.split(",")]
        elif if_modified_since is not None:
            try:
                since = email.utils.parsedate_to_datetime(if_modified_since)
                not_modified = since >= email.utils.parsedate_to_datetime(LAST_MODIFIED)
            except (TypeError, ValueError):
                not_modified = False
        else:
            not_modified = False
        if not_modified:
            self._send(304, content_type=None, headers=validators)
        else:
            self._send(200, body, headers=validators)

    def _stream(self, total: int, *, declare_length: bool) -> None:
        """Send ``total`` bytes generated on the fly, stopping if the client leaves."""
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if declare_length:
            self.send_header("Content-Length", str(total))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        block = b"<!-- padding padding padding -->\n" * 2000
        remaining = total
        while remaining > 0 and not self.server.stopping.is_set():
            piece = block[:remaining]
            self._write(piece)
            remaining -= len(piece)

    # --- routes -------------------------------------------------------------------------

    def _route(self) -> None:
        path = self.path
        if path == "/feed.xml":
            self._send_conditional(SMALL_FEED)
        elif path.startswith("/feeds/"):
            name = path.removeprefix("/feeds/").removesuffix(".xml")
            self._send_conditional(
                _numbered_feed(name, self.server.feeds_per_document, self.server.base_url)
            )
        elif path == "/moved":
            self._send(301, content_type=None, headers={"Location": "/feed.xml"})
        elif path == "/slow":
            time.sleep(self.server.slow_seconds)
            self._send(200, SMALL_FEED)
        elif path == "/trickle":
            self._trickle()
        elif path == "/hang":
            self.server.stopping.wait(timeout=30)
            self.close_connection = True
        elif path.startswith("/status/"):
            self._send(int(path.removeprefix("/status/")), content_type="text/plain")
        elif path == "/rate-limited":
            self._send(429, b"slow down", "text/plain", headers={"Retry-After": "120"})
        elif path == "/loop/a":
            self._send(301, content_type=None, headers={"Location": "/loop/b"})
        elif path == "/loop/b":
            self._send(301, content_type=None, headers={"Location": "/loop/a"})
        elif path == "/gzip-bomb":
            self._send(200, gzip_bomb(), headers={"Content-Encoding": "gzip"})
        elif path == "/huge":
            self._stream(HUGE_BODY_BYTES, declare_length=True)
        elif path == "/huge-unsized":
            self._stream(HUGE_BODY_BYTES, declare_length=False)
        elif path == "/wrong-charset":
            self._send(200, WRONG_CHARSET_FEED, "application/xml; charset=us-ascii")
        elif path == "/truncated":
            self._send(200, TRUNCATED_FEED)
        elif path == "/html":
            self._send(200, HTML_PAGE, "text/html; charset=utf-8")
        elif path == "/empty":
            self._send(200, b"")
        elif path == "/json-feed":
            self._send(200, JSON_FEED, "application/feed+json")
        else:
            self._send(404, b"no such route", "text/plain")

    def _trickle(self) -> None:
        body = SMALL_FEED
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        for index in range(len(body)):
            if self.server.stopping.wait(timeout=self.server.trickle_interval):
                break
            self._write(body[index : index + 1])
            self.wfile.flush()
        self.close_connection = True


@functools.lru_cache(maxsize=512)
def _numbered_feed(name: str, items: int, base_url: str) -> bytes:
    return rss_document(f"Port {name}", items, link_base=base_url)
