"""The store's reads for the dashboard: recent matches and what became of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from watcher.models import StoredItem
from watcher.store import records
from watcher.store.base import StoreBase
from watcher.store.tables import (
    DigestClaimRow,
    DigestRunRow,
    FeedRow,
    ItemRow,
    LabelRow,
    MatchRow,
)
from watcher.store.values import ItemClaim


class ActivityStore(StoreBase):
    """What matched lately, and which digest runs took those matches."""

    def matched_items_since(
        self, since: datetime, *, topic: str | None = None, limit: int = 500
    ) -> list[StoredItem]:
        """Items with a match made at or after ``since`` (of ``topic`` when given),
        newest match first, each with all its matches."""
        with self._session(write=False) as session:
            recent = select(MatchRow.item_id).where(MatchRow.matched_at >= since)
            if topic is not None:
                recent = recent.where(MatchRow.topic == topic)
            query = (
                select(ItemRow, FeedRow)
                .join(FeedRow, ItemRow.feed_id == FeedRow.id)
                .where(ItemRow.id.in_(recent))
                .order_by(ItemRow.fetched_at.desc(), ItemRow.id.desc())
                .limit(limit)
            )
            return records.stored_items(session, session.execute(query).all())

    def item_claims(self, item_ids: Sequence[int]) -> dict[int, list[ItemClaim]]:
        """Per item: every digest run that claimed one of its matches, oldest first."""
        found: dict[int, list[ItemClaim]] = {}
        if not item_ids:
            return found
        with self._session(write=False) as session:
            for start in range(0, len(item_ids), 500):
                query = (
                    select(
                        MatchRow.item_id,
                        MatchRow.topic,
                        DigestClaimRow.digest,
                        DigestClaimRow.suppressed,
                        DigestRunRow.id,
                        DigestRunRow.status,
                        DigestRunRow.created_at,
                        DigestRunRow.sent_at,
                    )
                    .join(DigestClaimRow, DigestClaimRow.match_id == MatchRow.id)
                    .join(DigestRunRow, DigestRunRow.id == DigestClaimRow.run_id)
                    .where(MatchRow.item_id.in_(item_ids[start : start + 500]))
                    .order_by(DigestRunRow.created_at, DigestRunRow.id)
                )
                for row in session.execute(query):
                    item_id, topic, digest, suppressed, run_id, status, created, sent = row
                    found.setdefault(item_id, []).append(
                        ItemClaim(topic, digest, run_id, status, created, sent, suppressed)
                    )
        return found

    def labels_of_items(self, item_ids: Sequence[int]) -> dict[tuple[int, str], bool]:
        """The current judgement per (item, topic) of these items."""
        found: dict[tuple[int, str], bool] = {}
        with self._session(write=False) as session:
            for start in range(0, len(item_ids), 500):
                query = select(LabelRow.item_id, LabelRow.topic, LabelRow.relevant).where(
                    LabelRow.item_id.in_(item_ids[start : start + 500])
                )
                for item_id, topic, relevant in session.execute(query):
                    found[(item_id, topic)] = relevant
        return found

    def story_outlets(self, story_ids: Sequence[int]) -> dict[int, list[StoredItem]]:
        """Per story: the first item of each feed that reported it, oldest first.

        One item per outlet keeps a big event's hundred write-ups to a short list.
        """
        found: dict[int, list[StoredItem]] = {}
        with self._session(write=False) as session:
            for start in range(0, len(story_ids), 500):
                firsts = (
                    select(func.min(ItemRow.id))
                    .where(ItemRow.story_id.in_(story_ids[start : start + 500]))
                    .group_by(ItemRow.story_id, ItemRow.feed_id)
                )
                query = (
                    select(ItemRow, FeedRow)
                    .join(FeedRow, ItemRow.feed_id == FeedRow.id)
                    .where(ItemRow.id.in_(firsts))
                    .order_by(ItemRow.id)
                )
                for stored in records.stored_items(session, session.execute(query).all()):
                    if stored.story_id is not None:
                        found.setdefault(stored.story_id, []).append(stored)
        return found

    def story_members(self, story_id: int, limit: int) -> tuple[list[StoredItem], int]:
        """The first ``limit`` items of a story, oldest first, and how many it has."""
        with self._session(write=False) as session:
            total = session.scalar(select(func.count()).where(ItemRow.story_id == story_id))
            query = (
                select(ItemRow, FeedRow)
                .join(FeedRow, ItemRow.feed_id == FeedRow.id)
                .where(ItemRow.story_id == story_id)
                .order_by(ItemRow.id)
                .limit(limit)
            )
            return records.stored_items(session, session.execute(query).all()), int(total or 0)
