"""What a fetch returns: a request, and one of three results.

FetchResult = Fetched        2xx: the (decompressed) body and its validators
            | NotModified    304 to our If-None-Match / If-Modified-Since
            | FetchFailed    everything else, with a ``FetchFailureKind``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


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
