"""An HTTP/1.0 server with fixed bounds, under ``http.server``'s request handlers.

One front thread accepts connections and reads each request's head (and a small
body) without blocking, under one deadline per connection; only a complete
request reaches one of a fixed number of worker threads, which runs a
``BufferedRequestHandler`` over the bytes read and writes the reply with a send
timeout. So an idle or slow client costs a buffer and a descriptor for at most
``request_timeout`` seconds, never a thread (issue #16: 1,000 idle connections
held a thread and a descriptor each, with no timeout, and starved the daemon's
polls of descriptors).

At most ``max_connections`` descriptors are open. When they are all taken, a new
connection pushes out the oldest one still sending its request (a slow or idle
client loses its place; a real client sends its request at once), or, when every
connection is being answered, gets 503 and is closed at once. Replies the front
thread writes itself (408, 414, 431, 503) carry the server's ``default_headers``,
as does every reply of a ``BufferedRequestHandler``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import re
import resource
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

log = logging.getLogger(__name__)

# Whatever the descriptor limit, the endpoint takes at most this many connections...
MOST_CONNECTIONS = 256
# ...and at most this share of the soft limit: polls, SMTP, the database and the
# process pool need the rest (the systemd default soft limit is 1,024).
SHARE_OF_DESCRIPTORS = 4

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*([0-9]{1,12})[ \t]*\r?$", re.I | re.M)
_RECV_BYTES = 64 * 1024
_ACCEPTS_PER_WAKE = 64
_WARNING_EVERY = 60.0


def connection_cap(soft_limit: int | None = None) -> int:
    """How many connections the endpoint may hold for a soft descriptor limit
    (the process's own when None): a quarter of it, between 8 and 256."""
    if soft_limit is None:
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_limit == resource.RLIM_INFINITY or soft_limit <= 0:
        return MOST_CONNECTIONS
    return max(8, min(MOST_CONNECTIONS, soft_limit // SHARE_OF_DESCRIPTORS))


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The bounds of one server. ``max_connections`` None: ``connection_cap()``."""

    workers: int = 8
    max_connections: int | None = None
    # From accept to the last byte of the request: request line, headers and body.
    request_timeout: float = 5.0
    # Writing the whole reply (socket.sendall's timeout covers the whole call).
    reply_timeout: float = 10.0
    max_head_bytes: int = 16 * 1024
    # A body up to this size is read before the request reaches a worker; a larger
    # Content-Length goes to the handler unread (the endpoint answers it 413).
    max_body_bytes: int = 64 * 1024
    backlog: int = 128


@dataclass(slots=True)
class _Pending:
    """A connection whose request is still arriving."""

    sock: socket.socket
    address: tuple[str, int]
    deadline: float
    data: bytearray = field(default_factory=bytearray)


class _SocketWriter(io.BufferedIOBase):
    """wfile for a handler: every write goes out whole (sendall), within the socket's timeout."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._sock.sendall(data)
        return len(data)

    def fileno(self) -> int:
        return self._sock.fileno()


class BufferedRequestHandler(BaseHTTPRequestHandler):
    """A request handler over a request already read into memory.

    Every reply, including ``send_error``'s (400, 414, 431, 501 from
    ``http.server`` itself), gets the server's ``default_headers`` that the
    handler did not set itself.
    """

    server: BoundedHTTPServer
    # http.server answers a request line it cannot parse, or an HTTP/0.9 one, in
    # HTTP/0.9: a body without any headers, so without ours. Answer in HTTP/1.0.
    default_request_version = "HTTP/1.0"

    def __init__(
        self,
        sock: socket.socket,
        data: bytes,
        client_address: tuple[str, int],
        server: BoundedHTTPServer,
    ) -> None:
        self._request_bytes = data
        self._headers_set: set[str] = set()
        super().__init__(sock, client_address, server)

    def setup(self) -> None:
        self.connection = self.request
        self.rfile = io.BytesIO(self._request_bytes)
        self.wfile = _SocketWriter(self.connection)

    def send_response_only(self, code: int, message: str | None = None) -> None:
        self._headers_set = set()
        super().send_response_only(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        self._headers_set.add(keyword.lower())
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        for name, value in self.server.default_headers.items():
            if name.lower() not in self._headers_set:
                self.send_header(name, value)
        super().end_headers()


class BoundedHTTPServer(socketserver.TCPServer):
    """Serves ``handler`` with the bounds of ``limits`` (see the module docstring)."""

    allow_reuse_address = True
    default_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        host: str,
        port: int,
        handler: type[BufferedRequestHandler],
        limits: ServerLimits | None = None,
    ) -> None:
        self.limits = limits or ServerLimits()
        self.max_connections = self.limits.max_connections or connection_cap()
        self.request_queue_size = self.limits.backlog
        # IPv6 loopback ("::1") as well as IPv4: take the family the host resolves to.
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self.address_family = family
        super().__init__((host, port), handler)
        self.handler = handler
        self._pending: dict[int, _Pending] = {}
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._requests: queue.SimpleQueue[tuple[socket.socket, bytes, tuple[str, int]] | None]
        self._requests = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._threads: list[threading.Thread] = []
        self._last_warning = {"cap": float("-inf"), "accept": float("-inf")}
        # Connections that met the cap (pushed out an idle one, or were answered 503).
        self.cap_hits = 0

    @property
    def open_connections(self) -> int:
        """Connections held now: requests arriving plus requests being answered."""
        # Only the front thread changes the pending dict; workers change the count.
        with self._busy_lock:
            return len(self._pending) + self._busy

    @property
    def answering(self) -> int:
        """Requests read whole and being answered (or queued for a worker)."""
        with self._busy_lock:
            return self._busy

    # -- life ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the front thread and the workers (all daemon threads)."""
        self._threads = [
            threading.Thread(target=self._work, name=f"endpoint-worker-{n}", daemon=True)
            for n in range(self.limits.workers)
        ]
        self._threads.append(threading.Thread(target=self._front, name="endpoint", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop accepting, close waiting connections, let workers finish their reply."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")
        for _ in range(self.limits.workers):
            self._requests.put(None)
        for thread in self._threads:
            thread.join(self.limits.reply_timeout + 1)
        self.server_close()
        self._wake_reader.close()
        self._wake_writer.close()

    # -- the front thread --------------------------------------------------------------

    def _front(self) -> None:
        self.socket.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            accepting = True
            resume_at = 0.0
            while not self._stopping.is_set():
                now = time.monotonic()
                if not accepting and now >= resume_at:
                    selector.register(self.socket, selectors.EVENT_READ)
                    accepting = True
                for key, _ in selector.select(self._select_timeout(now)):
                    if key.fileobj is self.socket:
                        if not self._accept(selector):
                            # Out of descriptors: the kernel keeps the connections in the
                            # backlog; try again shortly rather than spin on them.
                            selector.unregister(self.socket)
                            accepting, resume_at = False, time.monotonic() + 0.5
                    elif key.fileobj is not self._wake_reader:
                        self._receive(selector, key.data)
                self._expire(selector, time.monotonic())
            for pending in list(self._pending.values()):
                self._drop(selector, pending, None)

    def _select_timeout(self, now: float) -> float:
        oldest = next(iter(self._pending.values()), None)
        if oldest is None:
            return 0.5
        return min(0.5, max(0.0, oldest.deadline - now))

    def _accept(self, selector: selectors.BaseSelector) -> bool:
        """Take what waits in the backlog; False when the process is out of descriptors."""
        for _ in range(_ACCEPTS_PER_WAKE):
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return True
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS
                self._warn("accept", "endpoint: cannot accept a connection: %s", exc)
                return False
            sock.setblocking(False)
            if self.open_connections >= self.max_connections and not self._make_room(selector):
                self._refuse(sock, HTTPStatus.SERVICE_UNAVAILABLE)
                continue
            pending = _Pending(sock, address, time.monotonic() + self.limits.request_timeout)
            self._pending[sock.fileno()] = pending
            selector.register(sock, selectors.EVENT_READ, pending)
        return True

    def _make_room(self, selector: selectors.BaseSelector) -> bool:
        """Close the oldest connection still sending its request; False if there is none."""
        self.cap_hits += 1
        self._warn(
            "cap",
            "endpoint: %d connections open (the cap); closing the oldest idle ones",
            self.max_connections,
        )
        oldest = next(iter(self._pending.values()), None)
        if oldest is None:
            return False
        self._drop(selector, oldest, HTTPStatus.SERVICE_UNAVAILABLE)
        return True

    def _warn(self, kind: str, message: str, *args: object) -> None:
        """A warning of this kind at most once a minute: a flood must not flood the log."""
        now = time.monotonic()
        if now - self._last_warning[kind] >= _WARNING_EVERY:
            self._last_warning[kind] = now
            log.warning(message, *args)

    def _receive(self, selector: selectors.BaseSelector, pending: _Pending) -> None:
        try:
            chunk = pending.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(selector, pending, None)
            return
        pending.data += chunk
        status = self._request_state(pending.data)
        if status is None:
            return
        if status is not HTTPStatus.OK:
            self._drop(selector, pending, status)
            return
        selector.unregister(pending.sock)
        del self._pending[pending.sock.fileno()]
        with self._busy_lock:
            self._busy += 1
        pending.sock.setblocking(True)
        pending.sock.settimeout(self.limits.reply_timeout)
        self._requests.put((pending.sock, bytes(pending.data), pending.address))

    def _request_state(self, data: bytearray) -> HTTPStatus | None:
        """OK when ``data`` holds a whole request, None while more is due, else the error."""
        end = _HEAD_END.search(data, 0, self.limits.max_head_bytes + 4)
        if end is None:
            if len(data) <= self.limits.max_head_bytes:
                return None
            if b"\n" not in data[: self.limits.max_head_bytes]:
                return HTTPStatus.REQUEST_URI_TOO_LONG
            return HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
        length = _CONTENT_LENGTH.search(data, 0, end.start() + 2)
        if length is None:
            return HTTPStatus.OK
        wanted = int(length.group(1))
        if wanted > self.limits.max_body_bytes or len(data) >= end.end() + wanted:
            return HTTPStatus.OK
        return None

    def _expire(self, selector: selectors.BaseSelector, now: float) -> None:
        # Every connection gets the same timeout, so the dict (in accept order) is
        # also in deadline order: stop at the first one still in time.
        while self._pending:
            oldest = next(iter(self._pending.values()))
            if oldest.deadline > now:
                return
            self._drop(selector, oldest, HTTPStatus.REQUEST_TIMEOUT)

    def _drop(
        self, selector: selectors.BaseSelector, pending: _Pending, status: HTTPStatus | None
    ) -> None:
        self._pending.pop(pending.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(pending.sock)
        if status is None:
            pending.sock.close()
        else:
            self._refuse(pending.sock, status)

    def _refuse(self, sock: socket.socket, status: HTTPStatus) -> None:
        """Answer ``status`` if the socket takes it at once, then close: never wait."""
        body = f"{status.value} {status.phrase}\n".encode()
        lines = [
            f"HTTP/1.0 {status.value} {status.phrase}",
            "Server: watcher",
            "Connection: close",
            "Content-Type: text/plain; charset=utf-8",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in self.default_headers.items()),
        ]
        if status is HTTPStatus.SERVICE_UNAVAILABLE:
            lines.append("Retry-After: 1")
        with contextlib.suppress(OSError):
            sock.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            sock.shutdown(socket.SHUT_WR)
        sock.close()

    # -- the workers -----------------------------------------------------------------

    def _work(self) -> None:
        while (request := self._requests.get()) is not None:
            sock, data, address = request
            try:
                self.handler(sock, data, address, self)
            except OSError as exc:  # the client went away or stopped reading
                log.debug("endpoint: %s: %s", address[0], exc)
            except Exception:  # the request's boundary: the endpoint keeps serving
                log.exception("endpoint: a request from %s failed", address[0])
            finally:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                sock.close()
                with self._busy_lock:
                    self._busy -= 1
