"""Turn matched items into a digest: group them, render the templates, build the email.

Pure: nothing here reads the clock, the database or the network. The store
claims the matches for a digest run and hands them in as ``StoredItem``s; this
module decides what the digest shows (``build_digest_view``), renders it with
the templates in ``templates/`` (``render_digest``) and wraps the result in a
MIME message (``build_message``) for ``deliver`` to send.

Counting, once for all: ``DigestView.total`` and every per-topic count describe
what the email shows, after the ``max_items`` cap, so the numbers in the
subject and header agree with what the reader can scroll through.
``DigestView.omitted`` says how many more matched but were left out by the cap.
A topic's count is the number of entries listed in its section, so the number
beside a topic in the subject and the header is what the reader finds under
that heading, and the counts add up to ``total``. An item that also matched a
weaker topic is listed once, under its best topic, and says which topics (and
which terms) matched it.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import css_inline
import jinja2

from watcher.config import DigestConfig, TopicConfig
from watcher.exceptions import RenderError
from watcher.models import Hit, Item, JsonValue, StoredItem, TopicMatch
from watcher.outputs.sanitize import (
    ELLIPSIS,
    clean_header_text,
    normalize_text,
    safe_link,
    text_from_html,
    truncate,
)

SUBJECT_LIMIT = 200
TITLE_LIMIT = 300
SNIPPET_LIMIT = 300
# When the first matched term lies beyond the snippet, start this many
# characters before it, so the reader sees why the item matched.
SNIPPET_LEAD = 80

HTML_TEMPLATE = "digest.html"
TEXT_TEMPLATE = "digest.txt"

# Hit.field values whose offsets index into item.title, item.summary and
# item.content_text respectively.
TITLE_FIELDS = frozenset({"title"})
SUMMARY_FIELDS = frozenset({"summary"})
CONTENT_FIELDS = frozenset({"content", "content_text"})

# English names, not strftime's %a/%b, so the output does not depend on the
# process locale.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SPACE = re.compile(r"\s+")
_MESSAGE_ID_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


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


@dataclass(frozen=True)
class RenderedDigest:
    """A rendered digest: a header-safe subject, the HTML body (CSS inlined) and a text body.

    ``digest_name`` says which digest it is, for the message's X-Watcher-Digest header.
    """

    subject: str
    html: str
    text: str
    digest_name: str = ""


def build_digest_view(
    digest: DigestConfig,
    topics: Mapping[str, TopicConfig],
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

    titles = {
        topic: topics[topic].display_title if topic in topics else topic for topic in digest.topics
    }
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


# --- rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextPart:
    """A run of plain text; ``marked`` when it is a matched term. Templates escape ``text``."""

    text: str
    marked: bool = False


@dataclass(frozen=True)
class LinkContext:
    """A link for a template: ``url`` is None unless it is a safe http(s) URL."""

    label: str
    url: str | None
    title: str


@dataclass(frozen=True)
class MatchedTopic:
    """A topic that matched an entry and the terms of its query that were found."""

    title: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class EntryContext:
    """One entry, ready for a template: every string is plain text, every URL checked."""

    title: tuple[TextPart, ...]
    title_text: str
    url: str | None
    feed_title: str
    published: str
    snippet: tuple[TextPart, ...]
    snippet_text: str
    other_topics: tuple[str, ...]
    also_reported_by: tuple[LinkContext, ...]
    score: float
    # "Relevant" / "Not relevant" links to the dashboard, when http.public_url is set.
    feedback: tuple[LinkContext, ...] = ()
    # Why the entry is here: its topic first, then any other topic it matched.
    matched: tuple[MatchedTopic, ...] = ()


@dataclass(frozen=True)
class SectionContext:
    """A topic section for a template."""

    topic: str
    title: str
    entries: tuple[EntryContext, ...]


@dataclass(frozen=True)
class TopicCount:
    """How many shown items matched one topic."""

    topic: str
    title: str
    count: int


# (item id, topic) -> (label, URL) of each feedback link; see watcher.dashboard.links.
FeedbackLinks = Callable[[int, str], Sequence[tuple[str, str]]]


def render_digest(
    view: DigestView,
    *,
    templates_dir: Path | None = None,
    feedback_links: FeedbackLinks | None = None,
) -> RenderedDigest:
    """Render ``view`` into a subject, an HTML body and a text body.

    Templates come from ``templates_dir`` first (a user override, file by
    file), then from the shipped ``templates/``. They see plain text only
    (``EntryContext`` and friends), which the HTML environment escapes, so no
    feed-supplied markup reaches the email. The HTML template's CSS is
    inlined into style attributes for mail clients that drop ``<style>``.

    Raises RenderError when a template is missing, broken or uses an
    undefined variable, when the subject template fails, or when the digest's
    timezone is unknown.
    """
    zone = _zone(view.digest.timezone)
    digest_context = {"name": view.digest.name, "title": view.digest.display_title}
    counts = [
        TopicCount(topic=topic, title=view.topic_title(topic), count=count)
        for topic, count in view.topic_counts().items()
    ]
    topics_line = ", ".join(f"{count.title} ({count.count})" for count in counts)
    context = {
        "digest": digest_context,
        "generated_at": format_time(view.generated_at, zone),
        "generated_at_iso": view.generated_at.astimezone(zone).isoformat(),
        "total": view.total,
        "omitted": view.omitted,
        "max_items": view.digest.max_items,
        "counts": counts,
        "topics": topics_line,
        "sections": [
            _section_context(section, view, zone, feedback_links) for section in view.sections
        ],
        "digest_topics": [view.topic_title(topic) for topic in view.digest.topics],
    }
    subject = render_subject(
        view.digest.subject,
        digest=digest_context,
        total=view.total,
        omitted=view.omitted,
        topics=topics_line,
        counts={count.title: count.count for count in counts},
    )
    environment = _environment(templates_dir)
    html_body = _render_template(environment, HTML_TEMPLATE, {**context, "subject": subject})
    text_body = _render_template(environment, TEXT_TEMPLATE, {**context, "subject": subject})
    try:
        inlined = css_inline.inline(html_body, load_remote_stylesheets=False)
    except css_inline.InlineError as exc:
        raise RenderError(f"cannot inline the digest's CSS: {exc}") from exc
    return RenderedDigest(
        subject=subject, html=inlined, text=text_body, digest_name=view.digest.name
    )


def render_subject(template: str, **variables: object) -> str:
    """Render a subject template (a Jinja string) and make it safe for the Subject header."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        rendered = environment.from_string(template).render(**variables)
    except jinja2.TemplateError as exc:
        raise RenderError(f"cannot render the subject template {template!r}: {exc}") from exc
    return clean_header_text(rendered, SUBJECT_LIMIT)


def shipped_templates_dir() -> Path:
    """Where the templates shipped with watcher are.

    In a wheel they are copied to ``watcher/_templates`` (see pyproject's
    force-include); in a source checkout they are ``templates/`` beside the package.
    """
    package = Path(__file__).resolve().parents[1]  # the watcher package
    installed = package / "_templates"
    if installed.is_dir():
        return installed
    return package.parent / "templates"


def _environment(templates_dir: Path | None) -> jinja2.Environment:
    search_path = [shipped_templates_dir()]
    if templates_dir is not None:
        search_path.insert(0, templates_dir)
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(search_path),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render_template(
    environment: jinja2.Environment, name: str, context: Mapping[str, object]
) -> str:
    try:
        return environment.get_template(name).render(context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"cannot render template {name}: {exc}") from exc


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RenderError(f"unknown timezone {name!r}") from exc


def format_time(moment: datetime, zone: ZoneInfo) -> str:
    """Format ``moment`` in ``zone`` like ``Tue 2 Sep, 09:14 CEST``."""
    local = moment.astimezone(zone)
    weekday, month = _WEEKDAYS[local.weekday()], _MONTHS[local.month - 1]
    return f"{weekday} {local.day} {month}, {local:%H:%M} {local.tzname()}"


def _section_context(
    section: TopicSection,
    view: DigestView,
    zone: ZoneInfo,
    feedback_links: FeedbackLinks | None = None,
) -> SectionContext:
    return SectionContext(
        topic=section.topic,
        title=section.title,
        entries=tuple(
            _entry_context(entry, view, zone, feedback_links) for entry in section.entries
        ),
    )


def _entry_context(
    entry: DigestEntry,
    view: DigestView,
    zone: ZoneInfo,
    feedback_links: FeedbackLinks | None = None,
) -> EntryContext:
    item = entry.item.item
    matches = _digest_matches(entry, view)
    hits = [hit for match in matches for hit in match.hits]
    title = highlight(item.title, _ranges(hits, TITLE_FIELDS), limit=TITLE_LIMIT)
    if item.title.strip():
        title_parts = title
    else:
        title_parts = (TextPart(truncate(normalize_text(item.url or "(untitled)"), TITLE_LIMIT)),)
    snippet = snippet_parts(item, hits)
    return EntryContext(
        title=title_parts,
        title_text="".join(part.text for part in title_parts),
        url=safe_link(item.url),
        feed_title=truncate(normalize_text(entry.item.feed_title), TITLE_LIMIT),
        published=format_time(entry.sort_time, zone),
        snippet=snippet,
        snippet_text="".join(part.text for part in snippet),
        other_topics=tuple(view.topic_title(topic) for topic in entry.other_topics),
        also_reported_by=tuple(
            LinkContext(
                label=truncate(normalize_text(source.feed_title), TITLE_LIMIT),
                url=safe_link(source.url),
                title=truncate(normalize_text(source.title), TITLE_LIMIT),
            )
            for source in entry.also_reported_by
        ),
        score=entry.score,
        feedback=tuple(
            LinkContext(
                label=label, url=url, title=f"{label} to {view.topic_title(entry.best_topic)}"
            )
            for label, url in (
                feedback_links(entry.item.id, entry.best_topic) if feedback_links else ()
            )
        ),
        matched=_matched_topics(entry, matches, view),
    )


def _matched_topics(
    entry: DigestEntry, matches: Sequence[TopicMatch], view: DigestView
) -> tuple[MatchedTopic, ...]:
    """The entry's topics, best first, each with the distinct terms that matched."""
    terms: dict[str, dict[str, None]] = {}
    for match in matches:
        found = terms.setdefault(match.topic, {})
        for hit in sorted(match.hits, key=lambda hit: (hit.field != "title", hit.start)):
            found.setdefault(normalize_text(hit.term), None)
    return tuple(
        MatchedTopic(title=view.topic_title(topic), terms=tuple(terms.get(topic, {}))[:8])
        for topic in (entry.best_topic, *entry.other_topics)
    )


def snippet_parts(item: Item, hits: Iterable[Hit]) -> tuple[TextPart, ...]:
    """An item's excerpt with its hits highlighted: the summary, else the article text,
    else the text of the feed's HTML. Every output (email, Atom) shows the same one."""
    if item.summary.strip():
        return highlight(item.summary, _ranges(hits, SUMMARY_FIELDS), limit=SNIPPET_LIMIT)
    if item.content_text.strip():
        return highlight(item.content_text, _ranges(hits, CONTENT_FIELDS), limit=SNIPPET_LIMIT)
    if item.content_html.strip():
        return (TextPart(truncate(text_from_html(item.content_html), SNIPPET_LIMIT)),)
    return ()


def _digest_matches(entry: DigestEntry, view: DigestView) -> list[TopicMatch]:
    """The entry's matches that put it in this digest (its best and other topics)."""
    wanted = {entry.best_topic, *entry.other_topics}
    return [
        match
        for match in entry.item.matches
        if match.topic in wanted and match.score >= view.digest.min_score
    ]


def _ranges(hits: Iterable[Hit], fields: frozenset[str]) -> list[tuple[int, int]]:
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


# --- the message -----------------------------------------------------------------------------


def make_message_id(run_id: int, digest_name: str, domain: str) -> str:
    """The Message-ID of a digest run, the same every time the run is (re)sent.

    Receivers and the outbox use it to recognise a re-send of the same digest.
    """
    for part in (digest_name, domain):
        if not _MESSAGE_ID_PART.match(part):
            raise ValueError(f"{part!r} cannot be part of a Message-ID")
    return f"<digest-{run_id}.{digest_name}@{domain}>"


def build_message(
    rendered: RenderedDigest,
    *,
    sender: str,
    recipients: Sequence[str],
    message_id: str,
    date: datetime,
) -> EmailMessage:
    """Wrap a rendered digest in a multipart/alternative message (text, then HTML; UTF-8).

    Besides From, To, Subject, Date and Message-ID, the message says it was
    generated automatically (``Auto-Submitted``, RFC 3834, so auto-responders
    stay quiet) and which digest it is (``X-Watcher-Digest``, like a List-Id,
    for mail filters).

    Raises RenderError if a header value is unusable (e.g. a recipient
    with a line break, or a naive ``date``).
    """
    if not recipients:
        raise RenderError("a digest message needs at least one recipient")
    if date.tzinfo is None:
        raise RenderError("the message date must be timezone-aware")
    message = EmailMessage(policy=email.policy.default)
    try:
        message["From"] = sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = clean_header_text(rendered.subject, SUBJECT_LIMIT)
        message["Date"] = email.utils.format_datetime(date)
        message["Message-ID"] = message_id
        message["Auto-Submitted"] = "auto-generated"
        if rendered.digest_name:
            message["X-Watcher-Digest"] = rendered.digest_name
    except (ValueError, TypeError, IndexError) as exc:
        raise RenderError(f"cannot build the digest message headers: {exc}") from exc
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message


# --- JSON preview ----------------------------------------------------------------------------


def digest_as_json(view: DigestView) -> dict[str, JsonValue]:
    """The view as JSON-ready data, for ``watcher digest preview --format json``.

    Item fields are the raw stored values (not truncated or escaped); the
    consumer escapes them for its own output.
    """
    counts = view.topic_counts()
    topics: list[JsonValue] = []
    for section in view.sections:
        items: list[JsonValue] = [_entry_as_json(entry, view) for entry in section.entries]
        topics.append(
            {
                "topic": section.topic,
                "title": section.title,
                "count": counts.get(section.topic, 0),
                "items": items,
            }
        )
    return {
        "digest": view.digest.name,
        "title": view.digest.display_title,
        "generated_at": view.generated_at.isoformat(),
        "timezone": view.digest.timezone,
        "total": view.total,
        "omitted": view.omitted,
        "topics": topics,
    }


def _entry_as_json(entry: DigestEntry, view: DigestView) -> JsonValue:
    item = entry.item.item
    terms: list[str] = []
    for match in _digest_matches(entry, view):
        for hit in match.hits:
            if hit.term not in terms:
                terms.append(hit.term)
    published = item.published.isoformat() if item.published else None
    return {
        "id": entry.item.id,
        "title": item.title,
        "url": item.url,
        "feed": item.feed,
        "feed_title": entry.item.feed_title,
        "published": published,
        "fetched_at": entry.item.fetched_at.isoformat(),
        "score": entry.score,
        "matched_terms": list[JsonValue](terms),
        "other_topics": list[JsonValue](entry.other_topics),
        "also_reported_by": [
            {"feed_title": source.feed_title, "url": source.url, "title": source.title}
            for source in entry.also_reported_by
        ],
    }
