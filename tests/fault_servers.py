"""Servers for the fault-injection suite (tests/test_faults.py), on 127.0.0.1.

``FaultySmtp``: an aiosmtpd handler whose behaviour the test switches while the
daemon runs: accept, answer 452 to MAIL FROM (a full mailbox server), or take a
message's DATA and then never answer (a hung server). It keeps what it accepted
and when, and when it refused or hung.

``Newsroom``: an HTTP server for one feed (RSS), one listing page with its
article pages, and one watched page, whose content the test changes. It answers
conditional requests with 304, and records which items and page versions it
served in a 200 response, so the test can check that each was stored once.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import html
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.feed_server import serving
from tests.smtp_server import HOST, _LocalController

# How long a hung DATA stays unanswered at most (the client gives up long before).
HANG_LIMIT_SECONDS = 120.0


class SmtpMode(StrEnum):
    ACCEPT = "accept"
    REFUSE_452 = "452"  # every MAIL FROM gets "452 insufficient storage"
    HANG_AFTER_DATA = "hang"  # the message is read, the final reply never comes


@dataclass(frozen=True)
class Accepted:
    """A message the server took (answered 250 to its DATA)."""

    at: float  # time.monotonic()
    message: EmailMessage

    @property
    def digest(self) -> str:
        return str(self.message.get("X-Watcher-Digest", ""))

    @property
    def text(self) -> str:
        """The plain-text part, white space collapsed (the template wraps long lines)."""
        part = self.message.get_body(preferencelist=("plain",))
        content = part.get_content() if part is not None else ""
        return " ".join(str(content).split())


@dataclass
class FaultySmtp:
    """An aiosmtpd handler with a switchable fault (see SmtpMode)."""

    mode: SmtpMode = SmtpMode.ACCEPT
    accepted: list[Accepted] = field(default_factory=list)
    # (monotonic time, "452" | "hang") of each refused or hung transaction.
    faults: list[tuple[float, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_mode(self, mode: SmtpMode) -> None:
        with self._lock:
            self.mode = mode

    def faults_since(self, since: float, kind: str) -> int:
        with self._lock:
            return sum(1 for at, what in self.faults if at >= since and what == kind)

    def messages(self, digest: str | None = None) -> list[Accepted]:
        with self._lock:
            return [m for m in self.accepted if digest is None or m.digest == digest]

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self._lock:
            if self.mode is SmtpMode.REFUSE_452:
                self.faults.append((time.monotonic(), "452"))
                return "452 4.3.1 Insufficient system storage"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            hang = self.mode is SmtpMode.HANG_AFTER_DATA
            if hang:
                self.faults.append((time.monotonic(), "hang"))
        if hang:
            # The client times out and drops the connection; this message was never
            # acknowledged, so it is not delivered (a resend is not a duplicate).
            deadline = time.monotonic() + HANG_LIMIT_SECONDS
            while self.mode is SmtpMode.HANG_AFTER_DATA and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            return "451 4.3.0 Transaction abandoned"
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.accepted.append(Accepted(at=time.monotonic(), message=parsed))
        return "250 2.0.0 Queued"


@contextmanager
def running_faulty_smtp() -> Iterator[tuple[int, FaultySmtp]]:
    """A FaultySmtp on 127.0.0.1; yields (port, handler)."""
    handler = FaultySmtp()
    controller = _LocalController(handler, hostname=HOST, port=0, server_hostname="smtp.test")
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


# -- the newsroom --------------------------------------------------------------------

_SYLLABLES = (  # noqa: SIM905 - a list of syllables reads best as one line of text
    "ka lo mer tis van dru pel sor gan wil bre tum fos nar quel hib zan ors "
    "dal vek mun tor ril sab gom ped lur cav fin jor ves bul"
).split()


def invented_words(seed: str, count: int) -> list[str]:
    """Words of three random syllables: distinct texts share almost no words, so no
    two test items fall into one story (watcher.cluster) by accident."""
    rng = random.Random(seed)
    return ["".join(rng.choice(_SYLLABLES) for _ in range(3)) for _ in range(count)]


@dataclass(frozen=True)
class Story:
    """One article: matching ("Premier ..." in the title) or not."""

    slug: str
    matching: bool

    @property
    def title(self) -> str:
        words = invented_words("title-" + self.slug, 4)
        lead = "Premier" if self.matching else "Harbour"
        return f"{lead} {' '.join(w.capitalize() for w in words)} {self.slug}"

    def sentences(self) -> list[str]:
        words = invented_words("body-" + self.slug, 72)
        return [" ".join(words[i : i + 12]).capitalize() + "." for i in range(0, 72, 12)]


class Newsroom(ThreadingHTTPServer):
    """A feed, a listing page with articles and a watched page, changed by the test."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((HOST, 0), _NewsroomHandler)
        self.lock = threading.Lock()
        self.feed_stories: list[Story] = []
        self.page_stories: list[Story] = []
        self.notices: list[str] = []  # the watched page's lines; a new one is a change
        # What was served in a 200 response: feed items and articles by slug, and the
        # watched page by its number of notices.
        self.served_feed: set[str] = set()
        self.served_articles: set[str] = set()
        self.served_notices: set[int] = set()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def story_url(self, slug: str) -> str:
        return f"{self.base_url}/story/{slug}.html"

    def article_url(self, slug: str) -> str:
        return f"{self.base_url}/articles/{slug}.html"

    def publish(self, feed: list[Story], page: list[Story], notice: str | None) -> None:
        """Add stories to the feed and the listing page, and a line to the watched page."""
        with self.lock:
            self.feed_stories.extend(feed)
            self.page_stories.extend(page)
            if notice is not None:
                self.notices.append(notice)

    # The documents, built under the lock by the handler.

    def feed_document(self) -> tuple[bytes, list[str]]:
        items = "".join(
            f"<item><title>{html.escape(s.title)}</title>"
            f"<link>{self.story_url(s.slug)}</link><guid>{self.story_url(s.slug)}</guid>"
            f"<description>{html.escape(' '.join(s.sentences()))}</description></item>"
            for s in self.feed_stories
        )
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire desk</title>'
            f"<link>{self.base_url}/</link><description>Test wire</description>"
            f"{items}</channel></rss>"
        )
        return body.encode(), [s.slug for s in self.feed_stories]

    def listing_document(self) -> bytes:
        cards = "\n".join(
            f'<li class="story"><a href="/articles/{s.slug}.html">{html.escape(s.title)}</a></li>'
            for s in self.page_stories
        )
        return (
            '<!DOCTYPE html><html><body><nav><a href="/">Home</a></nav>'
            f'<ul class="stories">{cards}</ul></body></html>'
        ).encode()

    def article_document(self, slug: str) -> bytes | None:
        story = next((s for s in self.page_stories if s.slug == slug), None)
        if story is None:
            return None
        paragraphs = "".join(f"<p>{html.escape(s)}</p>" for s in story.sentences())
        title = html.escape(story.title)
        return (
            f'<!DOCTYPE html><html lang="en"><head><title>{title}</title>'
            f'<meta property="og:title" content="{title}"></head><body>'
            f"<article><h1>{title}</h1>{paragraphs}</article></body></html>"
        ).encode()

    def notice_document(self) -> tuple[bytes, int]:
        lines = "".join(f"<p>{html.escape(line)}</p>" for line in self.notices)
        body = (
            "<!DOCTYPE html><html><head><title>Harbour notices</title></head><body>"
            f"<main><h1>Harbour notices</h1>{lines}</main></body></html>"
        )
        return body.encode(), len(self.notices)


class _NewsroomHandler(BaseHTTPRequestHandler):
    server: Newsroom

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        room = self.server
        served: tuple[str, object] | None = None
        with room.lock:
            if self.path == "/feed.xml":
                body, slugs = room.feed_document()
                content_type = "application/rss+xml; charset=utf-8"
                served = ("feed", slugs)
            elif self.path == "/section":
                body, content_type = room.listing_document(), "text/html; charset=utf-8"
            elif self.path == "/notices":
                body, version = room.notice_document()
                content_type = "text/html; charset=utf-8"
                served = ("notices", version)
            elif self.path == "/robots.txt":
                body, content_type = b"User-agent: *\nAllow: /\n", "text/plain"
            elif found := re.fullmatch(r"/articles/([\w-]+)\.html", self.path):
                article = room.article_document(found.group(1))
                if article is None:
                    self.send_error(404)
                    return
                body, content_type = article, "text/html; charset=utf-8"
                served = ("article", found.group(1))
            else:
                self.send_error(404)
                return
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return
        if served is not None:
            kind, what = served
            with room.lock:
                if kind == "feed":
                    assert isinstance(what, list)
                    room.served_feed.update(what)
                elif kind == "article":
                    assert isinstance(what, str)
                    room.served_articles.add(what)
                else:
                    assert isinstance(what, int)
                    room.served_notices.add(what)


@contextmanager
def running_newsroom() -> Iterator[Newsroom]:
    with serving(Newsroom()) as server:
        yield server
