"""What a digest shows: matched items grouped into topic sections, one entry per
story, and the highlighted snippets of each. Pure: nothing here reads the clock,
the database or the network, and nothing renders.

Counting, once for all: ``DigestView.total`` and every per-topic count describe
what the digest shows, after the ``max_items`` cap, so the numbers in the
subject and header agree with what the reader can scroll through.
``DigestView.omitted`` says how many more matched but were left out by the cap.
A topic's count is the number of entries listed in its section, so the number
beside a topic in the subject and the header is what the reader finds under
that heading, and the counts add up to ``total``. An item that also matched a
weaker topic is listed once, under its best topic, and says which topics (and
which terms) matched it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from watcher.config import DigestConfig
from watcher.models import Hit, Item, StoredItem
from watcher.outputs.sanitize import ELLIPSIS, normalize_text, text_from_html, truncate

SNIPPET_LIMIT = 300


# When the first matched term lies beyond the snippet, start this many
# characters before it, so the reader sees why the item matched.
SNIPPET_LEAD = 80


# Hit.field values whose offsets index into item.title, item.summary and
# item.content_text respectively.
TITLE_FIELDS = frozenset({"title"})


SUMMARY_FIELDS = frozenset({"summary"})


CONTENT_FIELDS = frozenset({"content", "content_text"})


_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class SourceLink:
    """Another outlet's article about the same story."""

    feed_title: str
    url: str | None
    title: str


@dataclass(frozen=True)
class DigestEntry:
    """One item as the digest lists it: under ``best_topic``, tagged with ``other_topics``."""

    item: StoredItem
    best_topic: str
    other_topics: tuple[str, ...]
    score: float
    also_reported_by: tuple[SourceLink, ...] = ()

    @property
    def sort_time(self) -> datetime:
        """When the item appeared: its published time, else when we fetched it."""
        return self.item.item.published or self.item.fetched_at


@dataclass(frozen=True)
class TopicSection:
    """The entries listed under one topic, newest first."""

    topic: str
    title: str
    entries: tuple[DigestEntry, ...]


@dataclass(frozen=True)
class DigestView:
    """What one digest run shows; see the module docstring for what the counts mean."""

    digest: DigestConfig
    generated_at: datetime
    sections: tuple[TopicSection, ...]
    total: int
    omitted: int
    # Display titles of all the digest's topics, including those with no section.
    topic_titles: Mapping[str, str] = field(default_factory=dict)

    def topic_counts(self) -> dict[str, int]:
        """Entries listed under each topic's section, in digest order (empty ones left out)."""
        return {section.topic: len(section.entries) for section in self.sections}

    def topic_title(self, topic: str) -> str:
        """The display title of a topic of this digest (its name if it has none)."""
        if topic in self.topic_titles:
            return self.topic_titles[topic]
        for section in self.sections:
            if section.topic == topic:
                return section.title
        return topic


def build_digest_view(
    digest: DigestConfig,
    titles: Mapping[str, str],
    items: Sequence[StoredItem],
    *,
    now: datetime,
    also_reported_by: Mapping[int, Sequence[SourceLink]] | None = None,
) -> DigestView:
    """Decide what ``digest`` shows of ``items``.

    Only matches for the digest's topics scoring at least ``digest.min_score``
    count. An item matched by several of them is listed once, under its best
    topic (highest score; ties go to the topic listed first in the digest)
    and tagged with the others. If more than ``digest.max_items`` items
    qualify, the highest-scoring are kept (newer first on equal scores) and
    the rest counted in ``omitted``. Sections follow the digest's topic order
    and hold their entries newest first; topics with no entries get no
    section. ``now`` (timezone-aware) becomes ``generated_at``.
    ``also_reported_by`` maps an item id to other outlets' articles about the
    same story (from clustering), shown under the entry.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    topic_rank = {topic: rank for rank, topic in enumerate(digest.topics)}
    entries: list[DigestEntry] = []
    seen_ids: set[int] = set()
    for stored in items:
        if stored.id in seen_ids:
            continue
        seen_ids.add(stored.id)
        entry = _entry_for(stored, topic_rank, digest.min_score)
        if entry is None:
            continue
        if also_reported_by and stored.id in also_reported_by:
            entry = replace(entry, also_reported_by=tuple(also_reported_by[stored.id]))
        entries.append(entry)

    entries.sort(key=lambda entry: (-entry.score, -entry.sort_time.timestamp(), entry.item.id))
    shown, omitted = entries[: digest.max_items], len(entries) - min(len(entries), digest.max_items)

    titles = {topic: titles.get(topic, topic) for topic in digest.topics}
    sections = []
    for topic in digest.topics:
        in_topic = [entry for entry in shown if entry.best_topic == topic]
        if not in_topic:
            continue
        in_topic.sort(key=lambda entry: (-entry.sort_time.timestamp(), -entry.score, entry.item.id))
        sections.append(TopicSection(topic=topic, title=titles[topic], entries=tuple(in_topic)))

    return DigestView(
        digest=digest,
        generated_at=now,
        sections=tuple(sections),
        total=len(shown),
        omitted=omitted,
        topic_titles=titles,
    )


def _entry_for(
    stored: StoredItem, topic_rank: Mapping[str, int], min_score: float
) -> DigestEntry | None:
    best_by_topic: dict[str, float] = {}
    for match in stored.matches:
        if match.topic in topic_rank and match.score >= min_score:
            previous = best_by_topic.get(match.topic, match.score)
            best_by_topic[match.topic] = max(match.score, previous)
    if not best_by_topic:
        return None
    ranked = sorted(best_by_topic, key=lambda topic: (-best_by_topic[topic], topic_rank[topic]))
    best = ranked[0]
    others = tuple(sorted(ranked[1:], key=topic_rank.__getitem__))
    return DigestEntry(item=stored, best_topic=best, other_topics=others, score=best_by_topic[best])


@dataclass(frozen=True)
class TextPart:
    """A run of plain text; ``marked`` when it is a matched term. Templates escape ``text``."""

    text: str
    marked: bool = False


def snippet_parts(item: Item, hits: Iterable[Hit]) -> tuple[TextPart, ...]:
    """An item's excerpt with its hits highlighted: the summary, else the article text,
    else the text of the feed's HTML. Every output (email, Atom) shows the same one."""
    if item.summary.strip():
        return highlight(item.summary, field_ranges(hits, SUMMARY_FIELDS), limit=SNIPPET_LIMIT)
    if item.content_text.strip():
        return highlight(item.content_text, field_ranges(hits, CONTENT_FIELDS), limit=SNIPPET_LIMIT)
    if item.content_html.strip():
        return (TextPart(truncate(text_from_html(item.content_html), SNIPPET_LIMIT)),)
    return ()


def field_ranges(hits: Iterable[Hit], fields: frozenset[str]) -> list[tuple[int, int]]:
    return [(hit.start, hit.end) for hit in hits if hit.field in fields and hit.end > hit.start]


def highlight(text: str, ranges: Iterable[tuple[int, int]], *, limit: int) -> tuple[TextPart, ...]:
    """Split ``text`` into parts with the ``ranges`` (offsets into ``text``) marked.

    The result is at most about ``limit`` characters, cut at a word boundary
    (never inside a mark) and shown with ellipses where text was left out.
    When the first mark lies beyond the limit, the excerpt starts a little
    before it. Whitespace and control characters collapse to single spaces.
    """
    marks = _merge(ranges, len(text))
    start = 0
    if len(text) > limit and marks and marks[0][1] > limit - 1:
        start = _word_start(text, max(0, marks[0][0] - SNIPPET_LEAD))
    end = len(text)
    if end - start > limit:
        end = _word_end(text, start, start + limit - 2, marks)

    raw_parts: list[TextPart] = []
    position = start
    for mark_start, mark_end in marks:
        if mark_end <= start or mark_start >= end:
            continue
        mark_start, mark_end = max(mark_start, start), min(mark_end, end)
        if mark_start > position:
            raw_parts.append(TextPart(text[position:mark_start]))
        raw_parts.append(TextPart(text[mark_start:mark_end], marked=True))
        position = mark_end
    if position < end:
        raw_parts.append(TextPart(text[position:end]))

    parts = _normalize_parts(raw_parts)
    if not parts:
        return ()
    if start > 0:
        parts.insert(0, TextPart(ELLIPSIS))
    if end < len(text):
        parts.append(TextPart(ELLIPSIS))
    return tuple(_join_plain(parts))


def _merge(ranges: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    clipped = sorted(
        (max(0, start), min(length, end)) for start, end in ranges if start < length and end > 0
    )
    merged: list[tuple[int, int]] = []
    for start, end in clipped:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _word_start(text: str, position: int) -> int:
    """The start of the word after ``position`` (``position`` itself if no space follows)."""
    if position == 0:
        return 0
    space = _SPACE.search(text, position)
    return position if space is None else space.end()


def _word_end(text: str, start: int, position: int, marks: Sequence[tuple[int, int]]) -> int:
    """A cut point at or before ``position``: after a whole word, outside marks when possible."""
    spaces = [found.start() for found in _SPACE.finditer(text, start, position + 1)]
    boundary = spaces[-1] if spaces else -1
    # A word boundary unless that loses more than half the text (one very long "word").
    cut = boundary if boundary > start + (position - start) // 2 else position
    for mark_start, mark_end in marks:
        if mark_start < cut < mark_end:
            # Keep the whole term when it ends close by, else stop before it.
            cut = mark_end if mark_end - position <= 20 else mark_start
    # A mark that starts the excerpt and runs past the limit is cut rather than lost.
    return cut if cut > start else position


def _normalize_parts(parts: Sequence[TextPart]) -> list[TextPart]:
    normalized: list[TextPart] = []
    previous_ends_with_space = True  # so leading whitespace of the whole is dropped
    for part in parts:
        text = _collapse(part.text)
        if previous_ends_with_space:
            text = text.lstrip(" ")
        if not text:
            continue
        normalized.append(TextPart(text, part.marked))
        previous_ends_with_space = text.endswith(" ")
    if normalized:
        last = normalized[-1]
        stripped = last.text.rstrip(" ")
        if stripped:
            normalized[-1] = TextPart(stripped, last.marked)
        else:
            normalized.pop()
    return normalized


def _collapse(text: str) -> str:
    """Collapse whitespace and control characters, keeping a single edge space if any."""
    core = normalize_text(text)
    if not core:
        return " " if text else ""
    leading = " " if normalize_text(text[:1]) == "" else ""
    trailing = " " if normalize_text(text[-1:]) == "" else ""
    return f"{leading}{core}{trailing}"


def _join_plain(parts: Sequence[TextPart]) -> list[TextPart]:
    joined: list[TextPart] = []
    for part in parts:
        if joined and not part.marked and not joined[-1].marked:
            joined[-1] = TextPart(joined[-1].text + part.text)
        else:
            joined.append(part)
    return joined
