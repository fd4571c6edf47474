"""The values the store hands out (ORM rows never leave the store package)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from watcher.models import (
    Item,
    SourceState,
    StoredItem,
    TopicMatch,
)


@dataclass(frozen=True, slots=True)
class MatchedItem:
    """A new or changed item of one poll, with the topics it matched."""

    item: Item
    matches: tuple[TopicMatch, ...]


@dataclass(frozen=True, slots=True)
class SourceUpdate:
    """What one poll changes about a feed, written in one transaction with its items."""

    name: str
    polled_at: datetime
    result: str
    next_poll_at: datetime
    error_count: int = 0
    last_error: str | None = None
    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None
    bozo_reason: str | None = None
    disabled_reason: str | None = None
    # The validators above replace the stored ones only when the fetch returned a body.
    replace_validators: bool = False
    # A watched page's new text, when it changed (or was seen for the first time).
    page_text: str | None = None
    # The digests of the entries parsed (ParsedFeed.entry_digests); replaced with the
    # validators, in the transaction that stores the items they stand for.
    entry_digests: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class IngestCounts:
    new_items: int
    changed_items: int
    # One entry per new match: the topic it is for.
    matched_topics: tuple[str, ...]

    @property
    def new_matches(self) -> int:
        return len(self.matched_topics)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a digest run goes and how that went so far."""

    target: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DigestRun:
    """A claimed digest: its id, its Message-ID once assigned, what it covers, and
    its deliveries (one per target: the email, each channel)."""

    id: int
    digest: str
    created_at: datetime
    attempts: int
    message_id: str | None
    items: tuple[StoredItem, ...]
    deliveries: tuple[Delivery, ...] = ()

    def due(self, now: datetime) -> list[Delivery]:
        """Deliveries still pending whose next attempt has come."""
        return [
            d
            for d in self.deliveries
            if d.status == "pending" and (d.next_attempt_at is None or d.next_attempt_at <= now)
        ]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    state: SourceState
    active: bool
    last_result: str | None
    items: int


@dataclass(frozen=True, slots=True)
class Label:
    """A reader's judgement: is ``item_id`` relevant to ``topic``?"""

    item_id: int
    topic: str
    relevant: bool
    origin: str
    labelled_at: datetime


@dataclass(frozen=True, slots=True)
class ItemClaim:
    """A digest run that took one of an item's matches (``suppressed``: claimed, not shown,
    because an alert about the item's story went out before)."""

    topic: str
    digest: str
    run_id: int
    status: str
    created_at: datetime
    sent_at: datetime | None
    suppressed: bool
