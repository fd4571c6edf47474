"""A requests/urllib3/socket error as a ``FetchFailureKind`` and a one-line message."""

from __future__ import annotations

import socket
import ssl

import requests
import urllib3.exceptions

from watcher.sources.fetchresults import FetchFailureKind
from watcher.sources.netguard import BlockedAddressError
from watcher.sources.redirects import printable


def blocked_message(url: str, exc: BlockedAddressError, *, first_hop: bool) -> str:
    """One line naming the URL, the address and its class, and what the operator can do."""
    if first_hop:
        hint = "; set 'allow_private: true' on the feed if it really lives there"
    else:
        hint = " (reached by a redirect; allow_private covers the configured host only)"
    return f"{printable(url)}: blocked: {exc}{hint}"


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


def classify_exception(exc: BaseException, url: str) -> tuple[FetchFailureKind, str]:
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
