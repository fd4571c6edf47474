"""The item page (text, every topic's explanation, the story) and the topic page
(recent matches, label counts, a draft query tried against stored items)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher.config import Config
from watcher.dashboard.views import (
    TOPIC_LIMIT,
    TOPIC_RECENT,
    SourceRef,
    StoryCard,
    StoryCards,
    display_zone,
    item_states,
    outlet,
    source_ref,
    title_parts,
    topic_titles,
)
from watcher.exceptions import QueryError
from watcher.match import ClauseResult, TopicIndex, field_text
from watcher.models import Hit, StoredItem
from watcher.outputs.digest import format_time
from watcher.outputs.sanitize import normalize_text, safe_link, sanitize_html, truncate
from watcher.outputs.view import CONTENT_FIELDS, SUMMARY_FIELDS, TextPart, highlight
from watcher.store import Store

# Long enough for any article; a pathological item is cut, not rendered whole.
TEXT_LIMIT = 50_000
BACKTEST_WINDOWS: dict[str, timedelta] = {
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
BACKTEST_ITEMS = 5000
BACKTEST_SHOWN = 50
STORY_SHOWN = 50


@dataclass(frozen=True, slots=True)
class HitLine:
    field: str
    found: str
    term: str


@dataclass(frozen=True, slots=True)
class TopicVerdict:
    """One topic against one item: explain's account, the stored match and the label."""

    topic: str
    title: str
    matched: bool
    score: float
    min_score: float
    stored_score: float | None
    in_scope: bool
    scope_note: str
    indexed: bool
    query: ClauseResult
    exclude: ClauseResult | None
    excluded: bool
    hits: tuple[HitLine, ...]
    label: bool | None


@dataclass(frozen=True, slots=True)
class ItemPage:
    item_id: int
    title: tuple[TextPart, ...]
    title_text: str
    url: str | None
    feed_title: str
    feed: str
    author: str
    published: str
    fetched: str
    summary: tuple[TextPart, ...]
    text: tuple[TextPart, ...]
    original_html: str
    states: tuple[str, ...]
    verdicts: tuple[TopicVerdict, ...]
    story: tuple[SourceRef, ...]
    story_more: int


def item_page(config: Config, store: Store, item_id: int) -> ItemPage:
    """KeyError when there is no such item."""
    stored = store.item(item_id)
    item = stored.item
    zone = display_zone(config)
    index = TopicIndex.build(config.topics, config.lists)
    labels = store.labels_of_items([item_id])
    stored_scores = {match.topic: match.score for match in stored.matches}
    titles = topic_titles(config)
    verdicts = []
    all_hits: list[Hit] = [hit for match in stored.matches for hit in match.hits]
    for topic in config.topics:
        explanation = index.explain(topic.name, item)
        verdicts.append(
            TopicVerdict(
                topic=topic.name,
                title=titles[topic.name],
                matched=explanation.matched,
                score=explanation.score,
                min_score=explanation.min_score,
                stored_score=stored_scores.get(topic.name),
                in_scope=explanation.in_scope,
                scope_note=explanation.scope_note,
                indexed=explanation.indexed,
                query=explanation.query,
                exclude=explanation.exclude,
                excluded=explanation.excluded,
                hits=tuple(
                    HitLine(hit.field, field_text(item, hit.field)[hit.start : hit.end], hit.term)
                    for hit in explanation.hits
                ),
                label=labels.get((item_id, topic.name)),
            )
        )
        all_hits += explanation.hits
    others: list[StoredItem] = []
    story_size = 0
    if stored.story_id is not None:
        members, story_size = store.story_members(stored.story_id, STORY_SHOWN + 1)
        others = [member for member in members if member.id != item_id]
    immediate = {digest.name for digest in config.digests if digest.immediate}
    title = title_parts(stored, all_hits)
    text = item.content_text or ""
    return ItemPage(
        item_id=item_id,
        title=title,
        title_text="".join(part.text for part in title),
        url=safe_link(item.url),
        feed_title=outlet(stored),
        feed=item.feed,
        author=truncate(normalize_text(item.author), 200),
        published=format_time(item.published, zone) if item.published else "",
        fetched=format_time(stored.fetched_at, zone),
        summary=_marked(item.summary, all_hits, SUMMARY_FIELDS),
        text=_marked(text, all_hits, CONTENT_FIELDS) if text != item.summary else (),
        original_html=sanitize_html(item.content_html[:TEXT_LIMIT]) if item.content_html else "",
        states=item_states(store.item_claims([item_id]).get(item_id, []), immediate, zone),
        verdicts=tuple(verdicts),
        story=tuple(source_ref(member) for member in others[:STORY_SHOWN]),
        story_more=max(0, story_size - 1 - STORY_SHOWN),
    )


def _marked(text: str, hits: list[Hit], fields: frozenset[str]) -> tuple[TextPart, ...]:
    if not text.strip():
        return ()
    ranges = [(hit.start, hit.end) for hit in hits if hit.field in fields]
    return highlight(text, ranges, limit=min(len(text) + 1, TEXT_LIMIT))


@dataclass(frozen=True, slots=True)
class BacktestRow:
    item_id: int
    feed: str
    title: tuple[TextPart, ...]


@dataclass(frozen=True, slots=True)
class Backtest:
    """A query tried over stored items, against the topic's saved query and its labels."""

    draft: str
    window: str
    error: str | None = None
    searched: int = 0
    matching: tuple[BacktestRow, ...] = ()
    matching_count: int = 0
    per_feed: tuple[tuple[str, int], ...] = ()
    gained: tuple[BacktestRow, ...] = ()
    gained_count: int = 0
    lost: tuple[BacktestRow, ...] = ()
    lost_count: int = 0
    # Of the items readers labelled for this topic: (matched by the draft, labelled).
    relevant: tuple[int, int] = (0, 0)
    not_relevant: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class TopicPage:
    name: str
    title: str
    description: str
    query: str
    exclude: str | None
    last_day: int
    last_week: int
    relevant: int
    not_relevant: int
    recent: tuple[StoryCard, ...]
    backtest: Backtest | None
    draft: str
    window: str


def topic_page(
    config: Config, store: Store, now: datetime, name: str, backtest: Backtest | None = None
) -> TopicPage:
    """KeyError when there is no such topic."""
    topic = config.topic(name)
    recent = store.matched_items_since(now - TOPIC_RECENT, topic=name, limit=TOPIC_LIMIT)
    cards = StoryCards(config, store, recent)
    relevant, not_relevant = store.label_counts().get(name, (0, 0))
    return TopicPage(
        name=name,
        title=topic.display_title,
        description=topic.description,
        query=topic.query,
        exclude=topic.exclude,
        last_day=store.topic_counts(now - timedelta(days=1)).get(name, 0),
        last_week=store.topic_counts(now - timedelta(days=7)).get(name, 0),
        relevant=relevant,
        not_relevant=not_relevant,
        recent=tuple(cards.card(stored, name) for stored in recent),
        backtest=backtest,
        draft=backtest.draft if backtest else topic.query,
        window=backtest.window if backtest else "7d",
    )


def run_backtest(
    config: Config, store: Store, now: datetime, name: str, draft: str, window: str
) -> Backtest:
    """Try ``draft`` as topic ``name``'s query over the items stored in ``window``.

    KeyError for an unknown topic; a query that does not parse comes back as
    ``Backtest.error``.
    """
    saved = config.topic(name)
    window = window if window in BACKTEST_WINDOWS else "7d"
    draft = draft.strip()
    if not draft:
        return Backtest(draft=draft, window=window, error="the query is empty")
    try:
        saved_index = TopicIndex.build([saved], config.lists)
        draft_index = TopicIndex.build([saved.model_copy(update={"query": draft})], config.lists)
    except QueryError as exc:
        return Backtest(draft=draft, window=window, error=str(exc))
    found = store.items(since=now - BACKTEST_WINDOWS[window], limit=BACKTEST_ITEMS)
    saved_hits = {stored.id for stored in found if saved_index.match(stored.item)}
    draft_hits: dict[int, StoredItem] = {}
    hits_of: dict[int, list[Hit]] = {}
    for stored in found:
        matches = draft_index.match(stored.item)
        if matches:
            draft_hits[stored.id] = stored
            hits_of[stored.id] = [hit for match in matches for hit in match.hits]
    by_id = {stored.id: stored for stored in found}

    def row(item_id: int) -> BacktestRow:
        stored = by_id[item_id]
        return BacktestRow(item_id, outlet(stored), title_parts(stored, hits_of.get(item_id, [])))

    gained = sorted(set(draft_hits) - saved_hits, reverse=True)
    lost = sorted(saved_hits - set(draft_hits), reverse=True)
    relevant, not_relevant = [0, 0], [0, 0]
    for label in store.labels(topic=name)[:BACKTEST_ITEMS]:
        try:
            stored = by_id[label.item_id] if label.item_id in by_id else store.item(label.item_id)
        except KeyError:  # the item has since been deleted by retention
            continue
        tally = relevant if label.relevant else not_relevant
        tally[1] += 1
        tally[0] += bool(draft_index.match(stored.item))
    per_feed = Counter(outlet(stored) for stored in draft_hits.values())
    return Backtest(
        draft=draft,
        window=window,
        searched=len(found),
        matching=tuple(row(i) for i in list(draft_hits)[:BACKTEST_SHOWN]),
        matching_count=len(draft_hits),
        per_feed=tuple(per_feed.most_common()),
        gained=tuple(row(i) for i in gained[:BACKTEST_SHOWN]),
        gained_count=len(gained),
        lost=tuple(row(i) for i in lost[:BACKTEST_SHOWN]),
        lost_count=len(lost),
        relevant=(relevant[0], relevant[1]),
        not_relevant=(not_relevant[0], not_relevant[1]),
    )
