"""The store's sources (feeds, listing pages, watches): config sync, state, leases, health."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import (
    func,
    select,
    update,
)

from watcher.models import (
    NoticeState,
    ProblemKind,
    SourceHealth,
    SourceState,
)
from watcher.store import records
from watcher.store.base import StoreBase
from watcher.store.tables import FeedNoticeRow, FeedRow, ItemRow
from watcher.store.values import SourceStatus
from watcher.urls import host_of

# Names bound in one IN (...) of ``source_states``: within every SQLite's limit of
# bound parameters (999 before 3.32).
_NAMES_PER_STATEMENT = 500


class ConfiguredSource(Protocol):
    """What the store reads of a configured source (a ``FeedConfig``, ``PageConfig`` or
    ``WatchConfig`` is one), so that the store does not depend on the configuration."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def enabled(self) -> bool: ...


class SourceStore(StoreBase):
    """Feeds and their poll state."""

    def sync_sources(self, feeds: Sequence[ConfiguredSource], now: datetime) -> None:
        """Make the feeds table agree with the configuration.

        New feeds are due at once; a feed whose configured URL changed is polled at
        its new URL from scratch; feeds gone from the config become inactive (their
        items stay). Re-enabling a feed clears a 410 disablement.
        """
        by_name = {feed.name: feed for feed in feeds}
        if self._sources_in_sync(by_name):
            return  # every start of `poll --once`, unless feeds.yaml changed
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
                    existing.entry_digests = None
                    existing.disabled_reason = None
                    existing.next_poll_at = now
                if feed.title:
                    existing.title = feed.title
                if feed.enabled and not existing.active:
                    existing.next_poll_at = now
                existing.active = feed.enabled

    def _sources_in_sync(self, by_name: Mapping[str, ConfiguredSource]) -> bool:
        """Whether ``sync_sources`` would change nothing, by one read of the four columns
        it compares, where loading every row into the ORM session cost a poll of 1,000
        sources ~40 ms (issue #18). When anything differs, ``sync_sources`` reads the
        rows again in its write transaction and decides there."""
        compared = select(FeedRow.name, FeedRow.configured_url, FeedRow.title, FeedRow.active)
        with self._connection(write=False) as connection:
            stored = {row.name: row for row in connection.execute(compared)}
        if not by_name.keys() <= stored.keys():
            return False  # a new source to add
        for name, row in stored.items():
            feed = by_name.get(name)
            if feed is None:
                if row.active:
                    return False  # gone from the config: to make inactive
            elif (
                row.configured_url != feed.url
                or row.active != feed.enabled
                or (feed.title and row.title != feed.title)
            ):
                return False
        return True

    def source_state(self, name: str) -> SourceState:
        """The stored state of feed ``name``; KeyError when the store does not know it."""
        with self._connection(write=False) as connection:
            row = connection.execute(records.STATE_OF_NAMED, {"feed_name": name}).one_or_none()
            if row is None:
                raise KeyError(name)
            return records.source_state(row)

    def source_states(self, names: Sequence[str]) -> dict[str, SourceState]:
        """The stored states of the sources ``names`` (those the store knows), read in a
        few statements: a poll of many sources reads them all at once, so that a source
        that answers 304 costs one statement, its update."""
        states: dict[str, SourceState] = {}
        with self._connection(write=False) as connection:
            for start in range(0, len(names), _NAMES_PER_STATEMENT):
                chunk = list(names[start : start + _NAMES_PER_STATEMENT])
                for row in connection.execute(records.STATES_OF_NAMED, {"feed_names": chunk}):
                    states[row.name] = records.source_state(row)
        return states

    def count_due_sources(self, now: datetime) -> int:
        """How many feeds are due but not yet claimed by a poller."""
        with self._session(write=False) as session:
            return int(session.scalar(select(func.count()).where(records.due(now))) or 0)

    def claim_due_sources(
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
            leased = records.unexpired_leases(now)
            busy = dict(
                session.execute(
                    select(FeedRow.host, func.count()).where(leased).group_by(FeedRow.host)
                ).all()
            )
            candidates = (
                select(FeedRow.id, FeedRow.name, FeedRow.host)
                .where(records.due(now))
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

    def release_source_leases(self) -> int:
        """Give back every claimed source; how many were claimed.

        For the daemon that holds the SQLite lock, at start-up: nothing else polls
        this database, so a claim left by a killed predecessor is polled now, not
        when its lease (four fetch timeouts) runs out. Never for Celery's scheduler:
        its workers may still be polling what they claimed.
        """
        with self._session() as session:
            result = session.execute(
                update(FeedRow).where(FeedRow.lease_until.is_not(None)).values(lease_until=None),
                execution_options={"synchronize_session": False},
            )
            return int(getattr(result, "rowcount", 0))

    def source_statuses(self) -> list[SourceStatus]:
        with self._session(write=False) as session:
            counts = dict(
                session.execute(
                    select(ItemRow.feed_id, func.count()).group_by(ItemRow.feed_id)
                ).all()
            )
            return [
                SourceStatus(
                    records.source_state(row), row.active, row.last_result, counts.get(row.id, 0)
                )
                for row in session.scalars(select(FeedRow).order_by(FeedRow.name))
            ]

    def source_health(self) -> list[SourceHealth]:
        """Every active feed's health, for operator notices."""
        with self._session(write=False) as session:
            newest = dict(
                session.execute(
                    select(ItemRow.feed_id, func.max(ItemRow.fetched_at)).group_by(ItemRow.feed_id)
                ).all()
            )
            return [
                SourceHealth(
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
