"""The database, behind one module: tables, migrations and the repository functions.

Only this module talks SQL. ORM rows never leave it: callers get the frozen
values of ``watcher.models`` and the small results defined here. Every error of
the database driver is wrapped in ``StoreError`` at this boundary.

SQLite (the default) runs in WAL mode with foreign keys on and a busy timeout;
PostgreSQL is reached through psycopg 3. Datetimes are stored as naive UTC and
handed out timezone-aware.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import update as update_statement
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from watcher.config import DigestConfig, FeedConfig, PageConfig, WatchConfig
from watcher.exceptions import SchemaError, StoreError
from watcher.health import FeedHealth, NoticeState, ProblemKind
from watcher.models import (
    FeedState,
    Hit,
    Item,
    StoredItem,
    StoryCandidate,
    StoryMember,
    TopicMatch,
)
from watcher.urls import host_of


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class FeedRow(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # The URL in feeds.yaml, and the URL we poll (moved by 301/308 chains).
    configured_url: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_result: Mapped[str | None] = mapped_column(String(32))
    bozo_reason: Mapped[str | None] = mapped_column(Text)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Claimed for a poll until then (by this process or a worker elsewhere); a poll's
    # commit clears it, and a dead poller's claim simply expires.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The host of ``url``, for per-host politeness across workers.
    host: Mapped[str] = mapped_column(String(255), default="", index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A watched page's last text (normalized), to show what changed next time.
    page_text: Mapped[str | None] = mapped_column(Text)
    # When the current run of failures began (NULL while the feed works).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ItemRow(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("feed_id", "key", name="uq_items_feed_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    content_html: Mapped[str] = mapped_column(Text)
    content_text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str | None] = mapped_column(String(35))
    content_hash: Mapped[str] = mapped_column(String(64))
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set when a later poll saw the item's text change; the item is not new again.
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The story the item belongs to (the id of the item that started it), assigned
    # after storing by the one process that clusters; NULL until then.
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # watcher.cluster.Fingerprint as JSON, so the story index is rebuilt after a restart.
    fingerprint: Mapped[str | None] = mapped_column(Text)


class MatchRow(Base):
    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("item_id", "topic", name="uq_matches_item_topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    score: Mapped[float] = mapped_column(Float)
    hits: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class DigestRunRow(Base):
    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending -> sent, or pending -> failed (permanent error); retries stay pending.
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(Text)


class FeedNoticeRow(Base):
    """What the operators were last told about a feed (see watcher.health)."""

    __tablename__ = "feed_notices"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    notified_kind: Mapped[str | None] = mapped_column(String(16))
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    announced_move: Mapped[str | None] = mapped_column(Text)


class DeliveryRow(Base):
    """One digest run's delivery to one target (the email, or one channel)."""

    __tablename__ = "digest_deliveries"
    __table_args__ = (UniqueConstraint("run_id", "target", name="uq_deliveries_run_target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("digest_runs.id", ondelete="CASCADE"), index=True
    )
    target: Mapped[str] = mapped_column(String(200))
    # pending -> sent | failed (permanent); a retry stays pending with a later attempt.
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DigestClaimRow(Base):
    """A match covered by a digest run; unique per digest name, so never sent twice."""

    __tablename__ = "digest_claims"
    __table_args__ = (UniqueConstraint("digest", "match_id", name="uq_claims_digest_match"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("digest_runs.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64))
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    # Claimed but not shown: an alert for the item's story went out already.
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)


# -- values this module hands out ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchedItem:
    """A new or changed item of one poll, with the topics it matched."""

    item: Item
    matches: tuple[TopicMatch, ...]


@dataclass(frozen=True, slots=True)
class FeedUpdate:
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
class FeedStatus:
    state: FeedState
    active: bool
    last_result: str | None
    items: int


# -- opening and migrating -------------------------------------------------------------


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module, whose implicit BEGINs
    # break SAVEPOINTs and atomic multi-statement writes; _sqlite_on_begin opens them.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the daemon's readers and its one writer work at once; foreign keys are
    # off by default in SQLite; the busy timeout turns brief lock waits into waits.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
    # writes can fail at once with SQLITE_BUSY, which busy_timeout does not retry.
    # Read-only sessions need no write lock and, in WAL mode, never wait for one.
    read_only = connection.get_execution_options().get("watcher_read_only", False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and :memory:."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


class Store:
    """The repository: every read and write of watcher's state goes through here."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Sessions that only read open a deferred transaction (see _sqlite_on_begin).
        self._read_sessions = sessionmaker(
            engine.execution_options(watcher_read_only=True), expire_on_commit=False
        )
        self._is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, database_url: str) -> Store:
        """Open (and for SQLite create the folder of) the database; check it answers.

        Raises StoreError with one line naming the database when it cannot be reached.
        """
        try:
            url = make_url(database_url)
        except ArgumentError as exc:
            raise StoreError(f"database: {database_url!r} is not a database URL") from exc
        path = sqlite_path(database_url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise StoreError(f"{path.parent}: cannot create database folder: {exc}") from exc
            if path.exists() and not os.access(path, os.W_OK):
                raise StoreError(f"{path}: database file is not writable")
            if not os.access(path.parent, os.W_OK):
                raise StoreError(f"{path.parent}: database folder is not writable")
        engine_args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql":
            engine_args["pool_pre_ping"] = True
            engine_args["connect_args"] = {"connect_timeout": 10}
        try:
            engine = create_engine(url, **engine_args)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"database: cannot use {url.render_as_string()}: {exc}") from exc
        if url.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
        store = cls(engine)
        try:
            with engine.connect():
                pass
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(
                f"database {url.render_as_string()}: cannot connect: {_first_line(exc)}"
            ) from exc
        if path is not None:
            # The database holds what feeds served and who receives digests: owner only.
            os.chmod(path, 0o600)
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _session(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose transaction commits on success; driver errors become StoreError.

        On SQLite, writers of this process take turns on a lock of our own before
        asking SQLite for its write lock: SQLite's busy handler sleeps and retries
        unfairly, so with many poll threads one writer could wait past the busy
        timeout and fail a whole poll. Readers never wait for writers (WAL).
        """
        session = (self._sessions if write else self._read_sessions)()
        serialize = write and self._is_sqlite
        if serialize:
            self._write_lock.acquire()
        try:
            with session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {_first_line(exc)}") from exc
        finally:
            session.close()
            if serialize:
                self._write_lock.release()

    def ping(self) -> None:
        """Raise StoreError unless the database answers a trivial query."""
        with self._session(write=False) as session:
            session.execute(select(1))

    def upgrade(self) -> None:
        """Apply every migration shipped with this version (idempotent)."""
        from watcher import migrations

        try:
            migrations.upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"database migration failed: {_first_line(exc)}") from exc

    def check_schema(self) -> None:
        """Raise SchemaError unless the database is at this version's schema."""
        from watcher import migrations

        try:
            current = migrations.current_revision(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {_first_line(exc)}") from exc
        if current != migrations.head_revision():
            raise SchemaError("the database schema is not up to date; run `watcher db upgrade`")

    # -- feeds ---------------------------------------------------------------------

    def sync_feeds(
        self, feeds: Sequence[FeedConfig | PageConfig | WatchConfig], now: datetime
    ) -> None:
        """Make the feeds table agree with the configuration.

        New feeds are due at once; a feed whose configured URL changed is polled at
        its new URL from scratch; feeds gone from the config become inactive (their
        items stay). Re-enabling a feed clears a 410 disablement.
        """
        by_name = {feed.name: feed for feed in feeds}
        with self._session() as session:
            rows = {row.name: row for row in session.scalars(select(FeedRow))}
            for name, row in rows.items():
                if name not in by_name:
                    row.active = False
            for name, feed in by_name.items():
                existing = rows.get(name)
                if existing is None:
                    session.add(
                        FeedRow(
                            name=name,
                            configured_url=feed.url,
                            url=feed.url,
                            host=host_of(feed.url),
                            title=feed.title,
                            active=feed.enabled,
                            error_count=0,
                            next_poll_at=now,
                            created_at=now,
                        )
                    )
                    continue
                if existing.configured_url != feed.url:
                    existing.configured_url = feed.url
                    existing.url = feed.url
                    existing.host = host_of(feed.url)
                    existing.etag = existing.last_modified = existing.body_hash = None
                    existing.disabled_reason = None
                    existing.next_poll_at = now
                if feed.title:
                    existing.title = feed.title
                if feed.enabled and not existing.active:
                    existing.next_poll_at = now
                existing.active = feed.enabled

    def feed_state(self, name: str) -> FeedState:
        """The stored state of feed ``name``; KeyError when the store does not know it."""
        with self._session(write=False) as session:
            row = session.scalars(select(FeedRow).where(FeedRow.name == name)).one_or_none()
            if row is None:
                raise KeyError(name)
            return _feed_state(row)

    def due_feeds(self, now: datetime, limit: int = 1000) -> list[str]:
        """Names of feeds due and not claimed by a poller, most overdue first."""
        with self._session(write=False) as session:
            query = select(FeedRow.name).where(_due(now)).order_by(FeedRow.next_poll_at)
            return list(session.scalars(query.limit(limit)))

    def count_due_feeds(self, now: datetime) -> int:
        """How many feeds are due but not yet claimed by a poller."""
        with self._session(write=False) as session:
            return int(session.scalar(select(func.count()).where(_due(now))) or 0)

    def claim_due_feeds(
        self, now: datetime, *, lease: timedelta, limit: int, per_host: int
    ) -> list[str]:
        """Lease up to ``limit`` due feeds to the caller, at most ``per_host`` per host.

        A feed under an unexpired lease is not due: no feed is polled twice at once,
        across threads, processes or machines. Counting leases per host keeps several
        workers from hammering one site together. On PostgreSQL the candidates are
        locked with FOR UPDATE SKIP LOCKED, so concurrent claimers never wait on or
        take each other's rows; SQLite serializes writers anyway (BEGIN IMMEDIATE).
        """
        with self._session() as session:
            leased = _unexpired_leases(now)
            busy = dict(
                session.execute(
                    select(FeedRow.host, func.count()).where(leased).group_by(FeedRow.host)
                ).all()
            )
            candidates = (
                select(FeedRow.id, FeedRow.name, FeedRow.host)
                .where(_due(now))
                .order_by(FeedRow.next_poll_at, FeedRow.id)
                # Over-fetch: some candidates are skipped for their host's sake.
                .limit(limit * 4)
            )
            if session.get_bind().dialect.name == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True)
            chosen: list[tuple[int, str]] = []
            for feed_id, name, host in session.execute(candidates):
                if len(chosen) >= limit:
                    break
                if busy.get(host, 0) >= per_host:
                    continue
                busy[host] = busy.get(host, 0) + 1
                chosen.append((feed_id, name))
            if chosen:
                session.execute(
                    update(FeedRow)
                    .where(FeedRow.id.in_([feed_id for feed_id, _ in chosen]))
                    .values(lease_until=now + lease)
                )
            return [name for _, name in chosen]

    def release_lease(self, name: str) -> None:
        """Give a claimed feed back without polling it (shutdown before it started)."""
        with self._session() as session:
            session.execute(update(FeedRow).where(FeedRow.name == name).values(lease_until=None))

    def next_due_at(self) -> datetime | None:
        with self._session(write=False) as session:
            return session.scalar(
                select(func.min(FeedRow.next_poll_at)).where(
                    FeedRow.active.is_(True), FeedRow.disabled_reason.is_(None)
                )
            )

    def feed_statuses(self) -> list[FeedStatus]:
        with self._session(write=False) as session:
            counts = dict(
                session.execute(
                    select(ItemRow.feed_id, func.count()).group_by(ItemRow.feed_id)
                ).all()
            )
            return [
                FeedStatus(_feed_state(row), row.active, row.last_result, counts.get(row.id, 0))
                for row in session.scalars(select(FeedRow).order_by(FeedRow.name))
            ]

    # -- items and matches -------------------------------------------------------------

    def known_hashes(self, feed: str, keys: Sequence[str]) -> dict[str, str]:
        """content_hash of the items of ``feed`` already stored under ``keys``."""
        if not keys:
            return {}
        found: dict[str, str] = {}
        with self._session(write=False) as session:
            feed_id = _feed_id(session, feed)
            # Chunked so a 1,000-item feed stays under every backend's parameter limit.
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                query = select(ItemRow.key, ItemRow.content_hash).where(
                    ItemRow.feed_id == feed_id, ItemRow.key.in_(chunk)
                )
                found.update(session.execute(query).all())
        return found

    def record_poll(
        self,
        update: FeedUpdate,
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
        with self._session() as session:
            feed_id = _feed_id(session, update.name)
            ids = _insert_items(session, feed_id, [matched.item for matched in new], now)
            new_items = len(ids)
            pending = [
                (ids[matched.item.key], match)
                for matched in new
                if matched.item.key in ids
                for match in matched.matches
            ]
            for matched in changed:
                row = session.scalars(
                    select(ItemRow).where(
                        ItemRow.feed_id == feed_id, ItemRow.key == matched.item.key
                    )
                ).one_or_none()
                if row is None or row.content_hash == matched.item.content_hash:
                    continue
                _copy_item(row, matched.item)
                row.changed_at = now
                changed_items += 1
                pending += [(row.id, match) for match in matched.matches]
            topics = _insert_matches(session, pending, now)
            _apply_feed_update(session, update)
        return IngestCounts(new_items, changed_items, tuple(topics))

    def record_feed_result(self, update: FeedUpdate) -> None:
        """Store a poll that brought no items (not modified, or failed): one UPDATE."""
        with self._session() as session:
            _apply_feed_update(session, update)

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
            return _stored_items(session, rows)

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
            return _stored_items(session, rows)[0]

    # -- feed health -------------------------------------------------------------------

    def feed_health(self) -> list[FeedHealth]:
        """Every active feed's health, for operator notices."""
        with self._session(write=False) as session:
            newest = dict(
                session.execute(
                    select(ItemRow.feed_id, func.max(ItemRow.fetched_at)).group_by(ItemRow.feed_id)
                ).all()
            )
            return [
                FeedHealth(
                    name=row.name,
                    url=row.url,
                    error_count=row.error_count,
                    last_error=row.last_error,
                    failing_since=row.failing_since,
                    disabled_reason=row.disabled_reason,
                    moved_to=row.url if row.url != row.configured_url else None,
                    last_new_item_at=newest.get(row.id),
                    added_at=row.created_at,
                )
                for row in session.scalars(
                    select(FeedRow).where(FeedRow.active.is_(True)).order_by(FeedRow.name)
                )
            ]

    def notice_states(self) -> dict[str, NoticeState]:
        with self._session(write=False) as session:
            return {
                row.name: NoticeState(
                    name=row.name,
                    notified_kind=cast(ProblemKind | None, row.notified_kind),
                    notified_at=row.notified_at,
                    announced_move=row.announced_move,
                )
                for row in session.scalars(select(FeedNoticeRow))
            }

    def save_notice_states(self, states: Mapping[str, NoticeState]) -> None:
        with self._session() as session:
            for state in states.values():
                session.merge(
                    FeedNoticeRow(
                        name=state.name,
                        notified_kind=state.notified_kind,
                        notified_at=state.notified_at,
                        announced_move=state.announced_move,
                    )
                )

    # -- stories ---------------------------------------------------------------------

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
                )
                for row in session.scalars(query)
            ]

    def set_stories(self, assignments: Sequence[tuple[int, int, str]]) -> None:
        """Record (item id, story id, fingerprint JSON) for items just clustered."""
        if not assignments:
            return
        with self._session() as session:
            session.execute(
                update(ItemRow),
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
                    ItemRow.story_id.is_not(None), ItemRow.fingerprint.is_not(None), moment >= since
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
                for stored in _stored_items(session, session.execute(query).all()):
                    if stored.story_id is not None:
                        found.setdefault(stored.story_id, []).append(stored)
        return found

    def digest_items(self, digest: str, limit: int = 50) -> list[StoredItem]:
        """The items the latest runs of ``digest`` showed, newest claim first.

        Each item carries only the matches that digest claimed for it."""
        with self._session(write=False) as session:
            claims = (
                select(DigestClaimRow.match_id, MatchRow.item_id)
                .join(MatchRow, MatchRow.id == DigestClaimRow.match_id)
                .where(DigestClaimRow.digest == digest, DigestClaimRow.suppressed.is_(False))
                .order_by(DigestClaimRow.id.desc())
                .limit(limit * 4)
            )
            match_ids: set[int] = set()
            item_ids: list[int] = []
            for match_id, item_id in session.execute(claims):
                match_ids.add(match_id)
                if item_id not in item_ids:
                    item_ids.append(item_id)
            item_ids = item_ids[:limit]
            rows = session.execute(
                select(ItemRow, FeedRow)
                .join(FeedRow, ItemRow.feed_id == FeedRow.id)
                .where(ItemRow.id.in_(item_ids))
            ).all()
            order = {item_id: rank for rank, item_id in enumerate(item_ids)}
            found = _stored_items(session, rows, match_ids)
            return sorted(found, key=lambda stored: order[stored.id])

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

    # -- digests -------------------------------------------------------------------

    def claim_digest(
        self, digest: DigestConfig, now: datetime, targets: Sequence[str] = ("email",)
    ) -> DigestRun | None:
        """Create a digest run and claim every unclaimed match of its topics, atomically.

        Returns None when there is nothing to claim and the digest does not send
        empty runs. A match is claimed by at most one run of a digest name (a unique
        constraint enforces it even against a concurrent claimer).

        For an ``immediate`` digest, a match whose item belongs to a story this digest
        already alerted about is claimed as suppressed: not shown, not sent again (the
        next scheduled digest lists it as another source of the story). A run with
        only suppressed matches is recorded as 'suppressed' and None is returned.
        """
        with self._session() as session:
            run = DigestRunRow(
                digest=digest.name,
                created_at=now,
                status="pending",
                attempts=0,
                next_attempt_at=now,
            )
            session.add(run)
            session.flush()
            unclaimed = select(MatchRow.id).where(
                MatchRow.topic.in_(digest.topics),
                MatchRow.score >= digest.min_score,
                ~select(DigestClaimRow.id)
                .where(
                    DigestClaimRow.digest == digest.name,
                    DigestClaimRow.match_id == MatchRow.id,
                )
                .exists(),
            )
            rows = session.execute(
                select(MatchRow.id, ItemRow.story_id)
                .join(ItemRow, ItemRow.id == MatchRow.item_id)
                .where(MatchRow.id.in_(unclaimed))
            ).all()
            if not rows and not digest.send_empty:
                session.delete(run)
                return None
            alerted: set[int] = set()
            if digest.immediate:
                alerted = set(
                    session.scalars(
                        select(ItemRow.story_id)
                        .join(MatchRow, MatchRow.item_id == ItemRow.id)
                        .join(DigestClaimRow, DigestClaimRow.match_id == MatchRow.id)
                        .where(
                            DigestClaimRow.digest == digest.name,
                            DigestClaimRow.suppressed.is_(False),
                            ItemRow.story_id.is_not(None),
                        )
                    )
                )
            claims = [
                {
                    "run_id": run.id,
                    "digest": digest.name,
                    "match_id": match_id,
                    "suppressed": story_id is not None and story_id in alerted,
                }
                for match_id, story_id in rows
            ]
            if claims:
                session.execute(insert(DigestClaimRow), claims)
            if claims and all(claim["suppressed"] for claim in claims):
                run.status = "suppressed"
                return None
            session.execute(
                insert(DeliveryRow),
                [
                    {
                        "run_id": run.id,
                        "target": target,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                    for target in targets
                ],
            )
            return _digest_run(session, run)

    def unclaimed_items(self, digest: DigestConfig) -> list[StoredItem]:
        """What the next run of ``digest`` would cover, without claiming anything."""
        with self._session(write=False) as session:
            query = (
                select(ItemRow, FeedRow)
                .join(FeedRow, ItemRow.feed_id == FeedRow.id)
                .where(
                    select(MatchRow.id)
                    .where(
                        MatchRow.item_id == ItemRow.id,
                        MatchRow.topic.in_(digest.topics),
                        MatchRow.score >= digest.min_score,
                        ~select(DigestClaimRow.id)
                        .where(
                            DigestClaimRow.digest == digest.name,
                            DigestClaimRow.match_id == MatchRow.id,
                        )
                        .exists(),
                    )
                    .exists()
                )
                .order_by(ItemRow.fetched_at, ItemRow.id)
            )
            return _stored_items(session, session.execute(query).all())

    def pending_digest_runs(self, now: datetime, digest: str | None = None) -> list[DigestRun]:
        """Runs claimed but not yet sent whose next attempt is due, oldest first."""
        with self._session(write=False) as session:
            query = select(DigestRunRow).where(
                DigestRunRow.status == "pending", DigestRunRow.next_attempt_at <= now
            )
            if digest is not None:
                query = query.where(DigestRunRow.digest == digest)
            rows = session.scalars(query.order_by(DigestRunRow.id)).all()
            return [_digest_run(session, row) for row in rows]

    def set_message_id(self, run_id: int, message_id: str) -> None:
        """Fix a run's Message-ID before the first send, so every re-send carries it."""
        with self._session() as session:
            session.execute(
                update(DigestRunRow)
                .where(DigestRunRow.id == run_id, DigestRunRow.message_id.is_(None))
                .values(message_id=message_id)
            )

    def mark_delivery(
        self,
        run_id: int,
        target: str,
        *,
        now: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Record one delivery attempt: sent (no error), to retry at ``retry_at``, or
        failed for good (an error and no retry). The run is sent once every delivery
        is, failed once none is pending and one failed, else due at the earliest retry.
        """
        status = "sent" if error is None else ("pending" if retry_at is not None else "failed")
        with self._session() as session:
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.run_id == run_id, DeliveryRow.target == target)
                .values(
                    status=status,
                    attempts=DeliveryRow.attempts + 1,
                    last_error=error,
                    next_attempt_at=retry_at if status == "pending" else None,
                    sent_at=now if status == "sent" else None,
                )
            )
            rows = session.scalars(select(DeliveryRow).where(DeliveryRow.run_id == run_id)).all()
            pending = [row.next_attempt_at or now for row in rows if row.status == "pending"]
            run_values: dict[str, Any] = {"attempts": DigestRunRow.attempts + 1}
            if pending:
                run_values.update(status="pending", next_attempt_at=min(pending))
            elif any(row.status == "failed" for row in rows):
                failed = [row.last_error or "" for row in rows if row.status == "failed"]
                run_values.update(status="failed", next_attempt_at=None, last_error=failed[0])
            else:
                run_values.update(status="sent", sent_at=now, next_attempt_at=None, last_error=None)
            if error is not None:
                run_values["last_error"] = error
            session.execute(
                update(DigestRunRow).where(DigestRunRow.id == run_id).values(**run_values)
            )

    def last_digest_sent(self) -> dict[str, datetime]:
        with self._session(write=False) as session:
            query = (
                select(DigestRunRow.digest, func.max(DigestRunRow.sent_at))
                .where(DigestRunRow.status == "sent")
                .group_by(DigestRunRow.digest)
            )
            return {name: when for name, when in session.execute(query) if when}

    def last_digest_runs(self) -> dict[str, datetime]:
        """When each digest last claimed a run (sent or not)."""
        with self._session(write=False) as session:
            query = select(DigestRunRow.digest, func.max(DigestRunRow.created_at)).group_by(
                DigestRunRow.digest
            )
            return dict(session.execute(query).all())

    def pending_digest_count(self, digest: DigestConfig) -> int:
        """Matches waiting for the next run of ``digest``."""
        return sum(
            1
            for stored in self.unclaimed_items(digest)
            for match in stored.matches
            if match.topic in digest.topics
        )

    def digest_run_count(self, digest: str, status: str | None = None) -> int:
        with self._session(write=False) as session:
            query = select(func.count()).where(DigestRunRow.digest == digest)
            if status is not None:
                query = query.where(DigestRunRow.status == status)
            return int(session.scalar(query) or 0)


# -- row <-> value conversions (private) ----------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _feed_id(session: Session, name: str) -> int:
    feed_id = session.scalar(select(FeedRow.id).where(FeedRow.name == name))
    if feed_id is None:
        raise KeyError(name)
    return feed_id


def _feed_state(row: FeedRow) -> FeedState:
    return FeedState(
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
    )


def _unexpired_leases(now: datetime) -> ColumnElement[bool]:
    return and_(FeedRow.lease_until.is_not(None), FeedRow.lease_until > now)


def _due(now: datetime) -> ColumnElement[bool]:
    """Active, not disabled, due, and not claimed by a live poller."""
    return and_(
        FeedRow.active.is_(True),
        FeedRow.disabled_reason.is_(None),
        FeedRow.next_poll_at <= now,
        ~_unexpired_leases(now),
    )


def _apply_feed_update(session: Session, update: FeedUpdate) -> None:
    """Write a poll's outcome to its feed row in one UPDATE (no row loaded first)."""
    polled_at = literal(update.polled_at, UTCDateTime())
    values: dict[str, Any] = {
        "lease_until": None,
        "last_polled_at": update.polled_at,
        "last_result": update.result,
        "next_poll_at": update.next_poll_at,
        "error_count": update.error_count,
        "last_error": update.last_error,
    }
    if update.error_count == 0:
        values.update(last_success_at=update.polled_at, failing_since=None)
    else:
        values["failing_since"] = func.coalesce(FeedRow.failing_since, polled_at)
    if update.url is not None:
        values.update(url=update.url, host=host_of(update.url))
    if update.replace_validators:
        values.update(
            etag=update.etag,
            last_modified=update.last_modified,
            body_hash=update.body_hash,
            bozo_reason=update.bozo_reason,
        )
    if update.title:
        values["title"] = func.coalesce(func.nullif(FeedRow.title, ""), update.title)
    if update.disabled_reason is not None:
        values["disabled_reason"] = update.disabled_reason
    if update.page_text is not None:
        values["page_text"] = update.page_text
    session.execute(update_statement(FeedRow).where(FeedRow.name == update.name).values(values))


def _item_values(item: Item) -> dict[str, Any]:
    return {
        "url": item.url,
        "title": item.title,
        "summary": item.summary,
        "content_html": item.content_html,
        "content_text": item.content_text,
        "author": item.author,
        "tags": list(item.tags),
        "language": item.language,
        "content_hash": item.content_hash,
        "published": item.published,
        "updated": item.updated,
    }


def _copy_item(row: ItemRow, item: Item) -> None:
    for name, value in _item_values(item).items():
        setattr(row, name, value)


def _insert_ignoring_conflicts(
    session: Session,
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
    dialect = session.get_bind().dialect.name
    module = {"sqlite": sqlite_dialect, "postgresql": postgresql_dialect}.get(dialect)
    if module is None:
        raise StoreError(f"database: the {dialect} backend is not supported")
    statement = (
        module.insert(table)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(*returning)
    )
    return list(session.execute(statement, rows))


def _insert_items(
    session: Session, feed_id: int, items: Sequence[Item], now: datetime
) -> dict[str, int]:
    """Insert items; the ids of those inserted, by key (already-stored keys are absent)."""
    rows = [
        {"feed_id": feed_id, "key": item.key, "fetched_at": now, **_item_values(item)}
        for item in items
    ]
    inserted = _insert_ignoring_conflicts(
        session, ItemRow, rows, ["feed_id", "key"], (ItemRow.id, ItemRow.key)
    )
    return {key: item_id for item_id, key in inserted}


def _insert_matches(
    session: Session, matches: Sequence[tuple[int, TopicMatch]], now: datetime
) -> list[str]:
    """Add (item id, match) pairs for topics an item has not matched before; their topics."""
    rows = [
        {
            "item_id": item_id,
            "topic": match.topic,
            "score": match.score,
            "hits": [_hit_json(hit) for hit in match.hits],
            "matched_at": now,
        }
        for item_id, match in matches
    ]
    inserted = _insert_ignoring_conflicts(
        session, MatchRow, rows, ["item_id", "topic"], (MatchRow.topic,)
    )
    return [topic for (topic,) in inserted]


def _hit_json(hit: Hit) -> dict[str, Any]:
    return {"field": hit.field, "start": hit.start, "end": hit.end, "term": hit.term}


def _topic_match(row: MatchRow) -> TopicMatch:
    hits = tuple(
        Hit(field=str(h["field"]), start=int(h["start"]), end=int(h["end"]), term=str(h["term"]))
        for h in row.hits
    )
    return TopicMatch(topic=row.topic, score=row.score, hits=hits)


def _item(row: ItemRow, feed_name: str) -> Item:
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
        published=row.published,
        updated=row.updated,
        language=row.language,
        content_hash=row.content_hash,
    )


def _stored_items(
    session: Session, rows: Sequence[tuple[ItemRow, FeedRow]], match_ids: set[int] | None = None
) -> list[StoredItem]:
    """StoredItems for rows, with their matches (only ``match_ids`` when given)."""
    ids = [item.id for item, _ in rows]
    matches: dict[int, list[TopicMatch]] = {}
    for start in range(0, len(ids), 500):
        query = select(MatchRow).where(MatchRow.item_id.in_(ids[start : start + 500]))
        for match in session.scalars(query.order_by(MatchRow.score.desc(), MatchRow.id)):
            if match_ids is None or match.id in match_ids:
                matches.setdefault(match.item_id, []).append(_topic_match(match))
    return [
        StoredItem(
            id=item.id,
            item=_item(item, feed.name),
            feed_title=feed.title or feed.name,
            fetched_at=item.fetched_at,
            matches=tuple(matches.get(item.id, ())),
            story_id=item.story_id,
        )
        for item, feed in rows
    ]


def _digest_run(session: Session, run: DigestRunRow) -> DigestRun:
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
        items=tuple(_stored_items(session, rows, claimed)),
        deliveries=deliveries,
    )
