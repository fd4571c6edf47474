"""POST a document to a URL the operator configured (the webhook channel), within one deadline.

All of watcher's HTTP goes through ``sources/``: a webhook is sent through the
same connection classes as a fetch, so the whole exchange (DNS, connect, TLS,
request, status line, headers, reply) ends by one total deadline. requests' own
timeout bounds each socket read only, and a receiver that trickles its reply
would otherwise hold the one delivery thread, and every alert behind it.

The URL is the operator's, so no address is refused (a webhook on the LAN is
normal), no redirect is followed, proxies and ``~/.netrc`` are ignored, and only
the first ``REPLY_LIMIT`` bytes of the reply are read. Messages never repeat the
URL: it may carry a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import requests
import urllib3.exceptions

from watcher.exceptions import PostError
from watcher.sources import deadline as deadline_of_post
from watcher.sources.deadline import FetchDeadline
from watcher.sources.netguard import AddressGuard, GuardedAdapter, any_address, closed_session

# Enough of a reply to show why a receiver refused a message.
REPLY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class PostReply:
    """What the receiver answered: status, the headers a sender acts on, the reply's start."""

    status: int
    reason: str
    location: str | None
    retry_after: str | None
    text: str


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: timedelta) -> PostReply:
    """POST ``body`` to ``url``; the reply, whatever its status.

    Raises PostError (``kind`` "timeout", "connect" or "failed") when no whole
    reply arrived within ``timeout`` in total.
    """
    seconds = timeout.total_seconds()
    adapter = GuardedAdapter(AddressGuard(classify=any_address), max_retries=0)
    with (
        closed_session(adapter) as session,
        deadline_of_post.running(FetchDeadline(seconds)) as deadline,
    ):
        try:
            response = session.post(
                url,
                data=body,
                headers=dict(headers),
                timeout=seconds,
                allow_redirects=False,
                stream=True,
            )
            with response:
                reply = response.raw.read(REPLY_LIMIT, decode_content=True) or b""
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if deadline.expired or isinstance(exc, requests.Timeout | TimeoutError):
                raise PostError("timeout", f"no reply within {seconds:g}s") from None
            if isinstance(exc, requests.ConnectionError):
                raise PostError("connect", "cannot connect") from None
            raise PostError("failed", type(exc).__name__) from None
        if deadline.expired:
            raise PostError("timeout", f"no whole reply within {seconds:g}s")
    encoding = response.encoding or "utf-8"
    return PostReply(
        status=response.status_code,
        reason=response.reason or "",
        location=response.headers.get("Location"),
        retry_after=response.headers.get("Retry-After"),
        text=reply.decode(encoding, errors="replace"),
    )
