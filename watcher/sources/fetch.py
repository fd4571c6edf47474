"""Conditional HTTP GET with hard limits and per-host politeness.

The only module that talks HTTP. ``Fetcher.fetch`` turns a ``FetchRequest`` into
one of three results and never raises for a network or HTTP problem:

    FetchResult = Fetched        2xx: the (decompressed) body and its validators
                | NotModified    304 to our If-None-Match / If-Modified-Since
                | FetchFailed    everything else, with a ``FetchFailureKind``

Limits enforced on every fetch: one TOTAL deadline, ``timeout``, over DNS,
connect, TLS, status line, headers and body of every redirect hop
(see watcher/sources/deadline.py: requests' own timeout is per socket read, so a
server that trickles a byte a second would never time out),
a maximum body size counted after decompression (so a gzip bomb stops at the
limit), at most ``max_redirects`` redirects followed by hand (to spot loops,
re-check the scheme on every hop and tell permanent moves from temporary ones),
at most ``per_host_concurrency`` requests in flight per host and at least
``per_host_delay`` between request starts to one host.

Addresses (see watcher/sources/netguard.py): every hop is connected through an
``AddressGuard`` that refuses loopback, private, link-local, metadata and other
non-public addresses, checked on the address actually connected to. Only a
request with ``allow_private`` skips the address check, and only for hops to the host
of the URL the operator configured; a redirect elsewhere is checked like any
other third-party URL (a trusted intranet feed must not be a stepping stone).
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
import types
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from urllib.parse import urldefrag, urlsplit

import requests
import urllib3.exceptions

from watcher.clock import utc_now
from watcher.config import Defaults
from watcher.sources import deadline as deadline_of_fetch
from watcher.sources.deadline import FetchDeadline
from watcher.sources.fetchfailures import blocked_message, classify_exception
from watcher.sources.fetchresults import (
    Fetched,
    FetchFailed,
    FetchFailureKind,
    FetchRequest,
    FetchResult,
    NotModified,
)
from watcher.sources.hints import parse_retry_after
from watcher.sources.localfile import read_local_file
from watcher.sources.netguard import (
    AddressGuard,
    BlockedAddressError,
    GuardedAdapter,
    any_address,
)
from watcher.sources.redirects import (
    CONTROL_CHARACTERS,
    PERMANENT_REDIRECT_STATUSES,
    REDIRECT_STATUSES,
    http_url_problem,
    printable,
    redirect_target,
)
from watcher.sources.throttle import HostThrottle, host_key

# Importable from here, where the rest of the code has always found them.
__all__ = [
    "ACCEPT",
    "ACCEPT_ENCODING",
    "PERMANENT_REDIRECT_STATUSES",
    "RATE_LIMIT_STATUSES",
    "REDIRECT_STATUSES",
    "FetchFailed",
    "FetchFailureKind",
    "FetchRequest",
    "FetchResult",
    "Fetched",
    "Fetcher",
    "HostThrottle",
    "NotModified",
    "parse_retry_after",
]

# RFC 6585 §4 (429) and RFC 9110 §15.6.4 (503): both may carry Retry-After.
RATE_LIMIT_STATUSES = frozenset({429, 503})

# We can decompress these without extra dependencies (no brotli installed).
ACCEPT_ENCODING = "gzip, deflate"
# Feeds first; generic XML/JSON next; anything else last so an HTML page still
# comes back and parse can say clearly that it is not a feed.
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, "
    "application/json;q=0.7, */*;q=0.5"
)

_READ_CHUNK_BYTES = 64 * 1024
# Bodies of error and redirect responses up to this size are read and thrown
# away so the connection can go back to the pool; larger ones close it.
_DRAIN_LIMIT_BYTES = 64 * 1024


def _prepared_get(url: str, headers: Mapping[str, str]) -> requests.PreparedRequest:
    """A GET of ``url`` as ``requests.Session.get`` prepares it for a session that
    takes nothing from its surroundings (netguard's ``closed_session``), without
    the session: its cookie jar, environment, hooks and redirects are nothing to a
    fetch that accepts no cookies and follows redirects itself, yet merging them
    was a fifth of the CPU of a 304 (issue #18). Credentials in the URL still
    become Basic auth, as requests makes them."""
    prepared = requests.PreparedRequest()
    prepared.prepare_method("GET")
    prepared.prepare_url(url, None)
    prepared.prepare_headers(headers)
    prepared.prepare_body(None, None)
    if "@" in str(prepared.url):  # only then can it hold user:password@
        prepared.prepare_auth(None, url)
    return prepared


class _Failure(Exception):
    """Internal: carries a FetchFailed out of nested helpers; never leaves this module."""

    def __init__(self, kind: FetchFailureKind, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


class Fetcher:
    """Fetches feeds over HTTP(S) (and local files when allowed). Thread-safe.

    One pooled requests adapter is shared by every thread, without a session:
    no cookie is kept or sent, so feeds cannot influence each other.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: timedelta,
        connect_timeout: timedelta,
        max_body_bytes: int,
        max_redirects: int,
        per_host_concurrency: int,
        per_host_delay: timedelta,
        pool_size: int = 16,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utc_now,
        address_guard: AddressGuard | None = None,
    ) -> None:
        self._user_agent = user_agent
        self._timeout_seconds = timeout.total_seconds()
        self._connect_timeout_seconds = connect_timeout.total_seconds()
        self._max_body_bytes = max_body_bytes
        self._max_redirects = max_redirects
        self._monotonic = monotonic
        self._now = now
        self._throttle = HostThrottle(
            concurrency=per_host_concurrency,
            delay=per_host_delay,
            monotonic=monotonic,
            sleep=sleep,
        )
        # max_retries=0: a failed fetch is reported, and the scheduler decides
        # when to try again (with backoff), not the transport.
        # Two adapters, so their connection pools never mix: a keep-alive
        # connection opened for a trusted (allow_private) host is never reused
        # for a hop that must pass the address guard.
        self._adapter = GuardedAdapter(
            address_guard or AddressGuard(),
            pool_connections=pool_size,
            pool_maxsize=pool_size,
            max_retries=0,
        )
        # The trusted adapter connects through a guard that checks no address:
        # the same connection classes, so its sockets are under the deadline too.
        self._trusted_adapter = GuardedAdapter(
            AddressGuard(classify=any_address),
            pool_connections=pool_size,
            pool_maxsize=pool_size,
            max_retries=0,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.close()

    @classmethod
    def from_defaults(cls, defaults: Defaults) -> Fetcher:
        """A fetcher with the limits and politeness of a config's ``defaults``."""
        return cls(
            user_agent=defaults.user_agent,
            timeout=defaults.timeout,
            connect_timeout=defaults.connect_timeout,
            max_body_bytes=defaults.max_body_bytes,
            max_redirects=defaults.max_redirects,
            per_host_concurrency=defaults.per_host_concurrency,
            per_host_delay=defaults.per_host_delay,
            pool_size=defaults.workers,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self._adapter.close()
        self._trusted_adapter.close()

    def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch ``request.url``; every expected failure is a ``FetchFailed``, never an error."""
        url = request.url.strip()
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError as exc:
            return FetchFailed(
                FetchFailureKind.INVALID_URL, f"{printable(url)}: invalid URL: {exc}"
            )
        if scheme == "file":
            if not request.allow_local_files:
                return FetchFailed(
                    FetchFailureKind.SCHEME,
                    f"{printable(url)}: file:// URLs are refused unless allow_local_files is set",
                )
            return read_local_file(url, self._max_body_bytes)
        if not scheme:
            return FetchFailed(
                FetchFailureKind.INVALID_URL, f"{printable(url)}: invalid URL: no scheme"
            )
        if scheme not in ("http", "https"):
            return FetchFailed(
                FetchFailureKind.SCHEME,
                f"{printable(url)}: refusing {scheme}:// (only http and https)",
            )
        problem = http_url_problem(url)
        if problem:
            return FetchFailed(
                FetchFailureKind.INVALID_URL, f"{printable(url)}: invalid URL: {problem}"
            )
        return self._fetch_http(url, request)

    def _request_headers(self, request: FetchRequest) -> dict[str, str]:
        headers = {
            "User-Agent": self._user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
            "Connection": "keep-alive",
        }
        # RFC 9110 §13.1.1-2: conditional GET with the validators of the last 200.
        # A validator with control characters cannot be sent (it would end the
        # header line); an unconditional GET is the safe fallback.
        if request.etag and not CONTROL_CHARACTERS.search(request.etag):
            headers["If-None-Match"] = request.etag
        if request.last_modified and not CONTROL_CHARACTERS.search(request.last_modified):
            headers["If-Modified-Since"] = request.last_modified
        return headers

    def _fetch_http(self, url: str, request: FetchRequest) -> FetchResult:
        with contextlib.ExitStack() as stack:
            started: list[FetchDeadline] = []

            def start_deadline() -> FetchDeadline:
                # Started with the first request, not while queueing for a host
                # slot behind other feeds; then it covers every hop.
                if not started:
                    started.append(
                        stack.enter_context(
                            deadline_of_fetch.running(
                                FetchDeadline(self._timeout_seconds, self._monotonic)
                            )
                        )
                    )
                return started[0]

            result = self._follow_redirects(url, request, start_deadline)
            if (
                started
                and started[0].expired
                and isinstance(result, FetchFailed)
                and result.kind is not FetchFailureKind.TIMEOUT
            ):
                # The watchdog cut the connection: whatever error that caused
                # (a reset, a truncated status line) is really the deadline.
                return FetchFailed(
                    FetchFailureKind.TIMEOUT,
                    self._timeout_message(result.message.split(": ", 1)[0]),
                    permanent_url=result.permanent_url,
                )
            return result

    def _follow_redirects(
        self, url: str, request: FetchRequest, start_deadline: Callable[[], FetchDeadline]
    ) -> FetchResult:
        headers = self._request_headers(request)
        visited = {urldefrag(url).url}
        all_permanent = True
        trusted_host = urlsplit(url).hostname if request.allow_private else None
        while True:
            permanent_url = url if all_permanent and url != request.url.strip() else None
            trusted = trusted_host is not None and urlsplit(url).hostname == trusted_host
            with self._throttle.slot(host_key(url)):
                deadline = start_deadline()
                try:
                    response = self._send(url, headers, deadline, trusted=trusted)
                except _Failure as failure:
                    return _failed(failure, permanent_url)
                except BlockedAddressError as exc:
                    return FetchFailed(
                        FetchFailureKind.BLOCKED,
                        blocked_message(url, exc, first_hop=len(visited) == 1),
                        permanent_url=permanent_url,
                    )
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    return FetchFailed(*classify_exception(exc, url), permanent_url=permanent_url)
                with response:
                    try:
                        status = response.status_code
                        location = response.headers.get("location")
                        if status not in REDIRECT_STATUSES or not location:
                            return self._finish(response, url, permanent_url, deadline)
                        self._discard_body(response, deadline)
                    finally:
                        # Before the connection goes back to the pool (leaving the
                        # with), where another fetch may take it.
                        deadline.release()
            next_hop = redirect_target(
                url,
                location,
                status=status,
                visited=visited,
                redirects_left=self._max_redirects - (len(visited) - 1),
            )
            if isinstance(next_hop, FetchFailed):
                return next_hop
            visited.add(urldefrag(next_hop).url)
            all_permanent = all_permanent and status in PERMANENT_REDIRECT_STATUSES
            url = next_hop

    def _send(
        self, url: str, headers: Mapping[str, str], deadline: FetchDeadline, *, trusted: bool
    ) -> requests.Response:
        remaining = self._remaining(deadline, url)
        adapter = self._trusted_adapter if trusted else self._adapter
        return adapter.send(
            _prepared_get(url, headers),
            stream=True,
            # Per socket operation; the deadline's watchdog bounds the whole.
            timeout=(
                min(self._connect_timeout_seconds, remaining),
                min(self._timeout_seconds, remaining),
            ),
        )

    def _timeout_message(self, url: str) -> str:
        return f"{url}: timed out after {self._timeout_seconds:g}s in total"

    def _remaining(self, deadline: FetchDeadline, url: str) -> float:
        remaining = deadline.remaining()
        if remaining <= 0 or deadline.expired:
            raise _Failure(FetchFailureKind.TIMEOUT, self._timeout_message(url))
        return remaining

    def _finish(
        self,
        response: requests.Response,
        url: str,
        permanent_url: str | None,
        deadline: FetchDeadline,
    ) -> FetchResult:
        status = response.status_code
        if status == 304:
            self._discard_body(response, deadline)
            return NotModified(permanent_url=permanent_url)
        if 200 <= status < 300:
            try:
                body = self._read_body(response, url, deadline)
            except _Failure as failure:
                return _failed(failure, permanent_url)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                return FetchFailed(*classify_exception(exc, url), permanent_url=permanent_url)
            headers = types.MappingProxyType(
                {name.lower(): value for name, value in response.headers.items()}
            )
            return Fetched(
                url=url,
                status=status,
                headers=headers,
                body=body,
                body_hash=hashlib.sha256(body).hexdigest(),
                etag=headers.get("etag"),
                last_modified=headers.get("last-modified"),
                permanent_url=permanent_url,
            )
        self._discard_body(response, deadline)
        reason = f"{url}: HTTP {status} {response.reason or ''}".rstrip()
        if status == 410:
            return FetchFailed(FetchFailureKind.GONE, reason, status, permanent_url=permanent_url)
        if status in RATE_LIMIT_STATUSES:
            retry_after_header = response.headers.get("retry-after")
            retry_after = (
                parse_retry_after(retry_after_header, self._now()) if retry_after_header else None
            )
            return FetchFailed(
                FetchFailureKind.RATE_LIMITED,
                reason,
                status,
                retry_after=retry_after,
                permanent_url=permanent_url,
            )
        kind = FetchFailureKind.HTTP_CLIENT if 400 <= status < 500 else FetchFailureKind.HTTP_SERVER
        if 300 <= status < 400:
            reason = f"{reason} without a Location to follow"
        return FetchFailed(kind, reason, status, permanent_url=permanent_url)

    def _read_body(self, response: requests.Response, url: str, deadline: FetchDeadline) -> bytes:
        """Read the decompressed body within the deadline and the size limit."""
        too_large = _Failure(
            FetchFailureKind.TOO_LARGE, f"{url}: body larger than {self._max_body_bytes} bytes"
        )
        declared_length = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        # Content-Length counts the bytes on the wire; only without a content
        # coding is that also the size of the body we would keep.
        if (
            encoding == "identity"
            and declared_length.isdigit()
            and int(declared_length) > self._max_body_bytes
        ):
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            _set_read_timeout(response, min(self._remaining(deadline, url), self._timeout_seconds))
            # read1 returns what one socket read gives (decoded, and at most
            # _READ_CHUNK_BYTES of it: urllib3 bounds the decompressor's output),
            # so a trickling server cannot keep us past the deadline and a gzip
            # bomb never inflates beyond one chunk over the limit.
            chunk = response.raw.read1(_READ_CHUNK_BYTES, decode_content=True)
            if not chunk:
                if deadline.expired:  # the watchdog cut the body short
                    raise _Failure(FetchFailureKind.TIMEOUT, self._timeout_message(url))
                return b"".join(chunks)
            size += len(chunk)
            if size > self._max_body_bytes:
                raise too_large
            chunks.append(chunk)

    def _discard_body(self, response: requests.Response, deadline: FetchDeadline) -> None:
        """Read a small unwanted body so its connection can be reused; else drop it."""
        declared_length = response.headers.get("content-length", "")
        no_body = response.status_code == 304 or declared_length == "0"
        small = declared_length.isdigit() and int(declared_length) <= _DRAIN_LIMIT_BYTES
        if not (no_body or small):
            return  # closing the response closes the connection
        try:
            remaining = deadline.remaining()
            if remaining <= 0:
                return
            if not no_body:
                # A 304 or an empty body is read without touching the socket (and
                # every settimeout is a system call that lets the other threads run).
                _set_read_timeout(response, min(remaining, self._timeout_seconds))
            while response.raw.read1(_READ_CHUNK_BYTES, decode_content=False):
                pass
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
            pass  # the body was unwanted; closing the response cleans up


def _set_read_timeout(response: requests.Response, seconds: float) -> None:
    """Bound the next socket read by ``seconds`` (the time left before the deadline).

    urllib3 keeps the socket of a streamed response on ``raw.connection``; a
    mocked response has none, and then there is nothing to bound.
    """
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(seconds)


def _failed(failure: _Failure, permanent_url: str | None) -> FetchFailed:
    return FetchFailed(failure.kind, failure.message, failure.status, permanent_url=permanent_url)
