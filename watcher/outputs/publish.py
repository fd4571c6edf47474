"""Matches as Atom feeds: one per topic and one per digest, grouped into stories the
same way the digest email is, so a feed reader sees the stories the email showed.

``FeedCache`` keeps each document and builds it again only when what it shows
changed, for the daemon's endpoint (issue #16: with every request rebuilding,
200 concurrent requests for a feed took more than 5 s each).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from watcher.clock import utc_now
from watcher.config import DigestConfig
from watcher.models import StoredItem
from watcher.outputs.atom import render_atom
from watcher.outputs.view import DigestEntry
from watcher.pipeline import Pipeline

# The view's generation time is not shown in a feed; any fixed aware time will do.
_VIEW_TIME = datetime(2000, 1, 1, tzinfo=UTC)
FEED_LIMIT = 50


def _entries(
    pipeline: Pipeline, digest: DigestConfig, items: Sequence[StoredItem]
) -> list[DigestEntry]:
    view = pipeline.digests.digest_view(digest, items, now=_VIEW_TIME)
    return [entry for section in view.sections for entry in section.entries]


def _updated(pipeline: Pipeline, entries: Sequence[DigestEntry]) -> datetime:
    """The newest entry's time; for a feed with no entries, when watcher last stored
    anything (the feed was up to date then), else now. Never a made-up date: readers
    show it as "last updated". Stable between polls, so an empty feed keeps its ETag."""
    if entries:
        return max(entry.sort_time for entry in entries)
    newest = pipeline.store.items(limit=1)
    return newest[0].fetched_at if newest else utc_now()


def _feed_id(kind: str, name: str) -> str:
    # The tag URI's authority is the config's own name for itself: stable across hosts.
    return f"tag:watcher.localhost,2026:{kind}/{name}"


def topic_feed(pipeline: Pipeline, topic: str, *, self_url: str, limit: int = FEED_LIMIT) -> bytes:
    """Atom of the newest items that matched ``topic``; KeyError for an unknown topic."""
    items = _feed_items(pipeline, "topic", topic, limit)
    return _render_topic(pipeline, topic, items, self_url=self_url, limit=limit)


def _render_topic(
    pipeline: Pipeline, topic: str, items: Sequence[StoredItem], *, self_url: str, limit: int
) -> bytes:
    config = pipeline.config.topic(topic)
    as_digest = DigestConfig(
        name=topic,
        title=config.display_title,
        topics=(topic,),
        max_items=limit,
        min_score=config.min_score,
        immediate=True,
    )
    entries = _entries(pipeline, as_digest, items)
    return render_atom(
        feed_id=_feed_id("topic", topic),
        title=f"{config.display_title} — watcher",
        self_url=self_url,
        entries=entries,
        updated=_updated(pipeline, entries),
        limit=limit,
    )


def digest_feed(
    pipeline: Pipeline, digest: str, *, self_url: str, limit: int = FEED_LIMIT
) -> bytes:
    """Atom of what the latest runs of ``digest`` showed; KeyError for an unknown digest."""
    items = _feed_items(pipeline, "digest", digest, limit)
    return _render_digest(pipeline, digest, items, self_url=self_url, limit=limit)


def _check_feed(pipeline: Pipeline, kind: str, name: str) -> None:
    """KeyError unless the config has the ``"topic"`` or ``"digest"`` ``name``."""
    if kind == "topic":
        pipeline.config.topic(name)
    else:
        pipeline.config.digest(name)


def _feed_items(pipeline: Pipeline, kind: str, name: str, limit: int) -> list[StoredItem]:
    """The newest items of the ``"topic"`` or ``"digest"`` feed ``name``; KeyError for a
    name the config does not have (checked before the store is read)."""
    _check_feed(pipeline, kind, name)
    if kind == "topic":
        return pipeline.store.items(topic=name, limit=limit)
    return pipeline.store.digest_items(name, limit)


def _render_digest(
    pipeline: Pipeline, digest: str, items: Sequence[StoredItem], *, self_url: str, limit: int
) -> bytes:
    config = pipeline.config.digest(digest)
    entries = _entries(pipeline, config.model_copy(update={"max_items": limit}), items)
    return render_atom(
        feed_id=_feed_id("digest", digest),
        title=f"{config.display_title} — watcher",
        self_url=self_url,
        entries=entries,
        updated=_updated(pipeline, entries),
        limit=limit,
    )


# Feeds are few (one per topic and digest); the bound only guards against a caller
# passing ever new self URLs.
MAX_CACHED_FEEDS = 512


@dataclass(frozen=True, slots=True)
class _CachedFeed:
    built_from: object  # what the document shows, compared with == on the next request
    body: bytes
    checked_at: float  # monotonic


class FeedCache:
    """The Atom documents of one pipeline, built again only when what they show changed.

    A request reads the feed's items and their stories' other outlets and compares
    them with what the kept document was built from; only a difference renders
    again. Requests for one feed wait for one check instead of building side by
    side, and within ``fresh_for`` seconds of a check the kept document is served
    without reading the store.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        fresh_for: float = 1.0,
        limit: int = FEED_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pipeline = pipeline
        self.fresh_for = fresh_for
        self.limit = limit
        self.clock = clock
        self.builds = 0
        self._kept: dict[tuple[str, str, str], _CachedFeed] = {}
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def document(self, kind: str, name: str, self_url: str) -> bytes:
        """The ``"topic"`` or ``"digest"`` feed ``name``; KeyError when there is none."""
        _check_feed(self.pipeline, kind, name)  # before a lock is made for the name
        key = (kind, name, self_url)
        with self._lock(key):
            kept = self._kept.get(key)
            if kept is not None and self.clock() - kept.checked_at < self.fresh_for:
                return kept.body
            items = _feed_items(self.pipeline, kind, name, self.limit)
            built_from = self._built_from(items)
            if kept is not None and kept.built_from == built_from:
                body = kept.body
            else:
                render = _render_topic if kind == "topic" else _render_digest
                body = render(self.pipeline, name, items, self_url=self_url, limit=self.limit)
                self.builds += 1
            if key not in self._kept and len(self._kept) >= MAX_CACHED_FEEDS:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = _CachedFeed(built_from, body, self.clock())
            return body

    def _lock(self, key: tuple[str, str, str]) -> threading.Lock:
        with self._locks_lock:
            if key not in self._locks and len(self._locks) >= MAX_CACHED_FEEDS:
                self._locks.clear()  # held locks stay with their holders
            return self._locks.setdefault(key, threading.Lock())

    def _built_from(self, items: Sequence[StoredItem]) -> object:
        """Everything the rendered document depends on besides the config."""
        store = self.pipeline.store
        stories = sorted({item.story_id for item in items if item.story_id is not None})
        # An empty feed's <updated> is when anything was last stored (see _updated).
        newest = None if items else [stored.fetched_at for stored in store.items(limit=1)]
        return (tuple(items), store.story_sources(stories), newest)
