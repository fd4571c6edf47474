"""robots.txt (RFC 9309): may we fetch this URL, as this user agent?

``RobotsPolicy`` is one site's robots.txt, parsed; ``policy_from_fetch`` turns
the outcome of fetching it into a policy; ``RobotsCache`` keeps one policy per
scheme, host and port and refetches it when it expires. The only HTTP is the
``fetch`` callable the caller passes (``lambda url:
fetcher.fetch(FetchRequest(url))`` in the daemon).

urllib.robotparser is not used: it applies the first matching rule in file
order and knows no ``*`` or ``$``, where RFC 9309 §2.2.2 asks for the most
specific (longest) match, ``allow`` winning a tie, and wildcards.

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

from watcher.sources.fetch import Fetched, FetchFailed, FetchFailureKind, FetchResult, NotModified

MAX_ROBOTS_BYTES = 500 * 1024
"""RFC 9309 §2.5: crawlers SHOULD parse at least the first 500 KiB; the rest is ignored."""

MAX_PATTERN_LENGTH = 2048
"""Longer rule paths are ignored: no URL we fetch is longer, and matching costs their length."""

# RFC 9309 §2.2.1: a product token is letters, "_" and "-".
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")
_PERCENT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# RFC 3986 §2.3: unreserved characters mean the same escaped or not.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_USER_AGENT_KEYS = frozenset({"user-agent", "useragent", "user agent"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ALLOW_ALL_FAILURES = frozenset(
    {FetchFailureKind.TOO_MANY_REDIRECTS, FetchFailureKind.REDIRECT_LOOP, FetchFailureKind.GONE}
)


@dataclass(frozen=True, slots=True)
class RobotsRule:
    """One ``allow`` or ``disallow`` line; ``pattern`` is normalized (see ``_normalize``)."""

    allow: bool
    pattern: str


@dataclass(frozen=True, slots=True)
class RobotsGroup:
    """The rules that follow one or more ``user-agent`` lines (lower-cased product tokens)."""

    user_agents: tuple[str, ...]
    rules: tuple[RobotsRule, ...]


@dataclass(frozen=True, slots=True)
class RobotsPolicy:
    """What a site's robots.txt allows.

    ``disallow_everything`` stands for a robots.txt we may not or could not
    read; ``unreachable`` marks a policy made up because the site did not
    answer (it is asked again sooner, and a cached real policy is preferred).
    ``reason`` says in a few words where the policy came from.
    """

    groups: tuple[RobotsGroup, ...] = ()
    disallow_everything: bool = False
    unreachable: bool = False
    reason: str = ""

    @classmethod
    def from_text(cls, text: str) -> RobotsPolicy:
        """Parse robots.txt text; lines that are not rules are ignored, never an error."""
        return cls(groups=_parse_groups(text.removeprefix("\ufeff")), reason="robots.txt")

    @classmethod
    def from_body(cls, body: bytes) -> RobotsPolicy:
        """Parse a fetched robots.txt: UTF-8 (RFC 9309 §2.3), the first ``MAX_ROBOTS_BYTES``."""
        if len(body) > MAX_ROBOTS_BYTES:
            # Cut at the last whole line, so a rule is never read half.
            body = body[:MAX_ROBOTS_BYTES].rpartition(b"\n")[0]
        return cls.from_text(body.decode("utf-8", "replace"))

    def allowed(self, url: str, user_agent: str) -> bool:
        """True when ``user_agent`` (a full User-Agent header is fine) may fetch ``url``."""
        path = _path_of(url)
        # RFC 9309 §2.2.2: /robots.txt itself is always allowed.
        if path == "/robots.txt":
            return True
        if self.disallow_everything:
            return False
        best: RobotsRule | None = None
        for rule in self.rules_for(user_agent):
            if not _pattern_matches(rule.pattern, path):
                continue
            # The longest pattern is the most specific; allow wins a tie (§2.2.2).
            if (
                best is None
                or len(rule.pattern) > len(best.pattern)
                or (len(rule.pattern) == len(best.pattern) and rule.allow)
            ):
                best = rule
        return best is None or best.allow

    def rules_for(self, user_agent: str) -> tuple[RobotsRule, ...]:
        """The rules that apply to ``user_agent``: every group naming its product token, else ``*``.

        RFC 9309 §2.2.1: product tokens match without regard to case, and the
        groups that match are combined.
        """
        token = product_token(user_agent)
        named = [group for group in self.groups if token and token in group.user_agents]
        chosen = named or [group for group in self.groups if "*" in group.user_agents]
        return tuple(rule for group in chosen for rule in group.rules)


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


def _parse_groups(text: str) -> tuple[RobotsGroup, ...]:
    groups: list[RobotsGroup] = []
    agents: list[str] = []
    rules: list[RobotsRule] = []
    # True once the current group's user-agent lines are followed by a rule line.
    in_rules = False
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0]
        key, separator, value = line.partition(":")
        if not separator:
            continue
        key = key.strip().lower()
        value = value.strip()
        if key in _USER_AGENT_KEYS:
            # A user-agent line after rules starts the next group (RFC 9309 §2.1).
            if in_rules:
                groups.append(RobotsGroup(tuple(agents), tuple(rules)))
                agents, rules, in_rules = [], [], False
            agent = "*" if value.startswith("*") else product_token(value)
            if agent:
                agents.append(agent)
        elif key in ("allow", "disallow") and agents:
            # Rules before any user-agent line belong to no group and are skipped.
            in_rules = True
            # An empty path restricts nothing (§2.2.2), but still ends the agent list.
            if value and len(value) <= MAX_PATTERN_LENGTH:
                rules.append(RobotsRule(allow=key == "allow", pattern=_normalize(value)))
    if agents:
        groups.append(RobotsGroup(tuple(agents), tuple(rules)))
    return tuple(groups)


def _normalize(value: str) -> str:
    """Percent-encode non-ASCII as UTF-8, decode escaped unreserved characters (RFC 9309 §2.2.2)."""
    encoded = "".join(quote(c, safe="") if ord(c) > 0x7F or c == " " else c for c in value)

    def unescape(found: re.Match[str]) -> str:
        character = chr(int(found.group(1), 16))
        return character if character in _UNRESERVED else f"%{found.group(1).upper()}"

    return _PERCENT_ESCAPE.sub(unescape, encoded)


def _path_of(url: str) -> str:
    """The path and query of ``url``, normalized like rule patterns; ``/`` for an empty path."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "/"
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    # Matching costs pattern length x path length; a longer path than this is
    # no URL a site links to, and its tail cannot change which prefix rule wins.
    return _normalize(path)[: MAX_PATTERN_LENGTH * 2]


def _pattern_matches(pattern: str, path: str) -> bool:
    """Does a rule match ``path`` from its start? ``*`` is any run, a final ``$`` the end.

    Without ``$`` a rule is a prefix. Matched with the greedy wildcard walk
    (backtracking only to the last ``*``): time bounded by pattern length x
    path length, where a regular expression could backtrack exponentially.
    """
    if not pattern:
        return False
    if pattern.endswith("$"):
        pattern = pattern[:-1]
    else:
        pattern += "*"
    pattern_at = path_at = 0
    star_at = -1
    star_path_at = 0
    while path_at < len(path):
        if pattern_at < len(pattern) and pattern[pattern_at] == "*":
            star_at, star_path_at = pattern_at, path_at
            pattern_at += 1
        elif pattern_at < len(pattern) and pattern[pattern_at] == path[path_at]:
            pattern_at += 1
            path_at += 1
        elif star_at >= 0:
            star_path_at += 1
            pattern_at, path_at = star_at + 1, star_path_at
        else:
            return False
    return all(character == "*" for character in pattern[pattern_at:])


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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
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
