"""The daemon's small HTTP endpoint: /healthz, /metrics, and matches as Atom feeds
(/feeds/topics/NAME.atom, /feeds/digests/NAME.atom).

Bound to 127.0.0.1 unless configured otherwise. Every response, errors included,
carries a restrictive Content-Security-Policy, X-Content-Type-Options, no-referrer
and no-store (the dashboard's pages and the Atom feeds set their own CSP and
caching), since some of what it serves is derived from third-party feeds.
Connections, threads and time per request are bounded by
``watcher.daemon.httpserver``, before any authentication.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from watcher.daemon.httpserver import BoundedHTTPServer, BufferedRequestHandler, ServerLimits
from watcher.dashboard.web import (
    MAX_FORM_BYTES,
    WebRequest,
    parse_cookies,
    parse_form,
    parse_target,
)
from watcher.outputs.atom import ATOM_CONTENT_TYPE, atom_etag, conditional_response

if TYPE_CHECKING:
    from watcher.dashboard.app import Dashboard

log = logging.getLogger(__name__)

_FEED_PATH = re.compile(r"/feeds/(topics|digests)/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\.atom")

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


class EndpointServer(BoundedHTTPServer):
    """The endpoint on ``host:port``; ``start`` serves it on daemon threads, ``stop`` ends it."""

    default_headers: ClassVar[Mapping[str, str]] = SECURITY_HEADERS

    def __init__(
        self,
        host: str,
        port: int,
        *,
        health: Callable[[], Health],
        metrics: Callable[[], bytes],
        feeds: Callable[[str, str, str], bytes] | None = None,
        token: str | None = None,
        dashboard: Dashboard | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        # Requests larger than a dashboard form are answered 413 unread.
        super().__init__(
            host, port, _Handler, limits or ServerLimits(max_body_bytes=MAX_FORM_BYTES)
        )
        # The web UI (watcher.dashboard): its paths go to it, with or without the token.
        self.dashboard = dashboard
        self.health = health
        self.metrics = metrics
        # (kind, name, self URL) -> Atom document; KeyError for an unknown name.
        self.feeds = feeds
        self.token = token

    @property
    def url(self) -> str:
        host, port = self.server_address[0], self.server_address[1]
        host = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{host}:{port}"


class _Handler(BufferedRequestHandler):
    server: EndpointServer
    server_version = "watcher"
    sys_version = ""
    _replied = False

    def log_message(self, format: str, *args: object) -> None:
        log.debug("endpoint: " + format, *args)

    def _reply(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._replied = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        # end_headers adds the SECURITY_HEADERS not set here.
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _feed(self, kind: str, name: str, path: str) -> None:
        if self.server.feeds is None:
            self._reply(404, b"not found\n", "text/plain; charset=utf-8")
            return
        try:
            body = self.server.feeds(kind, name, self.server.url + path)
        except KeyError:
            self._reply(404, b"no such feed\n", "text/plain; charset=utf-8")
            return
        etag = atom_etag(body)
        # Feed readers poll often: let them revalidate (ETag, 304) instead of no-store.
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if conditional_response(self.headers.get("If-None-Match"), etag):
            self._reply(304, b"", ATOM_CONTENT_TYPE, headers)
        else:
            self._reply(200, body, ATOM_CONTENT_TYPE, headers)

    def _authorized(self) -> bool:
        if self.server.token is None:
            return True
        offered = self.headers.get("Authorization", "")
        expected = f"Bearer {self.server.token}"
        return hmac.compare_digest(offered.encode(), expected.encode())

    def do_GET(self) -> None:
        self._guarded(self._get)

    def do_HEAD(self) -> None:
        self._guarded(self._get)

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _guarded(self, respond: Callable[[], None]) -> None:
        """The request's boundary: an unexpected error is a logged 500, with our headers."""
        self._replied = False
        try:
            respond()
        except OSError:
            raise  # the client went away: nobody to answer
        except Exception:
            log.exception("endpoint: %s %s failed", self.command, self.path[:200])
            if not self._replied:
                self._reply(500, b"internal error\n", "text/plain; charset=utf-8")

    def _get(self) -> None:
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
        elif self.server.dashboard is not None and self.server.dashboard.owns(path):
            self._dashboard(b"")
        elif not authorized:
            self._reply(401, b"unauthorized\n", "text/plain; charset=utf-8")
        elif (found := _FEED_PATH.fullmatch(path)) is not None:
            self._feed(found.group(1).removesuffix("s"), found.group(2), path)
        elif path == "/metrics":
            self._reply(200, self.server.metrics(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._reply(404, b"not found\n", "text/plain; charset=utf-8")

    def _post(self) -> None:
        path = self.path.split("?", 1)[0]
        if self.server.dashboard is None or not self.server.dashboard.owns(path):
            self._reply(404, b"not found\n", "text/plain; charset=utf-8")
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or "Transfer-Encoding" in self.headers:
            self._reply(411, b"a Content-Length is required\n", "text/plain; charset=utf-8")
            return
        if int(length) > MAX_FORM_BYTES:
            self.close_connection = True
            self._reply(413, b"request body too large\n", "text/plain; charset=utf-8")
            return
        self._dashboard(self.rfile.read(int(length)))

    def _dashboard(self, body: bytes) -> None:
        """Hand a dashboard path to watcher.dashboard (which does its own sign-in)."""
        assert self.server.dashboard is not None
        try:
            path, query = parse_target(self.path)
            form = parse_form(body, self.headers.get("Content-Type"))
        except ValueError:
            self._reply(400, b"malformed request\n", "text/plain; charset=utf-8")
            return
        request = WebRequest(
            method=self.command,
            path=path,
            query=query,
            form=form,
            cookies=parse_cookies(self.headers.get("Cookie")),
            bearer_ok=self.server.token is not None and self._authorized(),
        )
        response = self.server.dashboard.handle(request)
        self._reply(response.status, response.body, response.content_type, dict(response.headers))
