"""Row <-> value conversions and SQL shared by the store's parts."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    func,
    select,
)
from sqlalchemy import update as update_statement
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement

from watcher.exceptions import StoreError
from watcher.models import (
    Hit,
    Item,
    SourceState,
    StoredItem,
    TopicMatch,
)
from watcher.store.tables import (
    Base,
    DeliveryRow,
    DigestClaimRow,
    DigestRunRow,
    FeedRow,
    ItemRow,
    MatchRow,
    UTCDateTime,
)
from watcher.store.values import Delivery, DigestRun, SourceUpdate
from watcher.urls import host_of

_FEEDS = cast(Table, FeedRow.__table__)
_ITEMS = cast(Table, ItemRow.__table__)
# Statements every poll runs, built once: a poll only binds its values.
_FEED_ID_OF_NAMED = select(_FEEDS.c.id).where(_FEEDS.c.name == bindparam("feed_name"))
KNOWN_HASHES = (
    select(_ITEMS.c.key, _ITEMS.c.content_hash)
    .join(_FEEDS, _ITEMS.c.feed_id == _FEEDS.c.id)
    .where(
        _FEEDS.c.name == bindparam("feed_name"), _ITEMS.c.key.in_(bindparam("keys", expanding=True))
    )
)
# A poll's changed items: their ids and stored hashes, then one UPDATE each by id
# (the bind parameter is not named "id": a Core UPDATE sets every column whose
# name is a key of the values, so a column's name would set it, not find the row).
STORED_OF_KEYS = select(_ITEMS.c.id, _ITEMS.c.key, _ITEMS.c.content_hash).where(
    _ITEMS.c.feed_id == bindparam("feed_id"), _ITEMS.c.key.in_(bindparam("keys", expanding=True))
)
UPDATE_ITEM = update_statement(_ITEMS).where(_ITEMS.c.id == bindparam("item_id"))
STATE_OF_NAMED = select(_FEEDS).where(_FEEDS.c.name == bindparam("feed_name"))
STATES_OF_NAMED = select(_FEEDS).where(_FEEDS.c.name.in_(bindparam("feed_names", expanding=True)))


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def feed_id(connection: Connection, name: str) -> int:
    feed_id = connection.scalar(_FEED_ID_OF_NAMED, {"feed_name": name})
    if feed_id is None:
        raise KeyError(name)
    return int(feed_id)


def source_state(row: FeedRow | Row[Any]) -> SourceState:
    """A feed's state from its ORM row or a Core row of the feeds table."""
    return SourceState(
        name=row.name,
        url=row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        body_hash=row.body_hash,
        error_count=row.error_count,
        last_error=row.last_error,
        next_poll_at=row.next_poll_at,
        last_polled_at=row.last_polled_at,
        disabled_reason=row.disabled_reason,
        page_text=row.page_text,
        entry_digests=frozenset(row.entry_digests.split()) if row.entry_digests else frozenset(),
    )


def unexpired_leases(now: datetime) -> ColumnElement[bool]:
    return and_(FeedRow.lease_until.is_not(None), FeedRow.lease_until > now)


def due(now: datetime) -> ColumnElement[bool]:
    """Active, not disabled, due, and not claimed by a live poller."""
    return and_(
        FeedRow.active.is_(True),
        FeedRow.disabled_reason.is_(None),
        FeedRow.next_poll_at <= now,
        ~unexpired_leases(now),
    )


# Every poll ends with one UPDATE of its feed row, of one of a few shapes (which
# optional columns it sets). Each shape's statement is built once with bind
# parameters, so a poll only binds values: building a statement and its cache key
# was most of a not-modified poll's store CPU (bench/bench_store.py: 0.71 -> 0.29 ms).
_FeedUpdateShape = tuple[bool, bool, bool, bool, bool, bool]
_FEED_UPDATES: dict[_FeedUpdateShape, Update] = {}


def _feed_update_shape(update: SourceUpdate) -> _FeedUpdateShape:
    return (
        update.error_count == 0,
        update.url is not None,
        update.replace_validators,
        bool(update.title),
        update.disabled_reason is not None,
        update.page_text is not None,
    )


def _feed_update_statement(shape: _FeedUpdateShape) -> Update:
    """The UPDATE of one shape; its parameters are those ``_feed_update_values`` gives."""
    cached = _FEED_UPDATES.get(shape)
    if cached is not None:
        return cached
    succeeded, moved, validators, titled, disabled, page = shape
    columns = _FEEDS.c
    # A bind parameter without a type takes the type of the column it is assigned to.
    values: dict[str, Any] = {
        "lease_until": None,
        "last_polled_at": bindparam("polled_at"),
        "last_result": bindparam("result"),
        "next_poll_at": bindparam("next_poll_at"),
        "error_count": bindparam("error_count"),
        "last_error": bindparam("last_error"),
    }
    if succeeded:
        values.update(last_success_at=bindparam("polled_at"), failing_since=None)
    else:
        failed_at = bindparam("failed_at", type_=UTCDateTime())
        values["failing_since"] = func.coalesce(columns.failing_since, failed_at)
    if moved:
        values.update(url=bindparam("url"), host=bindparam("host"))
    if validators:
        values.update(
            etag=bindparam("etag"),
            last_modified=bindparam("last_modified"),
            body_hash=bindparam("body_hash"),
            bozo_reason=bindparam("bozo_reason"),
            entry_digests=bindparam("entry_digests"),
        )
    if titled:
        title = bindparam("title", type_=columns.title.type)
        values["title"] = func.coalesce(func.nullif(columns.title, ""), title)
    if disabled:
        values["disabled_reason"] = bindparam("disabled_reason")
    if page:
        values["page_text"] = bindparam("page_text")
    statement = (
        update_statement(_FEEDS).where(columns.name == bindparam("feed_name")).values(values)
    )
    _FEED_UPDATES[shape] = statement
    return statement


def _feed_update_values(update: SourceUpdate, shape: _FeedUpdateShape) -> dict[str, Any]:
    succeeded, moved, validators, titled, disabled, page = shape
    values: dict[str, Any] = {
        "feed_name": update.name,
        "polled_at": update.polled_at,
        "result": update.result,
        "next_poll_at": update.next_poll_at,
        "error_count": update.error_count,
        "last_error": update.last_error,
    }
    if not succeeded:
        values["failed_at"] = update.polled_at
    if moved and update.url is not None:
        values.update(url=update.url, host=host_of(update.url))
    if validators:
        values.update(
            etag=update.etag,
            last_modified=update.last_modified,
            body_hash=update.body_hash,
            bozo_reason=update.bozo_reason,
            entry_digests=" ".join(update.entry_digests) if update.entry_digests else None,
        )
    if titled:
        values["title"] = update.title
    if disabled:
        values["disabled_reason"] = update.disabled_reason
    if page:
        values["page_text"] = update.page_text
    return values


def apply_feed_update(session: Session | Connection, update: SourceUpdate) -> None:
    """Write a poll's outcome to its feed row in one UPDATE (no row loaded first).

    Core on the table, not the ORM entity: the row is not in any session, and the
    ORM's bulk-update bookkeeping cost more than the UPDATE.
    """
    shape = _feed_update_shape(update)
    session.execute(_feed_update_statement(shape), _feed_update_values(update, shape))


def apply_feed_updates(connection: Connection, updates: Sequence[SourceUpdate]) -> None:
    """Write many polls' outcomes: one executemany per shape of UPDATE."""
    by_shape: dict[_FeedUpdateShape, list[dict[str, Any]]] = {}
    for update in updates:
        shape = _feed_update_shape(update)
        by_shape.setdefault(shape, []).append(_feed_update_values(update, shape))
    for shape, values in by_shape.items():
        connection.execute(_feed_update_statement(shape), values)


def item_values(item: Item) -> dict[str, Any]:
    return {
        "url": item.url,
        "title": item.title,
        "summary": item.summary,
        "content_html": item.content_html,
        "content_text": item.content_text,
        "author": item.author,
        "tags": list(item.tags),
        "cut": list(item.cut) or None,
        "language": item.language,
        "content_hash": item.content_hash,
        "published": item.published,
        "updated": item.updated,
    }


def copy_item(row: ItemRow, item: Item) -> None:
    for name, value in item_values(item).items():
        setattr(row, name, value)


# The backends whose INSERT … ON CONFLICT SQLAlchemy builds (sqlalchemy.dialects.<name>).
_UPSERT_DIALECTS = frozenset({"sqlite", "postgresql"})


def insert_ignoring_conflicts(
    connection: Connection,
    table: type[Base],
    rows: list[dict[str, Any]],
    conflict_columns: list[str],
    returning: tuple[Any, ...],
) -> list[Any]:
    """Bulk INSERT … ON CONFLICT DO NOTHING RETURNING; the returned rows are the inserted.

    The unique constraint, not a prior read, decides: a row another process stored
    meanwhile is skipped without failing the surrounding poll transaction.
    """
    if not rows:
        return []
    dialect = connection.dialect.name
    if dialect not in _UPSERT_DIALECTS:
        raise StoreError(f"database: the {dialect} backend is not supported")
    # By name: the engine loaded its dialect's package when it was made, and a
    # SQLite poll need not import PostgreSQL's (~35 ms of every start, issue #18).
    module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
    # Core on the table: the ORM's bulk-insert path cost more than the INSERT.
    statement = (
        module.insert(cast(Table, table.__table__))
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(*returning)
    )
    return list(connection.execute(statement, rows))


def insert_items(
    connection: Connection, feed_id: int, items: Sequence[Item], now: datetime
) -> dict[str, int]:
    """Insert items; the ids of those inserted, by key (already-stored keys are absent)."""
    rows = [
        {"feed_id": feed_id, "key": item.key, "fetched_at": now, **item_values(item)}
        for item in items
    ]
    inserted = insert_ignoring_conflicts(
        connection, ItemRow, rows, ["feed_id", "key"], (ItemRow.id, ItemRow.key)
    )
    return {key: item_id for item_id, key in inserted}


def insert_matches(
    connection: Connection, matches: Sequence[tuple[int, TopicMatch]], now: datetime
) -> list[str]:
    """Add (item id, match) pairs for topics an item has not matched before; their topics."""
    rows = [
        {
            "item_id": item_id,
            "topic": match.topic,
            "score": match.score,
            "hits": [hit_json(hit) for hit in match.hits],
            "matched_at": now,
        }
        for item_id, match in matches
    ]
    inserted = insert_ignoring_conflicts(
        connection, MatchRow, rows, ["item_id", "topic"], (MatchRow.topic,)
    )
    return [topic for (topic,) in inserted]


def hit_json(hit: Hit) -> dict[str, Any]:
    return {"field": hit.field, "start": hit.start, "end": hit.end, "term": hit.term}


def topic_match(row: MatchRow) -> TopicMatch:
    hits = tuple(
        Hit(field=str(h["field"]), start=int(h["start"]), end=int(h["end"]), term=str(h["term"]))
        for h in row.hits
    )
    return TopicMatch(topic=row.topic, score=row.score, hits=hits)


def item_of_row(row: ItemRow, feed_name: str) -> Item:
    return Item(
        feed=feed_name,
        key=row.key,
        url=row.url,
        title=row.title,
        summary=row.summary,
        content_html=row.content_html,
        content_text=row.content_text,
        author=row.author,
        tags=tuple(row.tags or ()),
        cut=tuple(row.cut or ()),
        published=row.published,
        updated=row.updated,
        language=row.language,
        content_hash=row.content_hash,
    )


def stored_items(
    session: Session, rows: Sequence[tuple[ItemRow, FeedRow]], match_ids: set[int] | None = None
) -> list[StoredItem]:
    """StoredItems for rows, with their matches (only ``match_ids`` when given)."""
    ids = [item.id for item, _ in rows]
    matches: dict[int, list[TopicMatch]] = {}
    for start in range(0, len(ids), 500):
        query = select(MatchRow).where(MatchRow.item_id.in_(ids[start : start + 500]))
        for match in session.scalars(query.order_by(MatchRow.score.desc(), MatchRow.id)):
            if match_ids is None or match.id in match_ids:
                matches.setdefault(match.item_id, []).append(topic_match(match))
    return [
        StoredItem(
            id=item.id,
            item=item_of_row(item, feed.name),
            feed_title=feed.title or feed.name,
            fetched_at=item.fetched_at,
            matches=tuple(matches.get(item.id, ())),
            story_id=item.story_id,
        )
        for item, feed in rows
    ]


def digest_run(session: Session, run: DigestRunRow) -> DigestRun:
    claimed = set(
        session.scalars(
            select(DigestClaimRow.match_id).where(
                DigestClaimRow.run_id == run.id, DigestClaimRow.suppressed.is_(False)
            )
        )
    )
    rows: list[tuple[ItemRow, FeedRow]] = []
    if claimed:
        item_ids = select(MatchRow.item_id).where(MatchRow.id.in_(claimed))
        query = (
            select(ItemRow, FeedRow)
            .join(FeedRow, ItemRow.feed_id == FeedRow.id)
            .where(ItemRow.id.in_(item_ids))
            .order_by(ItemRow.fetched_at, ItemRow.id)
        )
        rows = list(session.execute(query).all())
    deliveries = tuple(
        Delivery(row.target, row.status, row.attempts, row.next_attempt_at, row.last_error)
        for row in session.scalars(
            select(DeliveryRow).where(DeliveryRow.run_id == run.id).order_by(DeliveryRow.id)
        )
    )
    return DigestRun(
        id=run.id,
        digest=run.digest,
        created_at=run.created_at,
        attempts=run.attempts,
        message_id=run.message_id,
        items=tuple(stored_items(session, rows, claimed)),
        deliveries=deliveries,
    )
