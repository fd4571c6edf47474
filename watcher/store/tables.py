"""The tables: SQLAlchemy models, and aware UTC datetimes on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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
    # The server default is the one migration 0002 gave the column for existing rows.
    host: Mapped[str] = mapped_column(String(255), default="", server_default="", index=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A watched page's last text (normalized), to show what changed next time.
    page_text: Mapped[str | None] = mapped_column(Text)
    # The digests of the entries of the last stored parse, space-separated: the next
    # parse skips those it sees again (their items are stored as they are).
    entry_digests: Mapped[str | None] = mapped_column(Text)
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
    # The fields the parser cut to their limits (Item.cut); NULL when none was.
    cut: Mapped[list[str] | None] = mapped_column(JSON)
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
    """What the operators were last told about a feed (see watcher.outputs.health)."""

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
    # The server default is the one migration 0003 gave the column for existing rows.
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LabelRow(Base):
    """A reader's judgement of one item for one topic: relevant or not.

    Written by ``watcher label``, the dashboard's feedback buttons and digest
    feedback links alike; one per (item, topic), the latest judgement wins.
    """

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("item_id", "topic", name="uq_labels_item_topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    relevant: Mapped[bool] = mapped_column(Boolean)
    # Where the judgement came from: "cli", "web" or "email".
    origin: Mapped[str] = mapped_column(String(16))
    labelled_at: Mapped[datetime] = mapped_column(UTCDateTime)
