"""The daemon's small HTTP endpoint: /healthz and /metrics.

Bound to 127.0.0.1 unless configured otherwise. Every response carries a
restrictive Content-Security-Policy and X-Content-Type-Options, since some of
what it serves is derived from third-party feeds.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    checks: dict[str, str]


class EndpointServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        host: str,
        port: int,
        *,
        health: Callable[[], Health],
        metrics: Callable[[], bytes],
        token: str | None = None,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.health = health
        self.metrics = metrics
        self.token = token
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[0], self.server_address[1]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="endpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    server: EndpointServer
    server_version = "watcher"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        log.debug("endpoint: " + format, *args)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorized(self) -> bool:
        if self.server.token is None:
            return True
        offered = self.headers.get("Authorization", "")
        expected = f"Bearer {self.server.token}"
        return hmac.compare_digest(offered.encode(), expected.encode())

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        authorized = self._authorized()
        if path == "/healthz":
            # Health is for load balancers and container checks, so it answers without
            # the token, but only an authorized caller sees the checks' details.
            health = self.server.health()
            report: dict[str, object] = {"ok": health.ok}
            if authorized:
                report["checks"] = health.checks
            self._reply(200 if health.ok else 503, json.dumps(report).encode(), "application/json")
        elif not authorized:
            self._reply(401, b"unauthorized\n", "text/plain; charset=utf-8")
        elif path == "/metrics":
            self._reply(200, self.server.metrics(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._reply(404, b"not found\n", "text/plain; charset=utf-8")

    do_HEAD = do_GET
