"""poll_feed(): one feed through fetch -> parse -> extract -> match -> store, top to bottom.

A failing feed is a result, not a crash: ``poll_feed`` returns what happened
and records it on the feed; only the unexpected escapes. The decisions (when
to poll next, which items are new) are pure functions below, with time and
randomness passed in, so they are tested without a network or a database.
The function holds no state of its own, so one feed's poll can run in any
process that has a Store and a Fetcher.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from watcher.articles import ArticleFetcher
from watcher.config import Defaults, FeedConfig
from watcher.exceptions import ParseError
from watcher.fetch import Fetched, Fetcher, FetchFailed, FetchRequest, NotModified
from watcher.models import FeedState, Item, TopicMatch
from watcher.parse import parse_feed
from watcher.store import FeedUpdate, IngestCounts, MatchedItem, Store

# Feed-supplied hints (RSS ttl, sy:updatePeriod) never push a poll further out than this.
MAX_HINTED_INTERVAL = timedelta(days=1)


class ItemMatcher(Protocol):
    """What poll needs of the matcher: the topics an item matches."""

    def match(self, item: Item) -> list[TopicMatch]: ...


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one feed did."""

    feed: str
    # new_items | no_new_items | not_modified | unchanged | failed | gone | disabled
    result: str
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
        return self.result in ("failed", "gone")

    def describe(self) -> str:
        """One log line: what happened to the source."""
        if self.failed:
            return f"{self.feed}: {self.error_kind}: {self.error}"
        return (
            f"{self.feed}: {self.result}, {self.new_items} new, {self.changed_items} updated, "
            f"{self.new_matches} matches"
        )


@dataclass(frozen=True, slots=True)
class ItemTriage:
    """A parsed feed's items split by what the store already holds."""

    new: tuple[Item, ...]
    changed: tuple[Item, ...]
    unchanged: int


def triage_items(items: Sequence[Item], known_hashes: Mapping[str, str]) -> ItemTriage:
    """Split items into new (key unseen), changed (text hash differs) and unchanged."""
    new = tuple(item for item in items if item.key not in known_hashes)
    changed = tuple(
        item
        for item in items
        if item.key in known_hashes and known_hashes[item.key] != item.content_hash
    )
    return ItemTriage(new, changed, len(items) - len(new) - len(changed))


def backoff_delay(
    error_count: int, interval: timedelta, max_backoff: timedelta, rng: random.Random
) -> timedelta:
    """Delay before retrying a feed that failed ``error_count`` times in a row.

    Doubles from the feed's interval, capped at ``max_backoff``, with +-20% jitter
    so feeds that failed together (one host down) do not retry in lockstep.
    """
    exponent = min(max(error_count - 1, 0), 16)
    base = min(interval * (1 << exponent), max_backoff)
    return base * rng.uniform(0.8, 1.2)


def adaptive_interval(
    published: Sequence[datetime],
    *,
    now: datetime,
    fallback: timedelta,
    lower: timedelta,
    upper: timedelta,
) -> timedelta:
    """An interval from a feed's posting rate: half the mean gap between its newest
    items (so a new item waits about a quarter gap on average), stretched when the
    feed has been quiet for longer than that, within [lower, upper].

    Feeds with fewer than two dated items keep ``fallback``.
    """
    dated = sorted(moment for moment in published if moment <= now)[-20:]
    if len(dated) < 2:
        return fallback
    mean_gap = (dated[-1] - dated[0]) / (len(dated) - 1)
    quiet = now - dated[-1]
    target = max(mean_gap, quiet) / 2
    return min(max(target, lower), upper)


def max_age(headers: Mapping[str, str]) -> timedelta | None:
    """Cache-Control max-age of a response (RFC 9111 §5.2.2.1), if it gives one."""
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.strip().strip('"').isdigit():
            return timedelta(seconds=int(value.strip().strip('"')))
    return None


def success_interval(interval: timedelta, hint: timedelta | None) -> timedelta:
    """The interval after a good poll: the configured one, lengthened by a feed's own
    hint (``ttl``, ``sy:updatePeriod``) that asks us to come back less often."""
    if hint is None or hint <= interval:
        return interval
    return min(hint, max(interval, MAX_HINTED_INTERVAL))


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


# Articles fetched per poll of a full-text feed; the rest keep their teaser.
FULL_TEXT_PER_POLL = 20


def poll_feed(feed: FeedConfig, ctx: PollContext) -> PollResult:
    """Poll one feed once and record the outcome; returns what happened.

    Raises only on the unexpected (a StoreError from the database, a bug).
    """
    state = ctx.store.feed_state(feed.name)
    interval = feed.interval or ctx.defaults.interval
    if state.disabled_reason is not None:
        return PollResult(feed.name, "disabled", error=state.disabled_reason)
    request = FetchRequest(
        url=state.url,
        etag=state.etag,
        last_modified=state.last_modified,
        allow_local_files=feed.allow_local_files,
        allow_private=feed.allow_private,
    )
    fetched = fetch_if_changed(feed.name, request, state, interval, ctx)
    if isinstance(fetched, PollResult):
        return fetched
    moved_to = fetched.permanent_url

    try:
        parsed = parse_feed(fetched.body, feed=feed.name, url=fetched.url, headers=fetched.headers)
    except ParseError as exc:
        return record_failure(
            feed.name, state.error_count, "parse", str(exc), None, interval, ctx, moved_to
        )

    triage = triage_items(
        parsed.items, ctx.store.known_hashes(feed.name, [i.key for i in parsed.items])
    )
    fresh = list(triage.new)
    if feed.full_text and ctx.articles is not None:
        fresh = [
            with_article_text(item, ctx.articles) if index < FULL_TEXT_PER_POLL else item
            for index, item in enumerate(fresh)
        ]
    new = [MatchedItem(item, tuple(ctx.matcher.match(item))) for item in fresh]
    changed = [MatchedItem(item, tuple(ctx.matcher.match(item))) for item in triage.changed]
    hints = [h for h in (parsed.ttl, parsed.update_period, max_age(fetched.headers)) if h]
    adaptive = feed.adaptive if feed.adaptive is not None else ctx.defaults.adaptive
    if adaptive:
        interval = adaptive_interval(
            [i.published for i in parsed.items if i.published],
            now=ctx.now,
            fallback=interval,
            lower=ctx.defaults.min_interval,
            upper=ctx.defaults.max_interval,
        )
    next_poll_at = ctx.now + success_interval(interval, max(hints, default=None))
    counts = ctx.store.record_poll(
        FeedUpdate(
            name=feed.name,
            polled_at=ctx.now,
            result="new_items" if new else "no_new_items",
            next_poll_at=next_poll_at,
            url=moved_to,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            body_hash=fetched.body_hash,
            title=parsed.title,
            bozo_reason=parsed.bozo_reason,
            replace_validators=True,
        ),
        new=new,
        changed=changed,
    )
    return stored_result(feed.name, counts, next_poll_at, moved_to)


def stored_result(
    name: str, counts: IngestCounts, next_poll_at: datetime, moved_to: str | None
) -> PollResult:
    """The result of a poll that fetched and stored, from what the store counted."""
    return PollResult(
        name,
        "new_items" if counts.new_items else "no_new_items",
        new_items=counts.new_items,
        changed_items=counts.changed_items,
        matched_topics=counts.matched_topics,
        next_poll_at=next_poll_at,
        moved_to=moved_to,
    )


def with_article_text(item: Item, articles: ArticleFetcher) -> Item:
    """``item`` with the text of the article its link points at, when that can be had.

    The content hash stays the feed's own, so the next poll does not see a change.
    """
    if not item.url:
        return item
    result = articles.fetch(item.url)
    if result.article is None:
        return item
    article = result.article
    return replace(
        item,
        content_text=article.text,
        title=item.title or article.title or "",
        author=item.author or article.author or "",
        language=item.language or article.language,
    )


def fetch_if_changed(
    name: str, request: FetchRequest, state: FeedState, interval: timedelta, ctx: PollContext
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
        ctx.store.record_feed_result(
            FeedUpdate(
                name=name,
                polled_at=ctx.now,
                result="not_modified",
                next_poll_at=next_poll_at,
                url=fetched.permanent_url,
            )
        )
        return PollResult(
            name, "not_modified", next_poll_at=next_poll_at, moved_to=fetched.permanent_url
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
        # The server said when to come back (RFC 9110 §10.2.3); never sooner than that.
        delay = max(retry_after, min(delay, ctx.defaults.max_backoff))
    gone = kind == "gone"
    next_poll_at = ctx.now + delay
    ctx.store.record_feed_result(
        FeedUpdate(
            name=name,
            polled_at=ctx.now,
            result="gone" if gone else f"failed:{kind}",
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
        "gone" if gone else "failed",
        error_kind=kind,
        error=message,
        next_poll_at=next_poll_at,
        moved_to=moved_to,
    )
