"""poll_page() and poll_watch(): web pages without a feed, through the same stages.

A listing page (``pages:``) is fetched like a feed; the links its CSS selector
picks are its entries. Each new link's article is fetched (politely, as an
untrusted URL) and extracted, and topics match on the article's text.

A watched page (``watches:``) is fetched, reduced to its text (or the part a
selector picks), and compared with the text kept from the last poll, ignoring
noise such as dates and counters. A real change is stored as an item whose
summary is the diff, matched to the watch's own pseudo-topic (``watch.NAME``)
so that digests listing the watch carry it.
"""

from __future__ import annotations

from watcher.config import PageConfig, WatchConfig
from watcher.models import WATCH_CHANGE_KEY_PREFIX, Item, PollOutcome, TopicMatch
from watcher.outputs.sanitize import truncate
from watcher.poll.common import (
    PollContext,
    PollResult,
    fetch_if_changed,
    record_failure,
    record_fetched,
)
from watcher.sources.extract import Article
from watcher.sources.feeds import content_hash
from watcher.sources.fetch import Fetched, FetchRequest
from watcher.sources.pages import PageLink, extract_links
from watcher.sources.watches import compile_ignore_patterns, detect_change, page_text
from watcher.store import MatchedItem, SourceUpdate

SUMMARY_CHARS = 400
DIFF_CHARS = 4000


def _fetch_page(source: PageConfig | WatchConfig, ctx: PollContext) -> Fetched | PollResult:
    """Fetch a page source unless it is disabled, disallowed by robots.txt, failing or
    unchanged (each recorded and returned as the poll's result)."""
    state = ctx.source_state(source.name)
    interval = source.interval or ctx.defaults.interval
    if state.disabled_reason is not None:
        return PollResult(source.name, PollOutcome.DISABLED, error=state.disabled_reason)
    robots = ctx.articles.robots if ctx.articles is not None else None
    if robots is not None and not robots.allowed(state.url):
        return record_failure(
            source.name,
            state.error_count,
            "robots",
            "robots.txt disallows the page",
            None,
            interval,
            ctx,
        )
    request = FetchRequest(
        url=state.url,
        etag=state.etag,
        last_modified=state.last_modified,
        allow_private=source.allow_private,
    )
    return fetch_if_changed(source.name, request, state, interval, ctx)


def poll_page(page: PageConfig, ctx: PollContext) -> PollResult:
    """Poll a listing page: new links become items with their articles' text."""
    articles = ctx.articles
    assert articles is not None, "a page poll needs an ArticleFetcher"
    fetched = _fetch_page(page, ctx)
    if isinstance(fetched, PollResult):
        return fetched

    links = extract_links(fetched.body, page_url=fetched.url, selector=page.link_selector)
    known = ctx.store.known_hashes(page.name, [link.url for link in links])
    fresh = [link for link in links if link.url not in known]
    items: list[Item] = []
    deferred = len(fresh) > page.max_new_links
    for link in fresh[: page.max_new_links]:
        result = articles.fetch(link.url)
        if result.temporary:
            deferred = True  # tried again at the next poll
            continue
        items.append(_page_item(page.name, link, result.article))
    new = [MatchedItem(item, tuple(ctx.matcher.match(item))) for item in items]
    next_poll_at = ctx.now + (page.interval or ctx.defaults.interval)
    return record_fetched(
        fetched,
        ctx,
        SourceUpdate(
            name=page.name,
            polled_at=ctx.now,
            result=PollOutcome.NEW_ITEMS if new else PollOutcome.NO_NEW_ITEMS,
            next_poll_at=next_poll_at,
            # Links left for later must not be hidden by a "not modified" next time.
            replace_validators=not deferred,
        ),
        new,
    )


def _page_item(source: str, link: PageLink, article: Article | None) -> Item:
    """The item for a link: its article when one was extracted, else the link's text."""
    title = (article.title if article and article.title else link.text) or link.url
    text = article.text if article else ""
    summary = truncate(" ".join(text.split()), SUMMARY_CHARS) if text else ""
    return Item(
        feed=source,
        key=link.url,
        url=(article.url if article and article.url else link.url),
        title=title,
        summary=summary,
        content_text=text,
        author=(article.author or "") if article else "",
        published=(article.published if article and article.published else None),
        language=article.language if article else None,
        content_hash=content_hash(title, summary, text),
    )


def poll_watch(watch: WatchConfig, ctx: PollContext) -> PollResult:
    """Poll a watched page: a change beyond the ignored noise becomes one item."""
    previous = ctx.store.source_state(watch.name).page_text
    fetched = _fetch_page(watch, ctx)
    if isinstance(fetched, PollResult):
        return fetched

    text = page_text(fetched.body, selector=watch.selector)
    ignore = compile_ignore_patterns(watch.ignore, include_defaults=watch.ignore_defaults)
    change = detect_change(previous, text, ignore)
    new: list[MatchedItem] = []
    if change is not None:
        label = watch.title or watch.name
        item = Item(
            feed=watch.name,
            # One item per change, even when a page flips back to an earlier version.
            key=f"{WATCH_CHANGE_KEY_PREFIX}{ctx.now.isoformat()}:{change.new_hash[:16]}",
            url=fetched.url,
            title=f"{label}: the page changed",
            summary=truncate(change.diff, DIFF_CHARS),
            content_text="\n".join(change.added),
            published=ctx.now,
            content_hash=change.new_hash,
        )
        matches = (TopicMatch(watch.topic, 1.0), *ctx.matcher.match(item))
        new.append(MatchedItem(item, matches))
    next_poll_at = ctx.now + (watch.interval or ctx.defaults.interval)
    return record_fetched(
        fetched,
        ctx,
        SourceUpdate(
            name=watch.name,
            polled_at=ctx.now,
            result=(
                PollOutcome.CHANGED
                if new
                else PollOutcome.BASELINE
                if previous is None
                else PollOutcome.UNCHANGED
            ),
            next_poll_at=next_poll_at,
            replace_validators=True,
            page_text=text,
        ),
        new,
    )
