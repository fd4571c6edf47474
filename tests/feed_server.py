"""A real HTTP server on 127.0.0.1 serving documents the tests write.

Supports ETag / If-None-Match so conditional polling is exercised for real,
and records every request so tests can count what was fetched.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import TypeVar

SHUTDOWN_POLL_SECONDS = 0.05
"""How often ``serve_forever`` checks for ``shutdown()``: its default, 0.5 s, is
what every test that stops a server would wait at its end."""


@dataclass
class Document:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.documents: dict[str, Document] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def put(self, path: str, body: str | bytes, **kwargs: object) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            self.documents[path] = Document(data, **kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.requests if p == path)


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append((self.path, self.headers.get("If-None-Match")))
            document = self.server.documents.get(self.path)
        if document is None:
            self.send_error(404)
            return
        if document.status == 200 and self.headers.get("If-None-Match") == document.etag:
            self.send_response(304)
            self.send_header("ETag", document.etag)
            self.end_headers()
            return
        self.send_response(document.status)
        self.send_header("Content-Type", document.content_type)
        self.send_header("Content-Length", str(len(document.body)))
        self.send_header("ETag", document.etag)
        for name, value in document.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(document.body)


Served = TypeVar("Served", bound=HTTPServer)


@contextmanager
def serving(server: Served) -> Iterator[Served]:
    """``server`` answering on a thread until the block ends; it stops at once then."""
    thread = threading.Thread(
        target=server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def running_feed_server() -> Iterator[FeedServer]:
    with serving(FeedServer()) as server:
        yield server
