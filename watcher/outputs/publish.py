"""Matches as Atom feeds: one per topic and one per digest, grouped into stories the
same way the digest email is, so a feed reader sees the stories the email showed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from watcher.config import DigestConfig
from watcher.models import StoredItem
from watcher.outputs.atom import render_atom
from watcher.outputs.digest import DigestEntry
from watcher.pipeline import Pipeline

# <updated> of a feed with no entries: fixed, so an empty feed keeps its ETag.
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)
FEED_LIMIT = 50


def _entries(
    pipeline: Pipeline, digest: DigestConfig, items: Sequence[StoredItem]
) -> list[DigestEntry]:
    view = pipeline.digests.digest_view(digest, items, now=EMPTY_FEED_UPDATED)
    return [entry for section in view.sections for entry in section.entries]


def _updated(entries: Sequence[DigestEntry]) -> datetime:
    return max((entry.sort_time for entry in entries), default=EMPTY_FEED_UPDATED)


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
        updated=_updated(entries),
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
        updated=_updated(entries),
        limit=limit,
    )
