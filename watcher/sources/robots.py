"""robots.txt (RFC 9309): may we fetch this URL, as this user agent?

``RobotsPolicy`` is one site's robots.txt, parsed; ``policy_from_fetch`` turns
the outcome of fetching it into a policy; ``RobotsCache`` keeps one policy per
scheme, host and port and refetches it when it expires. The only HTTP is the
``fetch`` callable the caller passes (``lambda url:
fetcher.fetch(FetchRequest(url))`` in the daemon).

Parsing and matching are protego's (the parser Scrapy uses): the most specific
(longest) rule wins, ``allow`` winning a tie, with ``*`` and ``$`` wildcards and
percent-encoding normalized (RFC 9309 §2.2.2). urllib.robotparser is not used:
it applies the first matching rule in file order and knows no wildcards. What
stays here is what protego leaves to its caller: the size limit, the product
token we match groups by, and what a failed fetch means.

What a fetch outcome means (RFC 9309 §2.3.1):

    2xx                     the rules in the body (the first 500 KiB, §2.5)
    401, 403                nothing allowed: the 1996 convention, which
                            urllib.robotparser and many crawlers keep (RFC 9309
                            itself would allow all, like any 4xx); an operator
                            who locks robots.txt away is unlikely to welcome us
    other 4xx, 410          everything allowed ("unavailable", §2.3.1.3)
    too many redirects      everything allowed (§2.3.1.2)
    429, 5xx, network error nothing allowed for now ("unreachable", §2.3.1.4),
                            or the last rules we read if we have them (§2.4);
                            asked again after ``unreachable_ttl``
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from protego import Protego

from watcher.clock import utc_now
from watcher.sources.fetch import Fetched, FetchFailed, FetchFailureKind, FetchResult, NotModified

MAX_ROBOTS_BYTES = 500 * 1024
"""RFC 9309 §2.5: crawlers SHOULD parse at least the first 500 KiB; the rest is ignored."""

# RFC 9309 §2.2.1: a product token is letters, "_" and "-".
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ALLOW_ALL_FAILURES = frozenset(
    {FetchFailureKind.TOO_MANY_REDIRECTS, FetchFailureKind.REDIRECT_LOOP, FetchFailureKind.GONE}
)


@dataclass(frozen=True, slots=True)
class RobotsPolicy:
    """What a site's robots.txt allows.

    ``rules`` is the parsed robots.txt (None: no rules, everything allowed);
    ``disallow_everything`` stands for a robots.txt we may not or could not
    read; ``unreachable`` marks a policy made up because the site did not
    answer (it is asked again sooner, and a cached real policy is preferred).
    ``reason`` says in a few words where the policy came from.

    One policy is shared by the daemon's poll threads. protego only memoizes
    on a query (which group a user agent gets, a prefix index): idempotent
    writes of the same values, so concurrent queries need no lock.
    """

    rules: Protego | None = field(default=None, compare=False)
    disallow_everything: bool = False
    unreachable: bool = False
    reason: str = ""

    @classmethod
    def from_text(cls, text: str) -> RobotsPolicy:
        """Parse robots.txt text; lines that are not rules are ignored, never an error."""
        return cls(rules=Protego.parse(text.removeprefix("\ufeff")), reason="robots.txt")

    @classmethod
    def from_body(cls, body: bytes) -> RobotsPolicy:
        """Parse a fetched robots.txt: UTF-8 (RFC 9309 §2.3), the first ``MAX_ROBOTS_BYTES``."""
        if len(body) > MAX_ROBOTS_BYTES:
            # Cut at the last whole line, so a rule is never read half.
            body = body[:MAX_ROBOTS_BYTES].rpartition(b"\n")[0]
        return cls.from_text(body.decode("utf-8", "replace"))

    def allowed(self, url: str, user_agent: str) -> bool:
        """True when ``user_agent`` (a full User-Agent header is fine) may fetch ``url``.

        Groups are matched by the product token alone: given the whole header,
        protego would also match a group named after a word in its comment
        (``+https://github.com/...`` and ``User-agent: github``).
        """
        # RFC 9309 §2.2.2: /robots.txt itself is always allowed.
        if _path_of(url) == "/robots.txt":
            return True
        if self.disallow_everything:
            return False
        if self.rules is None:
            return True
        # No product token (an empty or odd header): only the * group can apply.
        return self.rules.can_fetch(url, product_token(user_agent) or "*")


def allow_all(reason: str) -> RobotsPolicy:
    """A policy with no rules: every URL allowed."""
    return RobotsPolicy(reason=reason)


def disallow_all(reason: str, *, unreachable: bool = False) -> RobotsPolicy:
    """A policy allowing nothing but /robots.txt itself."""
    return RobotsPolicy(disallow_everything=True, unreachable=unreachable, reason=reason)


def policy_from_fetch(result: FetchResult) -> RobotsPolicy | None:
    """The policy a robots.txt fetch outcome means (table in the module docstring).

    None for ``NotModified``: the policy we already had still holds.
    """
    if isinstance(result, NotModified):
        return None
    if isinstance(result, Fetched):
        return RobotsPolicy.from_body(result.body)
    return _policy_for_failure(result)


def _policy_for_failure(failure: FetchFailed) -> RobotsPolicy:
    status = failure.status
    reason = f"robots.txt: {failure.kind}" + (f" (HTTP {status})" if status else "")
    if status in (401, 403):
        return disallow_all(reason)
    if failure.kind in _ALLOW_ALL_FAILURES or failure.kind == FetchFailureKind.HTTP_CLIENT:
        return allow_all(reason)
    return disallow_all(reason, unreachable=True)


def product_token(user_agent: str) -> str:
    """``"watcher/0.1 (+https://...)"`` -> ``"watcher"`` (lower-cased, RFC 9309 §2.2.1)."""
    found = _PRODUCT_TOKEN.match(user_agent.strip())
    return found.group().lower() if found else ""


def _path_of(url: str) -> str:
    try:
        return urlsplit(url.strip()).path
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class _CachedPolicy:
    policy: RobotsPolicy
    expires_at: datetime
    # The last answer the site gave (rules, or a 4xx), kept through outages (§2.4).
    last_read: RobotsPolicy | None


class RobotsCache:
    """robots.txt policies per scheme, host and port, fetched on first use. Thread-safe.

    ``ttl`` is how long a policy read from a site is trusted (RFC 9309 §2.4:
    no more than 24 hours); ``unreachable_ttl`` how long until a site that did
    not answer is asked again (longer if it sent a Retry-After, up to ``ttl``).
    ``clock`` returns aware datetimes. Concurrent callers for one site wait for
    one fetch rather than each making their own.
    """

    def __init__(
        self,
        fetch: Callable[[str], FetchResult],
        *,
        user_agent: str,
        ttl: timedelta = timedelta(hours=24),
        unreachable_ttl: timedelta = timedelta(minutes=30),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if ttl <= timedelta(0) or unreachable_ttl <= timedelta(0):
            raise ValueError("robots.txt cache durations must be positive")
        self._fetch = fetch
        self._user_agent = user_agent
        self._ttl = ttl
        self._unreachable_ttl = unreachable_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _CachedPolicy] = {}
        self._site_locks: dict[str, threading.Lock] = {}

    def allowed(self, url: str) -> bool:
        """True when robots.txt lets our user agent fetch ``url``.

        URLs that are not http(s) (``file://``) have no robots.txt and are allowed.
        """
        site = robots_site(url)
        if site is None:
            return True
        return self.policy(site).allowed(url, self._user_agent)

    def policy(self, site: str) -> RobotsPolicy:
        """The current policy for ``site`` (``scheme://host[:port]``), fetching it when stale."""
        with self._lock:
            cached = self._fresh(site)
            if cached is not None:
                return cached
            site_lock = self._site_locks.setdefault(site, threading.Lock())
        with site_lock:
            with self._lock:
                cached = self._fresh(site)
                previous = self._entries.get(site)
            if cached is not None:  # another thread fetched it while we waited
                return cached
            entry = self._refresh(site, previous)
            with self._lock:
                self._entries[site] = entry
            return entry.policy

    def _fresh(self, site: str) -> RobotsPolicy | None:
        entry = self._entries.get(site)
        if entry is not None and self._clock() < entry.expires_at:
            return entry.policy
        return None

    def _refresh(self, site: str, previous: _CachedPolicy | None) -> _CachedPolicy:
        result = self._fetch(f"{site}/robots.txt")
        now = self._clock()
        last_read = previous.last_read if previous else None
        policy = policy_from_fetch(result)
        if policy is None:  # 304: what we read last time still holds
            policy = last_read or disallow_all(
                "robots.txt: not modified, but nothing cached", unreachable=True
            )
        if not policy.unreachable:
            return _CachedPolicy(policy, now + self._ttl, last_read=policy)
        wait = self._unreachable_ttl
        if isinstance(result, FetchFailed) and result.retry_after:
            wait = min(max(wait, result.retry_after), self._ttl)
        return _CachedPolicy(last_read or policy, now + wait, last_read)


def robots_site(url: str) -> str | None:
    """``"https://Example.org:443/a?b"`` -> ``"https://example.org"``; None unless http(s).

    RFC 9309 §2.3: a robots.txt governs one scheme, host and port.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"
