"""The store's items and matches: ingesting polls, reading items, stories, retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    delete,
    func,
    select,
)
from sqlalchemy import update as update_statement

from watcher.models import (
    WATCH_CHANGE_KEY_PREFIX,
    StoredItem,
    StoryCandidate,
    StoryMember,
)
from watcher.store import records
from watcher.store.base import StoreBase
from watcher.store.tables import DigestClaimRow, DigestRunRow, FeedRow, ItemRow, MatchRow
from watcher.store.values import IngestCounts, MatchedItem, SourceUpdate


class ItemStore(StoreBase):
    """Items, their matches and stories."""

    def known_hashes(self, feed: str, keys: Sequence[str]) -> dict[str, str]:
        """content_hash of the items of ``feed`` already stored under ``keys``."""
        if not keys:
            return {}
        found: dict[str, str] = {}
        # One prepared statement per chunk (the feed joined by name, no lookup first):
        # every parsed feed asks this, cold or warm.
        with self._connection(write=False) as connection:
            # Chunked so a 1,000-item feed stays under every backend's parameter limit.
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                found.update(
                    connection.execute(
                        records.KNOWN_HASHES, {"feed_name": feed, "keys": chunk}
                    ).all()
                )
        return found

    def record_poll(
        self,
        update: SourceUpdate,
        new: Sequence[MatchedItem] = (),
        changed: Sequence[MatchedItem] = (),
    ) -> IngestCounts:
        """Store a poll's new and changed items, their matches and the feed's new state.

        All in one transaction: after a crash at any point the items and the feed's
        validators agree (both old or both new). An item that another process stored
        meanwhile is skipped, not duplicated. A changed item is updated in place and
        keeps its old matches; only topics it did not match before are added.
        """
        now = update.polled_at
        changed_items = 0
        # A Core connection, not an ORM session: every statement here is Core, and
        # the session's bookkeeping (and its bulk UPDATE by primary key) was half of
        # the CPU of storing a changed feed (bench/bench_store.py, issue #18).
        with self._connection() as connection:
            feed_id = records.feed_id(connection, update.name)
            ids = records.insert_items(connection, feed_id, [matched.item for matched in new], now)
            new_items = len(ids)
            pending = [
                (ids[matched.item.key], match)
                for matched in new
                if matched.item.key in ids
                for match in matched.matches
            ]
            if changed:
                # One SELECT (per 500) and one executemany UPDATE for all of a poll's
                # changed items, not a SELECT and an UPDATE each.
                keys = [matched.item.key for matched in changed]
                stored: dict[str, tuple[int, str]] = {}
                for start in range(0, len(keys), 500):
                    found_rows = connection.execute(
                        records.STORED_OF_KEYS,
                        {"feed_id": feed_id, "keys": keys[start : start + 500]},
                    )
                    stored.update(
                        (key, (item_id, stored_hash)) for item_id, key, stored_hash in found_rows
                    )
                updates = []
                for matched in changed:
                    found = stored.get(matched.item.key)
                    if found is None or found[1] == matched.item.content_hash:
                        continue
                    item_id = found[0]
                    updates.append(
                        {
                            "item_id": item_id,
                            "changed_at": now,
                            **records.item_values(matched.item),
                        }
                    )
                    pending += [(item_id, match) for match in matched.matches]
                if updates:
                    connection.execute(records.UPDATE_ITEM, updates)
                changed_items = len(updates)
            topics = records.insert_matches(connection, pending, now)
            records.apply_feed_update(connection, update)
        return IngestCounts(new_items, changed_items, tuple(topics))

    def record_feed_result(self, update: SourceUpdate) -> None:
        """Store a poll that brought no items (not modified, or failed): one UPDATE."""
        with self._connection() as connection:
            records.apply_feed_update(connection, update)

    def record_feed_results(self, updates: Sequence[SourceUpdate]) -> None:
        """Store many polls that brought no items, in one transaction: a statement per
        row costs the poll of a thousand sources answering 304 a fifth of a second
        more than one executemany (issue #18)."""
        if not updates:
            return
        with self._connection() as connection:
            records.apply_feed_updates(connection, updates)

    def items(
        self,
        *,
        feed: str | None = None,
        topic: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredItem]:
        """Stored items, newest first, optionally only one feed's or one topic's."""
        with self._session(write=False) as session:
            query = select(ItemRow, FeedRow).join(FeedRow, ItemRow.feed_id == FeedRow.id)
            if feed is not None:
                query = query.where(FeedRow.name == feed)
            if topic is not None:
                query = query.where(
                    select(MatchRow.id)
                    .where(MatchRow.item_id == ItemRow.id, MatchRow.topic == topic)
                    .exists()
                )
            if since is not None:
                query = query.where(ItemRow.fetched_at >= since)
            query = query.order_by(ItemRow.fetched_at.desc(), ItemRow.id.desc()).limit(limit)
            rows = session.execute(query).all()
            return records.stored_items(session, rows)

    def item(self, item_id: int) -> StoredItem:
        """One stored item by id; KeyError when there is none."""
        with self._session(write=False) as session:
            rows = session.execute(
                select(ItemRow, FeedRow)
                .join(FeedRow, ItemRow.feed_id == FeedRow.id)
                .where(ItemRow.id == item_id)
            ).all()
            if not rows:
                raise KeyError(item_id)
            return records.stored_items(session, rows)[0]

    def items_without_story(self, limit: int = 1000) -> list[StoryCandidate]:
        """Stored items not yet assigned to a story, oldest first."""
        with self._session(write=False) as session:
            query = (
                select(ItemRow).where(ItemRow.story_id.is_(None)).order_by(ItemRow.id).limit(limit)
            )
            return [
                StoryCandidate(
                    id=row.id,
                    title=row.title,
                    text=row.content_text or row.summary,
                    published=row.published or row.fetched_at,
                    standalone=row.key.startswith(WATCH_CHANGE_KEY_PREFIX),
                )
                for row in session.scalars(query)
            ]

    def set_stories(self, assignments: Sequence[tuple[int, int, str]]) -> None:
        """Record (item id, story id, fingerprint JSON) for items just clustered."""
        if not assignments:
            return
        with self._session() as session:
            session.execute(
                update_statement(ItemRow),
                [
                    {"id": item_id, "story_id": story_id, "fingerprint": fingerprint}
                    for item_id, story_id, fingerprint in assignments
                ],
            )

    def story_members_since(self, since: datetime) -> list[StoryMember]:
        """Clustered items published (else fetched) since ``since``, to rebuild the index."""
        with self._session(write=False) as session:
            moment = func.coalesce(ItemRow.published, ItemRow.fetched_at)
            query = (
                select(
                    ItemRow.id,
                    ItemRow.story_id,
                    ItemRow.fingerprint,
                    ItemRow.published,
                    ItemRow.fetched_at,
                )
                .where(
                    ItemRow.story_id.is_not(None),
                    ItemRow.fingerprint.is_not(None),
                    moment >= since,
                    ~ItemRow.key.startswith(WATCH_CHANGE_KEY_PREFIX),
                )
                .order_by(ItemRow.id)
            )
            return [
                StoryMember(item_id, story_id, fingerprint, published or fetched_at)
                for item_id, story_id, fingerprint, published, fetched_at in session.execute(query)
                if story_id is not None and fingerprint is not None
            ]

    def story_sources(self, story_ids: Sequence[int]) -> dict[int, list[StoredItem]]:
        """Every stored item of these stories, by story, oldest first."""
        found: dict[int, list[StoredItem]] = {}
        if not story_ids:
            return found
        with self._session(write=False) as session:
            for start in range(0, len(story_ids), 500):
                query = (
                    select(ItemRow, FeedRow)
                    .join(FeedRow, ItemRow.feed_id == FeedRow.id)
                    .where(ItemRow.story_id.in_(story_ids[start : start + 500]))
                    .order_by(ItemRow.id)
                )
                for stored in records.stored_items(session, session.execute(query).all()):
                    if stored.story_id is not None:
                        found.setdefault(stored.story_id, []).append(stored)
        return found

    def topic_counts(self, since: datetime) -> dict[str, int]:
        with self._session(write=False) as session:
            query = (
                select(MatchRow.topic, func.count())
                .where(MatchRow.matched_at >= since)
                .group_by(MatchRow.topic)
            )
            return dict(session.execute(query).all())

    def delete_items_before(self, unmatched_before: datetime, matched_before: datetime) -> int:
        """Retention: drop unmatched items fetched before the first date and matched ones
        before the second (a match claimed by an unsent digest is always kept)."""
        with self._session() as session:
            matched = select(MatchRow.item_id)
            pending_claims = (
                select(MatchRow.item_id)
                .join(DigestClaimRow, DigestClaimRow.match_id == MatchRow.id)
                .join(DigestRunRow, DigestRunRow.id == DigestClaimRow.run_id)
                .where(DigestRunRow.status == "pending")
            )
            unmatched_gone = session.execute(
                delete(ItemRow).where(
                    ItemRow.fetched_at < unmatched_before, ItemRow.id.not_in(matched)
                )
            )
            matched_gone = session.execute(
                delete(ItemRow).where(
                    ItemRow.fetched_at < matched_before, ItemRow.id.not_in(pending_claims)
                )
            )
            return int(getattr(unmatched_gone, "rowcount", 0)) + int(
                getattr(matched_gone, "rowcount", 0)
            )
