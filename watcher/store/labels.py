"""The store's labels: readers' judgements of matches (relevant or not).

One label per (item, topic); labelling again replaces the judgement. The same
table serves ``watcher label``, the dashboard's feedback and digest links.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from watcher.store.base import StoreBase
from watcher.store.tables import ItemRow, LabelRow
from watcher.store.values import Label

LABEL_ORIGINS = ("cli", "web", "email")


def _label(row: LabelRow) -> Label:
    return Label(row.item_id, row.topic, row.relevant, row.origin, row.labelled_at)


class LabelStore(StoreBase):
    """Readers' labels of items for topics."""

    def set_label(
        self, item_id: int, topic: str, relevant: bool, *, origin: str, now: datetime
    ) -> Label:
        """Record (or replace) the judgement of ``item_id`` for ``topic``.

        Raises KeyError when there is no such item, ValueError for an unknown origin.
        """
        if origin not in LABEL_ORIGINS:
            raise ValueError(f"label origin must be one of {', '.join(LABEL_ORIGINS)}")
        with self._session() as session:
            if session.get(ItemRow, item_id) is None:
                raise KeyError(item_id)
            row = session.scalars(
                select(LabelRow).where(LabelRow.item_id == item_id, LabelRow.topic == topic)
            ).one_or_none()
            if row is None:
                row = LabelRow(item_id=item_id, topic=topic)
                session.add(row)
            row.relevant = relevant
            row.origin = origin
            row.labelled_at = now
            session.flush()
            return _label(row)

    def remove_label(self, item_id: int, topic: str) -> bool:
        """Forget the judgement of ``item_id`` for ``topic``; False when there was none."""
        with self._session() as session:
            result = session.execute(
                delete(LabelRow).where(LabelRow.item_id == item_id, LabelRow.topic == topic)
            )
            return bool(getattr(result, "rowcount", 0))

    def labels(self, *, topic: str | None = None, item_id: int | None = None) -> list[Label]:
        """Stored labels, newest first, optionally only one topic's or one item's."""
        with self._session(write=False) as session:
            query = select(LabelRow)
            if topic is not None:
                query = query.where(LabelRow.topic == topic)
            if item_id is not None:
                query = query.where(LabelRow.item_id == item_id)
            query = query.order_by(LabelRow.labelled_at.desc(), LabelRow.id.desc())
            return [_label(row) for row in session.scalars(query)]

    def label_counts(self) -> dict[str, tuple[int, int]]:
        """Per topic: (relevant, not relevant) label counts."""
        with self._session(write=False) as session:
            rows = session.execute(
                select(LabelRow.topic, LabelRow.relevant, func.count()).group_by(
                    LabelRow.topic, LabelRow.relevant
                )
            ).all()
        counts: dict[str, tuple[int, int]] = {}
        for topic, relevant, count in rows:
            yes, no = counts.get(topic, (0, 0))
            counts[topic] = (yes + count, no) if relevant else (yes, no + count)
        return counts
