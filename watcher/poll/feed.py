"""poll_feed(): one feed through fetch -> parse -> extract -> match -> store, top to bottom.

The decisions (which items are new, when to poll next) are pure functions, with
time and randomness passed in, so they are tested without a network or a
database. The function holds no state of its own, so one feed's poll can run in
any process that has a Store and a Fetcher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from watcher.config import FeedConfig
from watcher.exceptions import ParseError, WorkerLostError
from watcher.models import Item, PollOutcome
from watcher.poll.common import (
    PollContext,
    PollResult,
    fetch_if_changed,
    record_failure,
    record_fetched,
)
from watcher.poll.cpu import LocalCpuStages
from watcher.poll.schedule import adaptive_interval, success_interval
from watcher.sources.articles import ArticleFetcher
from watcher.sources.fetch import FetchRequest
from watcher.sources.hints import parse_max_age
from watcher.store import MatchedItem, SourceUpdate


@dataclass(frozen=True, slots=True)
class ItemTriage:
    """A parsed feed's items split by what the store already holds."""

    new: tuple[Item, ...]
    changed: tuple[Item, ...]
    unchanged: int


def triage_items(
    items: Sequence[Item], known_hashes: Mapping[str, str], *, unchanged: int = 0
) -> ItemTriage:
    """Split items into new (key unseen), changed (text hash differs) and unchanged
    (plus ``unchanged`` the parser already set aside)."""
    new = tuple(item for item in items if item.key not in known_hashes)
    changed = tuple(
        item
        for item in items
        if item.key in known_hashes and known_hashes[item.key] != item.content_hash
    )
    return ItemTriage(new, changed, unchanged + len(items) - len(new) - len(changed))


# Articles fetched per poll of a full-text feed; the rest keep their teaser.
FULL_TEXT_PER_POLL = 20


def poll_feed(feed: FeedConfig, ctx: PollContext) -> PollResult:
    """Poll one feed once and record the outcome; returns what happened.

    Raises only on the unexpected (a StoreError from the database, a bug).
    """
    state = ctx.source_state(feed.name)
    interval = feed.interval or ctx.defaults.interval
    if state.disabled_reason is not None:
        return PollResult(feed.name, PollOutcome.DISABLED, error=state.disabled_reason)
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

    cpu = ctx.cpu or LocalCpuStages(ctx.matcher)
    articles = ctx.articles if feed.full_text else None

    def parse_failed(exc: ParseError) -> PollResult:
        return record_failure(
            feed.name, state.error_count, "parse", str(exc), None, interval, ctx, moved_to
        )

    try:
        parsed = cpu.parse(
            fetched.body,
            feed=feed.name,
            url=fetched.url,
            headers=fetched.headers,
            seen_entries=state.entry_digests,
            # A full-text feed's items change (their article's text) before matching.
            match_items=articles is None,
        )
    except ParseError as exc:
        return parse_failed(exc)

    # Entries seen in the last stored parse are neither normalized, looked up nor
    # matched (issue #18): only new or edited ones reach parsed.items.
    triage = triage_items(
        parsed.items,
        ctx.store.known_hashes(feed.name, [i.key for i in parsed.items]),
        unchanged=parsed.unchanged,
    )
    fresh = list(triage.new)
    if articles is not None:
        fresh = [
            with_article_text(item, articles) if index < FULL_TEXT_PER_POLL else item
            for index, item in enumerate(fresh)
        ]
    # One batch, so a worker process is asked once per poll (or never: it matched the
    # items when it parsed them, unless a full text changed them).
    try:
        matches = cpu.match([*fresh, *triage.changed])
    except WorkerLostError as exc:
        # As when a worker dies parsing: the source is polled again after its backoff.
        return parse_failed(exc)
    new = [MatchedItem(item, found) for item, found in zip(fresh, matches, strict=False)]
    changed = [
        MatchedItem(item, found)
        for item, found in zip(triage.changed, matches[len(fresh) :], strict=True)
    ]
    hints = [h for h in (parsed.ttl, parsed.update_period, parse_max_age(fetched.headers)) if h]
    adaptive = feed.adaptive if feed.adaptive is not None else ctx.defaults.adaptive
    if adaptive:
        interval = adaptive_interval(
            [*parsed.unchanged_published, *(i.published for i in parsed.items if i.published)],
            now=ctx.now,
            fallback=interval,
            lower=ctx.defaults.min_interval,
            upper=ctx.defaults.max_interval,
        )
    next_poll_at = ctx.now + success_interval(interval, max(hints, default=None))
    return record_fetched(
        fetched,
        ctx,
        SourceUpdate(
            name=feed.name,
            polled_at=ctx.now,
            result=PollOutcome.NEW_ITEMS if new else PollOutcome.NO_NEW_ITEMS,
            next_poll_at=next_poll_at,
            title=parsed.title,
            bozo_reason=parsed.bozo_reason,
            replace_validators=True,
            entry_digests=parsed.entry_digests,
        ),
        new,
        changed,
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
