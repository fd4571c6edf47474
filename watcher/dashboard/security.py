"""Sessions, CSRF tokens and the headers of a dashboard page.

Sessions are random ids held in this process (a restart signs everyone out);
the cookie carries nothing else. Every browser gets a random ``watcher_csrf``
cookie; a form's CSRF token is an HMAC of it under a per-process secret, and
a POST must send that token back in its ``csrf`` field (a signed double-submit
cookie, so a sibling site that can set cookies still cannot forge the token).
Both cookies are HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import datetime, timedelta

SESSION_COOKIE = "watcher_session"
CSRF_COOKIE = "watcher_csrf"
SESSION_LIFETIME = timedelta(days=7)
MAX_SESSIONS = 1000

# The pages load one stylesheet of their own; nothing else, no script at all.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


class Sessions:
    """Signed-in browsers: random ids with an expiry, at most ``limit`` at a time."""

    def __init__(self, lifetime: timedelta = SESSION_LIFETIME, limit: int = MAX_SESSIONS) -> None:
        self.lifetime = lifetime
        self.limit = limit
        self._expiry: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def create(self, now: datetime) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            for known, expires in list(self._expiry.items()):
                if expires <= now:
                    del self._expiry[known]
            while len(self._expiry) >= self.limit:
                # Dicts keep insertion order: the oldest session goes first.
                del self._expiry[next(iter(self._expiry))]
            self._expiry[session_id] = now + self.lifetime
        return session_id

    def valid(self, session_id: str | None, now: datetime) -> bool:
        if not session_id:
            return False
        with self._lock:
            expires = self._expiry.get(session_id)
        return expires is not None and now < expires

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._expiry.pop(session_id, None)


class LoginThrottle:
    """At most ``limit`` wrong tokens per ``period`` across all clients, then a pause.

    Guessing a good token is hopeless anyway; this keeps a weak one from being
    guessed at line rate, and costs no thread a sleep.
    """

    def __init__(self, limit: int = 20, period: timedelta = timedelta(minutes=1)) -> None:
        self.limit = limit
        self.period = period
        self._failures: list[datetime] = []
        self._lock = threading.Lock()

    def blocked(self, now: datetime) -> bool:
        with self._lock:
            self._failures = [when for when in self._failures if now - when < self.period]
            return len(self._failures) >= self.limit

    def failed(self, now: datetime) -> None:
        with self._lock:
            self._failures.append(now)


class CsrfTokens:
    """Per-browser CSRF tokens derived from the ``watcher_csrf`` cookie."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    @staticmethod
    def new_browser_id() -> str:
        return secrets.token_urlsafe(24)

    def token(self, browser_id: str) -> str:
        return hmac.new(self._secret, browser_id.encode(), hashlib.sha256).hexdigest()

    def check(self, browser_id: str | None, offered: str | None) -> bool:
        if not browser_id or not offered:
            return False
        return hmac.compare_digest(self.token(browser_id).encode(), offered.encode())


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, the whole site; Secure behind https."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
