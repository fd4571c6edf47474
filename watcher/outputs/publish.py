"""Matches as Atom feeds: one per topic and one per digest, grouped into stories the
same way the digest email is, so a feed reader sees the stories the email showed."""

from __future__ import annotations

from collections.abc import Sequence
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
    config = pipeline.config.topic(topic)
    items = pipeline.store.items(topic=topic, limit=limit)
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
    config = pipeline.config.digest(digest)
    items = pipeline.store.digest_items(digest, limit=limit)
    entries = _entries(pipeline, config.model_copy(update={"max_items": limit}), items)
    return render_atom(
        feed_id=_feed_id("digest", digest),
        title=f"{config.display_title} — watcher",
        self_url=self_url,
        entries=entries,
        updated=_updated(pipeline, entries),
        limit=limit,
    )
