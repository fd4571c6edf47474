"""Which redirects a fetch follows, and which URLs it can request at all."""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urljoin, urlsplit

from watcher.sources.fetchresults import FetchFailed, FetchFailureKind

# RFC 9110 §15.4: the redirects a client may follow automatically. Only 301 and
# 308 are permanent (§15.4.2, §15.4.9), so only a chain of those moves the feed.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})


def redirect_target(
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
            f"{url}: redirect to an invalid URL {printable(location)}: {exc}",
            status=status,
        )
    # Re-check the scheme on every hop: a server must not be able to send us to
    # file:// or ftp:// even when the feed itself may read local files.
    if scheme not in ("http", "https"):
        return FetchFailed(
            FetchFailureKind.SCHEME,
            f"{url}: refusing redirect to {scheme}:// URL {printable(target)}",
            status=status,
        )
    problem = http_url_problem(target)
    if problem:
        return FetchFailed(
            FetchFailureKind.INVALID_URL,
            f"{url}: redirect to an invalid URL {printable(target)}: {problem}",
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
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def http_url_problem(url: str) -> str | None:
    """Why an http(s) URL cannot be requested, or None when it can."""
    if CONTROL_CHARACTERS.search(url):
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


def printable(url: str) -> str:
    """``url`` fit for a one-line message: control characters percent-encoded."""
    return CONTROL_CHARACTERS.sub(lambda found: f"%{ord(found.group()):02X}", url)
