"""Small frozen values handed from one pipeline stage to the next.

fetch -> parse -> extract -> match -> cluster -> store -> digest -> deliver.
Nothing here talks to the network, the database or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
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
    # The fields the parser cut to their limits (watcher/sources/itemcaps.py).
    cut: tuple[str, ...] = ()


# What JSON renderings (digests as JSON, webhook payloads) are made of.
JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class PollOutcome(StrEnum):
    """What one poll of one source came to."""

    NEW_ITEMS = "new_items"  # a feed or listing page brought new items
    NO_NEW_ITEMS = "no_new_items"  # fetched and parsed, nothing new
    NOT_MODIFIED = "not_modified"  # 304, or the same body as last time
    CHANGED = "changed"  # a watched page changed beyond its ignored noise
    UNCHANGED = "unchanged"  # a watched page did not
    BASELINE = "baseline"  # a watched page's first poll: its text kept for next time
    FAILED = "failed"  # recorded with its error kind and a backoff
    GONE = "gone"  # 410: the source is disabled until its config changes
    DISABLED = "disabled"  # not polled: disabled earlier

    @property
    def failed(self) -> bool:
        return self in (PollOutcome.FAILED, PollOutcome.GONE)

    @property
    def fetched(self) -> bool:
        """A body was fetched and processed (not a 304, a failure or a skip)."""
        return self in (
            PollOutcome.NEW_ITEMS,
            PollOutcome.NO_NEW_ITEMS,
            PollOutcome.CHANGED,
            PollOutcome.UNCHANGED,
            PollOutcome.BASELINE,
        )


class DeliveryStatus(StrEnum):
    """Where one delivery of a digest run (and the run as a whole) stands."""

    PENDING = "pending"  # not yet accepted; due at next_attempt_at
    SENT = "sent"
    FAILED = "failed"  # a permanent error: not tried again
    SUPPRESSED = "suppressed"  # a run whose every match was already alerted


class SendOutcome(StrEnum):
    """What one attempt at sending a digest run did."""

    SENT = "sent"
    RETRY = "retry"  # a temporary error: the run is due again later
    FAILED = "failed"  # a permanent error


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers about a source (feed, listing page, watch) between polls."""

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
    # The digests of the entries of the last stored parse (ParsedFeed.entry_digests).
    entry_digests: frozenset[str] = frozenset()


# Hit and TopicMatch are values (equal and hashed by their fields) but not frozen:
# matching makes one of each for every topic an item matches, and a frozen
# dataclass's __init__ sets each field through object.__setattr__, nearly four
# times the cost of a plain one (issue #18: 1,000 topics). Nothing assigns to them
# after they are made; replace() makes a changed copy.
@dataclass(slots=True, unsafe_hash=True)
class Hit:
    """One place a topic's term or phrase matched: ``text[start:end]`` of ``field``."""

    field: str
    start: int
    end: int
    term: str


@dataclass(slots=True, unsafe_hash=True)
class TopicMatch:
    """An item matched a topic, with the evidence and a score (higher is stronger)."""

    topic: str
    score: float
    hits: tuple[Hit, ...] = ()


# The key of an item that records a change of a watched page. Such an item is a
# story of its own: every change of one page has the same title and link, and
# must neither join nor gather other items (or later changes would be suppressed).
WATCH_CHANGE_KEY_PREFIX = "change:"


@dataclass(frozen=True, slots=True)
class StoryCandidate:
    """An item waiting for its story: what clustering needs of it."""

    id: int
    title: str
    text: str
    published: datetime
    # A story of its own, never indexed (a watched page's change).
    standalone: bool = False


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


# The open problems an operator can have been told of (see watcher.outputs.health).
ProblemKind = Literal["failing", "gone"]


@dataclass(frozen=True, slots=True)
class SourceHealth:
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
