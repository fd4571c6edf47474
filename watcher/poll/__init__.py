"""poll_source(): one source — a feed, a listing page or a watched page — polled once.

The one entry point for every process that polls: the daemon's thread pool,
``watcher poll --once``, the demo and Celery workers. It never raises for a
source's sake: whatever goes wrong (a fetch, a parse, the database, a bug) is
recorded on that source with a backoff and returned as a failed result, so one
source cannot abort a run or stay "never polled".

    common    PollContext, PollResult, recording failures and "not modified"
    schedule  when to poll next: backoff, adaptive intervals, feeds' own hints
    feed      poll_feed(): fetch -> parse -> extract -> match -> store
    page      poll_page() (listing pages) and poll_watch() (watched pages)
"""

from __future__ import annotations

import logging

from watcher.config import PageConfig, Source, WatchConfig
from watcher.exceptions import StoreError
from watcher.models import PollOutcome
from watcher.poll.common import PollContext, PollResult, record_failure
from watcher.poll.cpu import ItemMatcher
from watcher.poll.feed import ItemTriage, poll_feed, triage_items, with_article_text
from watcher.poll.schedule import (
    MAX_HINTED_INTERVAL,
    adaptive_interval,
    backoff_delay,
    success_interval,
)

log = logging.getLogger(__name__)


def poll_source(source: Source, ctx: PollContext) -> PollResult:
    """Poll ``source`` once and record the outcome on it; returns what happened.

    Never raises an Exception: the unexpected is logged with its traceback and
    recorded on the source as a failure of kind ``store`` (the database failed)
    or ``internal`` (anything else), with the usual backoff. When even that
    record cannot be written, the result says so and the source's lease expires,
    so it is polled again soon.
    """
    try:
        if isinstance(source, PageConfig | WatchConfig):
            # Imported on first use: pages need lxml and their selectors, which a
            # poll of feeds alone never loads (~20 ms of every start-up, issue #18).
            from watcher.poll.page import poll_page, poll_watch

            if isinstance(source, PageConfig):
                return poll_page(source, ctx)
            return poll_watch(source, ctx)
        return poll_feed(source, ctx)
    except Exception as exc:
        kind = "store" if isinstance(exc, StoreError) else "internal"
        if kind == "store":
            log.error("%s: poll failed: %s", source.name, exc)
        else:
            log.exception("%s: poll crashed", source.name)
        return _record_unexpected(source, ctx, kind, exc)


def _record_unexpected(source: Source, ctx: PollContext, kind: str, exc: Exception) -> PollResult:
    message = f"{type(exc).__name__}: {exc}" if kind == "internal" else str(exc)
    message = message.splitlines()[0][:500] if message else type(exc).__name__
    try:
        state = ctx.store.source_state(source.name)
        interval = source.interval or ctx.defaults.interval
        return record_failure(source.name, state.error_count, kind, message, None, interval, ctx)
    except Exception as record_exc:  # the database is down too: say so, the lease expires
        log.error("%s: poll failure not recorded: %s", source.name, record_exc)
        return PollResult(source.name, PollOutcome.FAILED, error_kind=kind, error=message)


__all__ = [
    "MAX_HINTED_INTERVAL",
    "ItemMatcher",
    "ItemTriage",
    "PollContext",
    "PollResult",
    "adaptive_interval",
    "backoff_delay",
    "poll_feed",
    "poll_source",
    "success_interval",
    "triage_items",
    "with_article_text",
]
