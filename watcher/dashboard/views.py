"""What each dashboard page shows, gathered from the store, the config and the matcher.

Every string a view hands a template is plain text (the template escapes it),
every URL has passed ``safe_link``; the one piece of feed HTML shown, an
item's original content, has passed the sanitiser. Time is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from watcher.config import Config
from watcher.models import Hit, StoredItem
from watcher.outputs.digest import TITLE_LIMIT, format_time
from watcher.outputs.sanitize import normalize_text, safe_link, truncate
from watcher.outputs.view import TITLE_FIELDS, TextPart, highlight, snippet_parts
from watcher.store import ItemClaim, Store

# The index page's windows, by their query value.
WINDOWS: dict[str, tuple[timedelta, str]] = {
    "1d": (timedelta(days=1), "last 24 hours"),
    "2d": (timedelta(days=2), "last 2 days"),
    "7d": (timedelta(days=7), "last 7 days"),
}
DEFAULT_WINDOW = "1d"
# More matches than a person reads in a day; the page says when it was cut.
INDEX_LIMIT = 500
TOPIC_RECENT = timedelta(days=7)
TOPIC_LIMIT = 100
# Outlets named under a story card; a big event's hundred write-ups are "and N more".
ALSO_SHOWN = 8


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Another item of a story: its page here, the outlet and a checked link."""

    item_id: int
    label: str
    url: str | None
    title: str


@dataclass(frozen=True, slots=True)
class StoryCard:
    """One story under one topic: its strongest item, highlighted, and its other sources."""

    item_id: int
    topic: str
    title: tuple[TextPart, ...]
    url: str | None
    feed_title: str
    published: str
    snippet: tuple[TextPart, ...]
    other_topics: tuple[str, ...]
    also: tuple[SourceRef, ...]
    also_more: int
    states: tuple[str, ...]
    label: bool | None
    score: float


@dataclass(frozen=True, slots=True)
class TopicStories:
    name: str
    title: str
    stories: tuple[StoryCard, ...]


@dataclass(frozen=True, slots=True)
class IndexPage:
    window: str
    window_label: str
    generated_at: str
    sections: tuple[TopicStories, ...]
    stories: int
    items: int
    truncated: bool


def display_zone(config: Config) -> ZoneInfo:
    """Times show in the first digest's timezone (the desk's), else UTC."""
    return ZoneInfo(config.digests[0].timezone if config.digests else "UTC")


def topic_titles(config: Config) -> dict[str, str]:
    titles = {topic.name: topic.display_title for topic in config.topics}
    for watch in config.watches:
        titles[watch.topic] = f"Changes on {watch.title or watch.name}"
    return titles


def index_page(config: Config, store: Store, now: datetime, window: str) -> IndexPage:
    """Stories of the window by topic (config order), newest story first."""
    span, label = WINDOWS.get(window, WINDOWS[DEFAULT_WINDOW])
    window = window if window in WINDOWS else DEFAULT_WINDOW
    items = store.matched_items_since(now - span, limit=INDEX_LIMIT)
    cards = StoryCards(config, store, items)
    titles = topic_titles(config)
    order = [*titles, *sorted({m.topic for s in items for m in s.matches} - set(titles))]
    sections = []
    for topic in order:
        stories = cards.for_topic(topic, items)
        if stories:
            sections.append(TopicStories(topic, titles.get(topic, topic), tuple(stories)))
    return IndexPage(
        window=window,
        window_label=label,
        generated_at=format_time(now, cards.zone),
        sections=tuple(sections),
        stories=sum(len(section.stories) for section in sections),
        items=len(items),
        truncated=len(items) >= INDEX_LIMIT,
    )


class StoryCards:
    """Builds story cards for a set of items, with one read each of stories, claims, labels."""

    def __init__(self, config: Config, store: Store, items: Sequence[StoredItem]) -> None:
        self.config = config
        self.zone = display_zone(config)
        self.titles = topic_titles(config)
        ids = [stored.id for stored in items]
        self.members = store.story_outlets(sorted({s.story_id for s in items if s.story_id}))
        self.claims = store.item_claims(ids)
        self.labels = store.labels_of_items(ids)
        self.immediate = {digest.name for digest in config.digests if digest.immediate}

    def for_topic(self, topic: str, items: Sequence[StoredItem]) -> list[StoryCard]:
        """One card per story among ``items`` that matched ``topic``, newest story first."""
        groups: dict[int, list[StoredItem]] = {}
        for stored in items:
            if any(match.topic == topic for match in stored.matches):
                groups.setdefault(stored.story_id or -stored.id, []).append(stored)
        ranked = []
        for group in groups.values():
            lead = max(group, key=lambda s: (_score(s, topic), s.id))
            newest = max(_moment(s) for s in group)
            ranked.append((newest, lead))
        ranked.sort(key=lambda pair: (pair[0], pair[1].id), reverse=True)
        return [self.card(lead, topic) for _, lead in ranked]

    def card(self, stored: StoredItem, topic: str) -> StoryCard:
        item = stored.item
        hits = [hit for match in stored.matches if match.topic == topic for hit in match.hits]
        # One link per other outlet (its first write-up), not one per item.
        outlets: dict[str, StoredItem] = {}
        for other in self.members.get(stored.story_id or 0, []):
            if other.id != stored.id and other.item.feed != item.feed:
                outlets.setdefault(other.item.feed, other)
        others = list(outlets.values())
        return StoryCard(
            item_id=stored.id,
            topic=topic,
            title=title_parts(stored, hits),
            url=safe_link(item.url),
            feed_title=outlet(stored),
            published=format_time(_moment(stored), self.zone),
            snippet=snippet_parts(item, hits),
            other_topics=tuple(
                self.titles.get(match.topic, match.topic)
                for match in stored.matches
                if match.topic != topic
            ),
            also=tuple(source_ref(other) for other in others[:ALSO_SHOWN]),
            also_more=max(0, len(others) - ALSO_SHOWN),
            states=item_states(self.claims.get(stored.id, []), self.immediate, self.zone),
            label=self.labels.get((stored.id, topic)),
            score=_score(stored, topic),
        )


def title_parts(stored: StoredItem, hits: Iterable[Hit]) -> tuple[TextPart, ...]:
    item = stored.item
    if not item.title.strip():
        return (TextPart(truncate(normalize_text(item.url or "(untitled)"), TITLE_LIMIT)),)
    ranges = [(h.start, h.end) for h in hits if h.field in TITLE_FIELDS and h.end > h.start]
    return highlight(item.title, ranges, limit=TITLE_LIMIT)


def outlet(stored: StoredItem) -> str:
    return truncate(normalize_text(stored.feed_title), TITLE_LIMIT) or stored.item.feed


def source_ref(stored: StoredItem) -> SourceRef:
    return SourceRef(
        item_id=stored.id,
        label=outlet(stored),
        url=safe_link(stored.item.url),
        title=truncate(normalize_text(stored.item.title), TITLE_LIMIT) or "(untitled)",
    )


def item_states(
    claims: Sequence[ItemClaim], immediate: set[str], zone: ZoneInfo
) -> tuple[str, ...]:
    """What became of an item: "new" until a digest run takes it, then each run's fate."""
    states: list[str] = []
    seen: set[int] = set()
    for claim in claims:
        if claim.run_id in seen:
            continue
        seen.add(claim.run_id)
        if claim.suppressed:
            states.append(f"covered by an earlier alert of {claim.digest}")
            continue
        what = (
            f"alerted by {claim.digest}"
            if claim.digest in immediate
            else f"in digest {claim.digest}"
        )
        if claim.status == "sent" and claim.sent_at is not None:
            states.append(f"{what}, sent {format_time(claim.sent_at, zone)}")
        elif claim.status == "failed":
            states.append(f"{what}, delivery failed")
        else:
            states.append(f"{what}, being sent")
    return tuple(states) or ("new",)


def _score(stored: StoredItem, topic: str) -> float:
    return max((m.score for m in stored.matches if m.topic == topic), default=0.0)


def _moment(stored: StoredItem) -> datetime:
    return stored.item.published or stored.fetched_at
