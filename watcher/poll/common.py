"""What every kind of poll shares: its context, its result, and recording a fetch's
failure or "not modified" on the source.

A failing source is a result, not a crash: each function here records what
happened on the source and returns it as a ``PollResult``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from watcher.config import Defaults
from watcher.models import PollOutcome, SourceState
from watcher.poll.cpu import CpuStages, ItemMatcher
from watcher.poll.schedule import backoff_delay
from watcher.sources.articles import ArticleFetcher
from watcher.sources.fetch import Fetched, Fetcher, FetchFailed, FetchRequest, NotModified
from watcher.store import IngestCounts, MatchedItem, SourceUpdate, Store


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one source did."""

    source: str
    result: PollOutcome
    new_items: int = 0
    changed_items: int = 0
    matched_topics: tuple[str, ...] = ()
    error_kind: str | None = None
    error: str | None = None
    next_poll_at: datetime | None = None
    moved_to: str | None = None

    @property
    def new_matches(self) -> int:
        return len(self.matched_topics)

    @property
    def failed(self) -> bool:
        return self.result.failed

    def describe(self) -> str:
        """One log line: what happened to the source."""
        if self.failed:
            return f"{self.source}: {self.error_kind}: {self.error}"
        return (
            f"{self.source}: {self.result}, {self.new_items} new, {self.changed_items} updated, "
            f"{self.new_matches} matches"
        )


@dataclass(frozen=True, slots=True)
class PollContext:
    """What a poll of any source needs: the store, the fetcher, the matcher, the
    settings, the time, and (for full-text feeds) the article fetcher."""

    store: Store
    fetcher: Fetcher
    matcher: ItemMatcher
    defaults: Defaults
    now: datetime
    rng: random.Random
    articles: ArticleFetcher | None = None
    # Where feeds are parsed and items matched: worker processes when many sources
    # are polled at once (see watcher.poll.cpu); None: here, with ``matcher``.
    cpu: CpuStages | None = None
    # The source's stored state when the caller read it already (a poll of many
    # sources reads them all in one go); None: read it now.
    known_state: SourceState | None = None
    # Where a "not modified" is written: in batches when many sources are polled at
    # once (see NotModifiedWrites); None: at once, in a transaction of its own.
    not_modified: NotModifiedWrites | None = None

    def source_state(self, name: str) -> SourceState:
        """The stored state of source ``name``, as the caller read it or from the store."""
        if self.known_state is not None and self.known_state.name == name:
            return self.known_state
        return self.store.source_state(name)


class NotModifiedWrites:
    """The "not modified" outcomes of a poll of many sources, written in batches.

    Most sources of a poll answer 304, and each outcome is one UPDATE; written
    ``batch`` at a time in one transaction they cost a sixth as much CPU
    (issue #18). Only these are deferred: new items, failures and their backoff are
    written at once. What a crash loses is at most one batch of 304s: those sources
    keep their previous poll time and validators, and the next poll asks them again.
    Thread-safe: the poll threads add, whichever fills a batch writes it.
    """

    def __init__(self, store: Store, batch: int = 250) -> None:
        self._store = store
        self._batch = batch
        self._pending: list[SourceUpdate] = []
        self._lock = threading.Lock()

    def add(self, update: SourceUpdate) -> None:
        with self._lock:
            self._pending.append(update)
            if len(self._pending) < self._batch:
                return
            full, self._pending = self._pending, []
        self._store.record_feed_results(full)

    def flush(self) -> None:
        """Write what is pending (the end of the poll)."""
        with self._lock:
            pending, self._pending = self._pending, []
        self._store.record_feed_results(pending)


def stored_result(
    name: str, counts: IngestCounts, next_poll_at: datetime, moved_to: str | None
) -> PollResult:
    """The result of a poll that fetched and stored, from what the store counted."""
    return PollResult(
        name,
        PollOutcome.NEW_ITEMS if counts.new_items else PollOutcome.NO_NEW_ITEMS,
        new_items=counts.new_items,
        changed_items=counts.changed_items,
        matched_topics=counts.matched_topics,
        next_poll_at=next_poll_at,
        moved_to=moved_to,
    )


def record_fetched(
    fetched: Fetched,
    ctx: PollContext,
    update: SourceUpdate,
    new: Sequence[MatchedItem],
    changed: Sequence[MatchedItem] = (),
) -> PollResult:
    """Store a fetched source's items with ``update`` and say what happened.

    ``update`` carries what only its kind of source knows (outcome, next poll,
    feed title, page text); the fetch's own facts (where it moved, validators,
    body hash) are filled in here, so every kind records them alike.
    """
    counts = ctx.store.record_poll(
        replace(
            update,
            polled_at=ctx.now,
            url=fetched.permanent_url,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            body_hash=fetched.body_hash,
        ),
        new=new,
        changed=changed,
    )
    return stored_result(update.name, counts, update.next_poll_at, fetched.permanent_url)


def fetch_if_changed(
    name: str, request: FetchRequest, state: SourceState, interval: timedelta, ctx: PollContext
) -> Fetched | PollResult:
    """Fetch a source; a failure or an unchanged body is recorded and returned as a result.

    Unchanged means a 304, or a 200 whose body hashes the same as last time.
    """
    fetched = ctx.fetcher.fetch(request)
    if isinstance(fetched, FetchFailed):
        return record_failure(
            name,
            state.error_count,
            fetched.kind,
            fetched.message,
            fetched.retry_after,
            interval,
            ctx,
            fetched.permanent_url,
        )
    if isinstance(fetched, NotModified) or fetched.body_hash == state.body_hash:
        next_poll_at = ctx.now + interval
        update = SourceUpdate(
            name=name,
            polled_at=ctx.now,
            result=PollOutcome.NOT_MODIFIED,
            next_poll_at=next_poll_at,
            url=fetched.permanent_url,
        )
        if ctx.not_modified is not None:
            ctx.not_modified.add(update)
        else:
            ctx.store.record_feed_result(update)
        return PollResult(
            name,
            PollOutcome.NOT_MODIFIED,
            next_poll_at=next_poll_at,
            moved_to=fetched.permanent_url,
        )
    return fetched


def record_failure(
    name: str,
    previous_errors: int,
    kind: str,
    message: str,
    retry_after: timedelta | None,
    interval: timedelta,
    ctx: PollContext,
    moved_to: str | None = None,
) -> PollResult:
    """Record a failed poll with its backoff (a 410 also disables the source)."""
    error_count = previous_errors + 1
    delay = backoff_delay(error_count, interval, ctx.defaults.max_backoff, ctx.rng)
    if retry_after is not None:
        # The server said when to come back (RFC 9110 §10.2.3): not sooner than that,
        # but never later than our own max_backoff, so a server cannot park a source.
        delay = min(max(retry_after, delay), ctx.defaults.max_backoff)
    gone = kind == "gone"
    next_poll_at = ctx.now + delay
    ctx.store.record_feed_result(
        SourceUpdate(
            name=name,
            polled_at=ctx.now,
            result=PollOutcome.GONE if gone else f"{PollOutcome.FAILED}:{kind}",
            next_poll_at=next_poll_at,
            error_count=error_count,
            last_error=f"{kind}: {message}",
            url=moved_to,
            disabled_reason=(
                f"410 Gone at {ctx.now.isoformat(timespec='seconds')}" if gone else None
            ),
        )
    )
    return PollResult(
        name,
        PollOutcome.GONE if gone else PollOutcome.FAILED,
        error_kind=kind,
        error=message,
        next_poll_at=next_poll_at,
        moved_to=moved_to,
    )
