"""Deliver a digest somewhere other than email: a JSON webhook, or any Apprise target.

A channel takes a ``ChannelMessage`` (a digest rendered for short-message
services, plus the digest as JSON) and delivers it or raises, with the same
contract as ``deliver.Transport``: ``TemporaryDeliveryError`` when retrying
later may help (timeouts, refused connections, 408, 425, 429, 5xx) and
``DeliveryError`` when it will not (other 4xx, redirects, bad configuration).

Which channel a URL names (``make_channel``):

    webhook+https://hooks.example.org/watcher   -> WebhookChannel (POST to https://…)
    webhook+http://127.0.0.1:9000/hook          -> WebhookChannel (POST to http://…)
    https://… or http://…                       -> refused: say webhook+https:// for our
                                                   webhook, or json:// / jsons:// for Apprise's
    anything else (tgram://…, ntfy://…, json://…) -> AppriseChannel (needs watcher[apprise])

A plain ``https://`` URL is refused rather than guessed: it could mean our
webhook or one of the many Apprise services addressed by an https URL, and a
wrong guess would post the digest to a service in a format it rejects.

The webhook body is one JSON object (UTF-8)::

    {"title": "...", "text": "...", "url": "... or null",
     "idempotency_key": "<digest-12.morning@example.org>",
     "digest": { ...digest_as_json(view)... }}

and carries the same key in an ``Idempotency-Key`` header
(draft-ietf-httpapi-idempotency-key-header: a Structured Field string, so
quoted), so a receiver can drop the second copy when a digest run is retried.

Channel URLs often hold secrets (a token in the path, the user part or the
query); ``redact_url`` gives the form to put in logs and error messages.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol
from urllib.parse import urlsplit

from watcher import __version__
from watcher.exceptions import DeliveryError, PostError, TemporaryDeliveryError
from watcher.models import JsonValue
from watcher.outputs.sanitize import normalize_text, safe_link, truncate
from watcher.sources.post import post

log = logging.getLogger(__name__)

WEBHOOK_PREFIX = "webhook+"
# Shown in logs where a secret-bearing part of a URL was.
REDACTED = "***"
# RFC 9110 §15.5.9, §15.5.20 (RFC 8470 425 Too Early), RFC 6585 §4: the request
# may succeed later. Every 5xx counts as temporary too.
TEMPORARY_STATUSES = frozenset({408, 425, 429})
ERROR_BODY_LIMIT = 200
# RFC 8941 §3.3.3: an sf-string holds printable ASCII only.
_SF_STRING_CHARS = re.compile(r"^[\x20-\x7e]+$")


@dataclass(frozen=True)
class ChannelMessage:
    """A digest run, ready for a channel.

    ``title`` and ``text`` are plain text (``text`` fits a chat message);
    ``url`` is where the whole digest can be read, if anywhere; ``payload``
    is ``digest_as_json`` of the view; ``idempotency_key`` is the run's
    Message-ID, the same on every retry of the run.
    """

    title: str
    text: str
    url: str | None
    payload: Mapping[str, JsonValue] = field(repr=False)
    idempotency_key: str

    def __post_init__(self) -> None:
        if not _SF_STRING_CHARS.match(self.idempotency_key):
            raise ValueError(
                f"idempotency key {self.idempotency_key!r} must be non-empty printable ASCII"
            )


class Channel(Protocol):
    """Somewhere a digest can go besides email; ``name`` is safe to log."""

    name: str

    def send(self, message: ChannelMessage) -> None:
        """Deliver ``message``; raise TemporaryDeliveryError or DeliveryError on failure."""


class WebhookChannel:
    """POST each digest as JSON to a URL (see the module docstring for the body).

    ``url`` is the http or https URL itself (without ``webhook+``);
    ``headers`` are added to every request (e.g. ``Authorization``).
    Redirects are not followed: most clients turn a redirected POST into a
    GET and drop the body, so the URL must be fixed instead.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: timedelta = timedelta(seconds=30),
        headers: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        if safe_link(url) is None:
            raise ValueError(f"a webhook needs an http or https URL, not {redact_url(url)!r}")
        if timeout <= timedelta(0):
            raise ValueError(f"the webhook timeout must be positive, not {timeout}")
        self._url = url.strip()
        self._timeout = timeout
        self._headers = dict(headers or {})
        self.name = name or f"webhook {redact_url(self._url)}"

    def __repr__(self) -> str:
        # The URL and headers may hold tokens; show only the redacted URL.
        return f"WebhookChannel({redact_url(self._url)!r})"

    def send(self, message: ChannelMessage) -> None:
        """POST ``message``; 2xx is delivered, anything else raises (see the module docstring)."""
        body = json.dumps(
            {
                "title": message.title,
                "text": message.text,
                "url": message.url,
                "idempotency_key": message.idempotency_key,
                "digest": message.payload,
            },
            ensure_ascii=False,
        ).encode("utf-8")
        headers = {
            **self._headers,
            "Content-Type": "application/json",
            "User-Agent": f"watcher/{__version__}",
            "Idempotency-Key": _sf_string(message.idempotency_key),
        }
        target = redact_url(self._url)
        try:
            reply = post(self._url, body, headers, self._timeout)
        except PostError as exc:
            # The message never repeats the URL, which may hold a token.
            if exc.kind == "timeout":
                raise TemporaryDeliveryError(f"webhook {target} timed out: {exc}") from None
            if exc.kind == "connect":
                raise TemporaryDeliveryError(f"cannot connect to webhook {target}") from None
            raise DeliveryError(f"webhook {target} failed: {exc}") from None
        status, reason, location = reply.status, reply.reason, reply.location
        retry_after, text = reply.retry_after, normalize_text(reply.text)
        if 200 <= status < 300:
            log.info("sent digest %s to %s", message.idempotency_key, self.name)
            return
        detail = f"webhook {target} answered {status} {reason}"
        if text:
            detail += f": {truncate(text, ERROR_BODY_LIMIT)}"
        if status in TEMPORARY_STATUSES or status >= 500:
            if retry_after:
                detail += f" (Retry-After: {normalize_text(retry_after)})"
            raise TemporaryDeliveryError(detail)
        if 300 <= status < 400:
            moved = f" to {redact_url(location)}" if location else ""
            raise DeliveryError(f"{detail}; it redirects{moved}, update the webhook URL")
        raise DeliveryError(detail)


class AppriseChannel:
    """Send each digest's short text through Apprise to one or more of its URLs.

    Apprise (https://github.com/caronc/apprise) knows ~100 services by URL
    scheme (``tgram://``, ``ntfy://``, ``mailto://``, ``json://`` …). It is an
    optional dependency: constructing this channel without it raises
    DeliveryError naming the ``watcher[apprise]`` extra. A URL Apprise does
    not recognise raises ValueError here, not at the first digest.
    """

    def __init__(self, urls: Sequence[str], *, name: str | None = None) -> None:
        if not urls:
            raise ValueError("an Apprise channel needs at least one URL")
        # Imported here, not at the top: apprise is an optional extra, and
        # watcher without it must still load and deliver by email or webhook.
        try:
            import apprise
        except ImportError:
            raise DeliveryError(
                "Apprise channels need the apprise package: install watcher[apprise]"
            ) from None
        self._apprise = apprise.Apprise()
        for url in urls:
            if not self._apprise.add(url):
                raise ValueError(f"Apprise does not recognise the URL {redact_url(url)!r}")
        self._urls = tuple(urls)
        self._text_format = apprise.NotifyFormat.TEXT
        self.name = name or "apprise " + ", ".join(redact_url(url) for url in urls)

    def __repr__(self) -> str:
        return f"AppriseChannel({[redact_url(url) for url in self._urls]!r})"

    def send(self, message: ChannelMessage) -> None:
        """Notify every URL; raise TemporaryDeliveryError if any of them failed.

        Apprise reports only success or failure, not why, so every failure
        counts as worth retrying; its log (logger ``apprise``) says more.
        """
        # TEXT: the digest is plain text; Apprise escapes it for services that
        # read Markdown or HTML, so a feed title cannot format or ping anyone.
        delivered = self._apprise.notify(
            body=message.text, title=message.title, body_format=self._text_format
        )
        if not delivered:
            raise TemporaryDeliveryError(f"{self.name}: Apprise could not deliver the digest")
        log.info("sent digest %s to %s", message.idempotency_key, self.name)


def make_channel(url: str, *, timeout: timedelta = timedelta(seconds=30)) -> Channel:
    """The channel a URL names, by the rule in the module docstring.

    Raises ValueError for a URL without a scheme, a bare http(s) URL, or one
    Apprise does not recognise; DeliveryError when an Apprise URL is given
    and apprise is not installed.
    """
    candidate = url.strip()
    scheme = urlsplit(candidate).scheme.lower() if "://" in candidate else ""
    if not scheme:
        raise ValueError(f"{redact_url(candidate)!r} is not a channel URL (no scheme://)")
    if scheme in (f"{WEBHOOK_PREFIX}http", f"{WEBHOOK_PREFIX}https"):
        return WebhookChannel(candidate[len(WEBHOOK_PREFIX) :], timeout=timeout)
    if scheme in ("http", "https"):
        raise ValueError(
            f"{redact_url(candidate)!r} is ambiguous: write webhook+{scheme}://… for watcher's "
            "JSON webhook, or json:// / jsons:// (or the service's own scheme) for Apprise"
        )
    return AppriseChannel([candidate])


def validate_channel_url(url: str) -> None:
    """Raise ValueError, with a message fit for a config error, unless ``url`` names a
    channel (called when the configuration is loaded)."""
    try:
        make_channel(url)
    except DeliveryError as exc:
        raise ValueError(f"{redact_url(url)!r}: {exc}") from None


def redact_url(url: str | None) -> str:
    """``url`` with every part that may hold a secret replaced by ``***``, for logs.

    For http(s) and webhook URLs the scheme, host and port stay (they say
    where the digest went) while the user part, path and query go, since
    webhook services put their tokens there. For any other scheme only the
    scheme stays: Apprise URLs put tokens even in the host position
    (``tgram://BOT_TOKEN/CHAT``).
    """
    if url is None:
        return REDACTED
    candidate = url.strip()
    try:
        parts = urlsplit(candidate)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return REDACTED
    scheme = parts.scheme.lower()
    if not scheme or "://" not in candidate:
        return REDACTED
    if scheme.removeprefix(WEBHOOK_PREFIX) not in ("http", "https"):
        return f"{scheme}://{REDACTED}"
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        host, port = None, None
    if not host:
        return f"{scheme}://{REDACTED}"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if "@" in parts.netloc:
        netloc = f"{REDACTED}@{netloc}"
    path = f"/{REDACTED}" if parts.path.strip("/") else parts.path
    query = f"?{REDACTED}" if parts.query else ""
    return f"{scheme}://{netloc}{path}{query}"


def _sf_string(value: str) -> str:
    """``value`` as an RFC 8941 §3.3.3 sf-string (quoted, with ``\\`` and ``"`` escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
