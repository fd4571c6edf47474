"""Conditional HTTP GET with hard limits and per-host politeness.

The only module that talks HTTP. ``Fetcher.fetch`` turns a ``FetchRequest`` into
one of three results and never raises for a network or HTTP problem:

    FetchResult = Fetched        2xx: the (decompressed) body and its validators
                | NotModified    304 to our If-None-Match / If-Modified-Since
                | FetchFailed    everything else, with a ``FetchFailureKind``

Limits enforced on every fetch: a TOTAL deadline (requests' own timeout is per
socket read, so a server that trickles a byte a second would never time out),
a maximum body size counted after decompression (so a gzip bomb stops at the
limit), at most ``max_redirects`` redirects followed by hand (to spot loops,
re-check the scheme on every hop and tell permanent moves from temporary ones),
at most ``per_host_concurrency`` requests in flight per host and at least
``per_host_delay`` between request starts to one host.

Addresses (see watcher/netguard.py): every hop is connected through an
``AddressGuard`` that refuses loopback, private, link-local, metadata and other
non-public addresses, checked on the address actually connected to. Only a
request with ``allow_private`` skips the guard, and only for hops to the host
of the URL the operator configured; a redirect elsewhere is checked like any
other third-party URL (a trusted intranet feed must not be a stepping stone).
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import os
import re
import socket
import ssl
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.request import url2pathname

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from watcher.config import Defaults
from watcher.sources.netguard import AddressGuard, BlockedAddressError, GuardedAdapter

# RFC 9110 §15.4: the redirects a client may follow automatically. Only 301 and
# 308 are permanent (§15.4.2, §15.4.9), so only a chain of those moves the feed.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})
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


class FetchFailureKind(StrEnum):
    """Why a fetch failed, as a short stable string (stored and shown to users)."""

    TIMEOUT = "timeout"
    DNS = "dns"
    CONNECTION = "connection"
    TLS = "tls"
    HTTP_CLIENT = "http_client"  # 4xx other than 410 and 429
    HTTP_SERVER = "http_server"  # 5xx other than 503, and malformed responses
    RATE_LIMITED = "rate_limited"  # 429 or 503, with or without Retry-After
    GONE = "gone"  # 410: RFC 9110 §15.5.11 says the feed is gone for good
    TOO_LARGE = "too_large"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REDIRECT_LOOP = "redirect_loop"
    SCHEME = "scheme"  # a scheme we refuse: not http/https, or file:// not allowed
    INVALID_URL = "invalid_url"
    LOCAL_FILE_ERROR = "local_file_error"
    BLOCKED = "blocked"  # the address is loopback, private, link-local, ... (SSRF, CWE-918)


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What to fetch, with the validators remembered from the last 200."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    allow_local_files: bool = False
    # The operator configured this URL and allows it to be on a private network.
    # Covers hops to this URL's host only; any other host reached by a redirect
    # is checked like every URL that comes from fetched content. Callers that
    # fetch URLs taken from content (article links, discovered feeds) leave it False.
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 2xx response, fully read.

    ``url`` is the final URL after redirects; ``headers`` has lower-cased keys;
    ``body`` is decompressed; ``permanent_url`` is set only when every redirect
    on the way was a 301/308 and the final URL differs from the requested one.
    """

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    body_hash: str
    etag: str | None
    last_modified: str | None
    permanent_url: str | None = None


@dataclass(frozen=True, slots=True)
class NotModified:
    """The server answered 304: nothing changed since the validators we sent."""

    permanent_url: str | None = None


@dataclass(frozen=True, slots=True)
class FetchFailed:
    """The fetch failed; ``message`` is one line naming the URL."""

    kind: FetchFailureKind
    message: str
    status: int | None = None
    retry_after: timedelta | None = None
    permanent_url: str | None = None


FetchResult = Fetched | NotModified | FetchFailed


def parse_retry_after(value: str, now: datetime) -> timedelta | None:
    """Parse a Retry-After value (RFC 9110 §10.2.3) into a delay from ``now``.

    The value is either delta-seconds or an HTTP-date; a date in the past means
    "now" (zero). Returns None for anything else. ``now`` must be aware.
    """
    text = value.strip()
    if text.isdigit():  # isdigit() rejects signs and decimals, as delta-seconds must
        return timedelta(seconds=int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 §5.6.7: HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


class HostThrottle:
    """Per-host politeness: a concurrency cap and a minimum gap between starts.

    Thread-safe. The clock and the sleep are injected so the spacing can be
    tested without waiting.
    """

    def __init__(
        self,
        *,
        concurrency: int,
        delay: timedelta,
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"per-host concurrency must be at least 1, not {concurrency}")
        self._concurrency = concurrency
        self._delay_seconds = delay.total_seconds()
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Wait for a free slot for ``host`` and its turn to start, then hold the slot."""
        with self._lock:
            slots = self._slots.setdefault(host, threading.BoundedSemaphore(self._concurrency))
        with slots:
            # Reserve a start time under the lock, then sleep outside it, so
            # concurrent callers line up one delay apart instead of all waking at once.
            with self._lock:
                now = self._monotonic()
                start_at = max(now, self._next_start.get(host, now))
                self._next_start[host] = start_at + self._delay_seconds
            if start_at > now:
                self._sleep(start_at - now)
            yield


class _Failure(Exception):
    """Internal: carries a FetchFailed out of nested helpers; never leaves this module."""

    def __init__(self, kind: FetchFailureKind, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


class Fetcher:
    """Fetches feeds over HTTP(S) (and local files when allowed). Thread-safe.

    One pooled ``requests.Session`` is shared by every thread; cookies are
    refused so feeds cannot influence each other and the jar is never written
    concurrently.
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
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
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
        # Two sessions, so their connection pools never mix: a keep-alive
        # connection opened for a trusted (allow_private) host is never reused
        # for a hop that must pass the address guard.
        self._session = _session(
            GuardedAdapter(
                address_guard or AddressGuard(),
                pool_connections=pool_size,
                pool_maxsize=pool_size,
                max_retries=0,
            )
        )
        self._trusted_session = _session(
            HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
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
        self._session.close()
        self._trusted_session.close()

    def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch ``request.url``; every expected failure is a ``FetchFailed``, never an error."""
        url = request.url.strip()
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError as exc:
            return FetchFailed(
                FetchFailureKind.INVALID_URL, f"{_printable(url)}: invalid URL: {exc}"
            )
        if scheme == "file":
            if not request.allow_local_files:
                return FetchFailed(
                    FetchFailureKind.SCHEME,
                    f"{_printable(url)}: file:// URLs are refused unless allow_local_files is set",
                )
            return self._read_local_file(url)
        if not scheme:
            return FetchFailed(
                FetchFailureKind.INVALID_URL, f"{_printable(url)}: invalid URL: no scheme"
            )
        if scheme not in ("http", "https"):
            return FetchFailed(
                FetchFailureKind.SCHEME,
                f"{_printable(url)}: refusing {scheme}:// (only http and https)",
            )
        problem = _http_url_problem(url)
        if problem:
            return FetchFailed(
                FetchFailureKind.INVALID_URL, f"{_printable(url)}: invalid URL: {problem}"
            )
        return self._fetch_http(url, request)

    def _request_headers(self, request: FetchRequest) -> dict[str, str]:
        headers = {
            "User-Agent": self._user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        # RFC 9110 §13.1.1-2: conditional GET with the validators of the last 200.
        # A validator with control characters cannot be sent (it would end the
        # header line); an unconditional GET is the safe fallback.
        if request.etag and not _CONTROL_CHARACTERS.search(request.etag):
            headers["If-None-Match"] = request.etag
        if request.last_modified and not _CONTROL_CHARACTERS.search(request.last_modified):
            headers["If-Modified-Since"] = request.last_modified
        return headers

    def _fetch_http(self, url: str, request: FetchRequest) -> FetchResult:
        headers = self._request_headers(request)
        visited = {urldefrag(url).url}
        all_permanent = True
        deadline: float | None = None
        trusted_host = urlsplit(url).hostname if request.allow_private else None
        while True:
            permanent_url = url if all_permanent and url != request.url.strip() else None
            trusted = trusted_host is not None and urlsplit(url).hostname == trusted_host
            with self._throttle.slot(_host_key(url)):
                # The deadline starts with the first request, not while queueing
                # for a host slot behind other feeds.
                if deadline is None:
                    deadline = self._monotonic() + self._timeout_seconds
                try:
                    response = self._send(url, headers, deadline, trusted=trusted)
                except _Failure as failure:
                    return _failed(failure, permanent_url)
                except BlockedAddressError as exc:
                    return FetchFailed(
                        FetchFailureKind.BLOCKED,
                        _blocked_message(url, exc, first_hop=len(visited) == 1),
                        permanent_url=permanent_url,
                    )
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    return FetchFailed(*_classify_exception(exc, url), permanent_url=permanent_url)
                with response:
                    status = response.status_code
                    location = response.headers.get("location")
                    if status not in REDIRECT_STATUSES or not location:
                        return self._finish(response, url, permanent_url, deadline)
                    self._discard_body(response, deadline)
            next_hop = _redirect_target(
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
        self, url: str, headers: Mapping[str, str], deadline: float, *, trusted: bool
    ) -> requests.Response:
        remaining = self._remaining(deadline, url)
        session = self._trusted_session if trusted else self._session
        return session.get(
            url,
            headers=headers,
            stream=True,
            allow_redirects=False,
            # requests' read timeout bounds each socket read, which covers a
            # server that accepts the connection and never sends headers.
            timeout=(
                min(self._connect_timeout_seconds, remaining),
                min(self._timeout_seconds, remaining),
            ),
        )

    def _remaining(self, deadline: float, url: str) -> float:
        remaining = deadline - self._monotonic()
        if remaining <= 0:
            raise _Failure(
                FetchFailureKind.TIMEOUT,
                f"{url}: timed out after {self._timeout_seconds:g}s in total",
            )
        return remaining

    def _finish(
        self, response: requests.Response, url: str, permanent_url: str | None, deadline: float
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
                return FetchFailed(*_classify_exception(exc, url), permanent_url=permanent_url)
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

    def _read_body(self, response: requests.Response, url: str, deadline: float) -> bytes:
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
                return b"".join(chunks)
            size += len(chunk)
            if size > self._max_body_bytes:
                raise too_large
            chunks.append(chunk)

    def _discard_body(self, response: requests.Response, deadline: float) -> None:
        """Read a small unwanted body so its connection can be reused; else drop it."""
        declared_length = response.headers.get("content-length", "")
        no_body = response.status_code == 304 or declared_length == "0"
        small = declared_length.isdigit() and int(declared_length) <= _DRAIN_LIMIT_BYTES
        if not (no_body or small):
            return  # closing the response closes the connection
        try:
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                return
            _set_read_timeout(response, min(remaining, self._timeout_seconds))
            while response.raw.read1(_READ_CHUNK_BYTES, decode_content=False):
                pass
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
            pass  # the body was unwanted; closing the response cleans up

    def _read_local_file(self, url: str) -> FetchResult:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return FetchFailed(
                FetchFailureKind.LOCAL_FILE_ERROR,
                f"{_printable(url)}: file:// URLs must name a local path (host {parts.netloc!r})",
            )
        path = url2pathname(parts.path)
        try:
            with open(path, "rb") as local_file:
                if os.fstat(local_file.fileno()).st_size > self._max_body_bytes:
                    return FetchFailed(
                        FetchFailureKind.TOO_LARGE,
                        f"{url}: file larger than {self._max_body_bytes} bytes",
                    )
                # Read one byte past the limit: the file may have grown since fstat.
                body = local_file.read(self._max_body_bytes + 1)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return FetchFailed(FetchFailureKind.LOCAL_FILE_ERROR, f"{_printable(url)}: {reason}")
        if len(body) > self._max_body_bytes:
            return FetchFailed(
                FetchFailureKind.TOO_LARGE, f"{url}: file larger than {self._max_body_bytes} bytes"
            )
        return Fetched(
            url=url,
            status=200,
            headers=types.MappingProxyType({}),
            body=body,
            body_hash=hashlib.sha256(body).hexdigest(),
            etag=None,
            last_modified=None,
        )


def _session(adapter: HTTPAdapter) -> requests.Session:
    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # No environment: HTTP(S)_PROXY would route around the address guard (through
    # a proxy we only ever see the proxy's address), and ~/.netrc would hand the
    # operator's credentials to whichever host a feed redirects us to.
    session.trust_env = False
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _blocked_message(url: str, exc: BlockedAddressError, *, first_hop: bool) -> str:
    """One line naming the URL, the address and its class, and what the operator can do."""
    if first_hop:
        hint = "; set 'allow_private: true' on the feed if it really lives there"
    else:
        hint = " (reached by a redirect; allow_private covers the configured host only)"
    return f"{_printable(url)}: blocked: {exc}{hint}"


def _redirect_target(
    url: str, location: str, *, status: int, visited: set[str], redirects_left: int
) -> str | FetchFailed:
    """Where a redirect from ``url`` leads, or why we will not follow it."""
    try:
        # Location may be relative (RFC 9110 §10.2.2): resolve it against this URL.
        target = urljoin(url, location.strip())
        scheme = urlsplit(target).scheme.lower()
    except ValueError as exc:
        return FetchFailed(
            FetchFailureKind.INVALID_URL,
            f"{url}: redirect to an invalid URL {_printable(location)}: {exc}",
            status=status,
        )
    # Re-check the scheme on every hop: a server must not be able to send us to
    # file:// or ftp:// even when the feed itself may read local files.
    if scheme not in ("http", "https"):
        return FetchFailed(
            FetchFailureKind.SCHEME,
            f"{url}: refusing redirect to {scheme}:// URL {_printable(target)}",
            status=status,
        )
    problem = _http_url_problem(target)
    if problem:
        return FetchFailed(
            FetchFailureKind.INVALID_URL,
            f"{url}: redirect to an invalid URL {_printable(target)}: {problem}",
            status=status,
        )
    if urldefrag(target).url in visited:
        return FetchFailed(
            FetchFailureKind.REDIRECT_LOOP, f"{url}: redirect loop back to {target}", status=status
        )
    if redirects_left <= 0:
        return FetchFailed(
            FetchFailureKind.TOO_MANY_REDIRECTS,
            f"{url}: redirected again after {len(visited) - 1} redirects",
            status=status,
        )
    return target


# RFC 3986 §2 has no place for control characters; http.client would refuse them
# deep inside a request, and they would break our one-line messages.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _http_url_problem(url: str) -> str | None:
    """Why an http(s) URL cannot be requested, or None when it can."""
    if _CONTROL_CHARACTERS.search(url):
        return "contains control characters"
    try:
        parts = urlsplit(url)
        if parts.port == 0:
            return "port 0"
    except ValueError as exc:  # an unclosed IPv6 bracket, a port out of range
        return str(exc)
    if not parts.hostname:
        return "no host"
    return None


def _printable(url: str) -> str:
    """``url`` fit for a one-line message: control characters percent-encoded."""
    return _CONTROL_CHARACTERS.sub(lambda found: f"%{ord(found.group()):02X}", url)


def _host_key(url: str) -> str:
    """The politeness key: host and port, so two servers on one name stay apart."""
    parts = urlsplit(url)
    return f"{(parts.hostname or '').lower()}:{parts.port or parts.scheme}"


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


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps, outermost first.

    requests and urllib3 nest errors in ``args`` and ``reason`` as well as in
    ``__cause__``/``__context__``.
    """
    found: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        wrapped.extend(current.args)
        pending.extend(item for item in wrapped if isinstance(item, BaseException))
    return found


_KIND_DESCRIPTIONS = {
    FetchFailureKind.INVALID_URL: "invalid URL",
    FetchFailureKind.SCHEME: "unsupported scheme",
    FetchFailureKind.DNS: "host name not resolved",
    FetchFailureKind.TLS: "TLS error",
    FetchFailureKind.CONNECTION: "connection failed",
}


def _classify_exception(exc: BaseException, url: str) -> tuple[FetchFailureKind, str]:
    """Map a requests/urllib3/socket error to a failure kind and a one-line message."""
    causes = _causes(exc)

    def caused_by(*types_: type[BaseException]) -> bool:
        return any(
            isinstance(cause, types_)
            # urllib3's NewConnectionError subclasses ConnectTimeoutError for
            # history's sake; a refused connection is not a timeout.
            and not isinstance(cause, urllib3.exceptions.NewConnectionError)
            for cause in causes
        )

    if isinstance(
        exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
    ) or caused_by(urllib3.exceptions.LocationValueError):
        kind = FetchFailureKind.INVALID_URL
    elif isinstance(exc, requests.exceptions.InvalidSchema):
        kind = FetchFailureKind.SCHEME
    elif any(
        isinstance(cause, urllib3.exceptions.NameResolutionError | socket.gaierror)
        for cause in causes
    ):
        kind = FetchFailureKind.DNS
    elif caused_by(requests.exceptions.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError):
        return FetchFailureKind.TIMEOUT, f"{url}: timed out connecting"
    elif caused_by(requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
        return FetchFailureKind.TIMEOUT, f"{url}: timed out waiting for the server"
    elif caused_by(requests.exceptions.SSLError, urllib3.exceptions.SSLError, ssl.SSLError):
        kind = FetchFailureKind.TLS
    else:
        kind = FetchFailureKind.CONNECTION
    return kind, f"{url}: {_KIND_DESCRIPTIONS[kind]}: {_root_cause_text(causes)}"


def _root_cause_text(causes: list[BaseException]) -> str:
    """The most specific readable reason: an OS error's text beats urllib3's wrapper prose."""
    for cause in reversed(causes):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    text = " ".join(str(causes[0]).split())
    return text[:300] if text else type(causes[0]).__name__
