"""What the endpoint hands the dashboard and gets back, and the parsing in between.

The endpoint (``watcher.daemon.endpoint``) owns the socket; it builds a ``WebRequest``
from the request line, headers and (bounded) body, and writes the
``WebResponse`` out with its own security headers underneath ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlsplit

# A form here is a few short fields; a draft query is the longest.
MAX_FORM_BYTES = 64 * 1024
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class WebRequest:
    """One request to a dashboard path.

    ``bearer_ok`` says the request carried ``Authorization: Bearer`` with the
    endpoint's token (always False when no token is configured).
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    bearer_ok: bool = False


@dataclass(frozen=True, slots=True)
class WebResponse:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


def parse_target(target: str) -> tuple[str, dict[str, str]]:
    """The path and the query's fields (the first value of each) of a request target."""
    parts = urlsplit(target)
    return parts.path or "/", _first_values(parts.query)


def parse_form(body: bytes, content_type: str | None) -> dict[str, str]:
    """The fields of a URL-encoded form body; empty for any other content type.

    Raises ValueError for a body that is not UTF-8.
    """
    if (content_type or "").split(";", 1)[0].strip().lower() != FORM_CONTENT_TYPE:
        return {}
    return _first_values(body.decode("utf-8"))


def parse_cookies(header: str | None) -> dict[str, str]:
    """The cookies of a Cookie header; a malformed header counts as none."""
    if not header:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _first_values(encoded: str) -> dict[str, str]:
    parsed = parse_qs(encoded, keep_blank_values=True, max_num_fields=50)
    return {name: values[0] for name, values in parsed.items() if values}
