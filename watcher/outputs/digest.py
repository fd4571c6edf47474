"""Render a digest: the templates in ``templates/`` (Jinja2, HTML and text), the
subject, the MIME message for ``deliver`` and the JSON form. What the digest
shows is decided in ``watcher.outputs.view``; this only renders it.

Jinja2 and css_inline are imported on first render, not with this module: every
`watcher poll --once` imports the sender, and most send nothing (issue #18).
``check_renderer_installed`` tells a process that may send, at its start, when
either is missing, rather than at its first digest.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watcher.exceptions import RenderError
from watcher.models import JsonValue, TopicMatch
from watcher.outputs.sanitize import clean_header_text, normalize_text, safe_link, truncate
from watcher.outputs.view import (
    TITLE_FIELDS,
    DigestEntry,
    DigestView,
    TextPart,
    TopicSection,
    field_ranges,
    highlight,
    snippet_parts,
)

if TYPE_CHECKING:
    import jinja2

SUBJECT_LIMIT = 200


TITLE_LIMIT = 300


HTML_TEMPLATE = "digest.html"


TEXT_TEMPLATE = "digest.txt"


# English names, not strftime's %a/%b, so the output does not depend on the
# process locale.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


_MESSAGE_ID_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


@dataclass(frozen=True)
class RenderedDigest:
    """A rendered digest: a header-safe subject, the HTML body (CSS inlined) and a text body.

    ``digest_name`` says which digest it is, for the message's X-Watcher-Digest header.
    """

    subject: str
    html: str
    text: str
    digest_name: str = ""


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

# The libraries rendering imports on first use.
RENDER_LIBRARIES = ("jinja2", "css_inline")


def check_renderer_installed() -> None:
    """Raise ModuleNotFoundError if a library rendering needs is not installed.

    For a process that may send digests, at its start: rendering imports them on
    first use, which can come hours into a daemon's run or after a poll's fetches.
    Finding a module does not import it (a fraction of a millisecond each).
    """
    for name in RENDER_LIBRARIES:
        if find_spec(name) is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


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
    import css_inline

    try:
        inlined = css_inline.inline(html_body, load_remote_stylesheets=False)
    except css_inline.InlineError as exc:
        raise RenderError(f"cannot inline the digest's CSS: {exc}") from exc
    return RenderedDigest(
        subject=subject, html=inlined, text=text_body, digest_name=view.digest.name
    )


def render_subject(template: str, **variables: object) -> str:
    """Render a subject template (a Jinja string) and make it safe for the Subject header."""
    import jinja2

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
    import jinja2

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
    import jinja2

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
    title = highlight(item.title, field_ranges(hits, TITLE_FIELDS), limit=TITLE_LIMIT)
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


def _digest_matches(entry: DigestEntry, view: DigestView) -> list[TopicMatch]:
    """The entry's matches that put it in this digest (its best and other topics)."""
    wanted = {entry.best_topic, *entry.other_topics}
    return [
        match
        for match in entry.item.matches
        if match.topic in wanted and match.score >= view.digest.min_score
    ]


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
