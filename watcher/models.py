"""Small frozen values handed from one pipeline stage to the next.

fetch -> parse -> extract -> match -> cluster -> store -> digest -> deliver.
Nothing here talks to the network, the database or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True, slots=True)
class Item:
    """One feed entry, normalized.

    ``key`` is the entry's identity within its feed: the guid, else the link,
    else a hash of title and date (see ``parse.item_key``). ``summary`` and
    ``content_text`` are plain text; ``content_html`` is the entry's full
    content as served (sanitized only on output), empty when the feed gives only
    a summary, and ``content_text`` is its text (or the fetched article's, for
    full-text sources). Datetimes are timezone-aware UTC.
    """

    feed: str
    key: str
    url: str | None
    title: str
    summary: str
    content_html: str = ""
    content_text: str = ""
    author: str = ""
    tags: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    language: str | None = None
    content_hash: str = ""


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store remembers about a feed between polls."""

    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    error_count: int = 0
    last_error: str | None = None
    next_poll_at: datetime | None = None
    last_polled_at: datetime | None = None
    disabled_reason: str | None = None
    page_text: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One place a topic's term or phrase matched: ``text[start:end]`` of ``field``."""

    field: str
    start: int
    end: int
    term: str


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """An item matched a topic, with the evidence and a score (higher is stronger)."""

    topic: str
    score: float
    hits: tuple[Hit, ...] = ()


@dataclass(frozen=True, slots=True)
class StoryCandidate:
    """An item waiting for its story: what clustering needs of it."""

    id: int
    title: str
    text: str
    published: datetime


@dataclass(frozen=True, slots=True)
class StoryMember:
    """An item already in a story, as the story index is rebuilt from the store."""

    id: int
    story_id: int
    fingerprint: str
    published: datetime


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item as the store holds it, with its row id and what it matched."""

    id: int
    item: Item
    feed_title: str
    fetched_at: datetime
    matches: tuple[TopicMatch, ...] = field(default=())
    # The story the item was grouped into (see watcher.cluster); None until assigned.
    story_id: int | None = None


# The open problems an operator can have been told of (see watcher.health).
ProblemKind = Literal["failing", "gone"]


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """What the store knows about one feed's health.

    ``failing_since`` is when the current run of failed polls began (None
    while polls succeed); ``disabled_reason`` is set when watcher stopped
    polling the feed (today only for 410 Gone); ``moved_to`` is the URL a
    permanent redirect moved the feed to, while it differs from ``url``;
    ``added_at`` is when the feed was first seen, so a new feed is not
    called quiet before it had the chance to say anything.
    """

    name: str
    url: str
    error_count: int
    last_error: str | None
    failing_since: datetime | None
    disabled_reason: str | None
    moved_to: str | None
    last_new_item_at: datetime | None
    added_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NoticeState:
    """What the operator was last told about a feed.

    ``notified_kind`` is the open problem they know of ("failing" or "gone";
    None after "recovered" or before any notice); ``announced_move`` the
    last move target they were told of; ``notified_at`` when the last notice
    of either kind was sent.
    """

    name: str
    notified_kind: ProblemKind | None = None
    notified_at: datetime | None = None
    announced_move: str | None = None
