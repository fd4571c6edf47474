"""Matches as an Atom 1.0 feed (RFC 4287), for feed readers instead of email.

Pure: the caller hands in the entries (a digest's ``DigestEntry``s or the
store's ``StoredItem``s) and the feed's identity; ``render_atom`` returns the
document as UTF-8 bytes. ``atom_etag`` and ``conditional_response`` let the
HTTP endpoint answer a reader's conditional GET with 304 Not Modified.

What a reader gets per entry: the article's title (plain text), a link to the
article (only http and https, through ``safe_link``), the outlet's name as
``<source><title>``, the publication time, and HTML content holding the
matched-terms snippet with ``<mark>`` highlights plus the story's other
outlets ("Also reported by", also as ``rel="related"`` links). That HTML is
built here from escaped plain text; no markup a feed sent passes through.
"""

from __future__ import annotations

import hashlib
import html
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from watcher import PROJECT_URL, __version__
from watcher.models import Item, StoredItem, TopicMatch
from watcher.outputs.digest import TITLE_LIMIT
from watcher.outputs.sanitize import normalize_text, safe_link, truncate
from watcher.outputs.view import DigestEntry, SourceLink, TextPart, snippet_parts

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
ATOM_CONTENT_TYPE = "application/atom+xml; charset=utf-8"

# XML 1.0 §2.2: characters a document may contain. ElementTree writes anything
# it is given, so a NUL or lone surrogate in a feed title would make the whole
# document unreadable; such characters go before serialization.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# RFC 9110 §8.8.3: an entity tag, optionally weak, is a quoted opaque string.
_ENTITY_TAG = re.compile(r'(?:W/)?"([^"]*)"')


@dataclass(frozen=True)
class _AtomEntry:
    """One entry normalized from either kind of input."""

    stored: StoredItem
    matches: tuple[TopicMatch, ...]
    also_reported_by: tuple[SourceLink, ...]

    @property
    def sort_time(self) -> datetime:
        return self.stored.item.published or self.stored.fetched_at


def render_atom(
    *,
    feed_id: str,
    title: str,
    self_url: str,
    entries: Sequence[DigestEntry] | Sequence[StoredItem],
    updated: datetime,
    limit: int = 100,
    topics: Collection[str] | None = None,
) -> bytes:
    """Render ``entries`` as an Atom 1.0 document (UTF-8, with an XML declaration).

    ``feed_id`` is the feed's permanent IRI (e.g. ``tag:example.org,2025:topic/ports``);
    entry ids derive from it and each item's feed name and key (name-based
    ``urn:uuid``, RFC 9562 §5.5), so they stay the same across renders and
    database rebuilds. Entries are newest first (published, else fetched) and
    at most ``limit``. ``updated`` is the feed's ``<updated>``: pass the newest
    entry's time rather than the clock, so an unchanged set of matches renders
    to the same bytes and the same ETag.

    For a ``DigestEntry`` the matches that count are those of its digest
    topics; for a ``StoredItem``, those of ``topics`` (all when None). They
    decide the highlights and the ``<category>`` terms.

    Raises ValueError for a naive ``updated`` or a ``limit`` below 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    normalized = [_normalize(entry, topics) for entry in entries]
    normalized.sort(key=lambda entry: (-entry.sort_time.timestamp(), -entry.stored.id))

    feed = ET.Element("feed", {"xmlns": ATOM_NAMESPACE})
    _text_element(feed, "id", feed_id)
    _text_element(feed, "title", truncate(normalize_text(title) or "watcher", TITLE_LIMIT))
    _text_element(feed, "updated", _timestamp(updated))
    ET.SubElement(
        feed, "link", {"rel": "self", "type": "application/atom+xml", "href": _xml_text(self_url)}
    )
    # RFC 4287 §4.1.1: a feed needs an author unless every entry has one.
    author = ET.SubElement(feed, "author")
    _text_element(author, "name", "watcher")
    generator = _text_element(feed, "generator", "watcher")
    generator.set("uri", PROJECT_URL)
    generator.set("version", __version__)

    namespace = uuid.uuid5(uuid.NAMESPACE_URL, feed_id)
    for entry in normalized[:limit]:
        _entry_element(feed, entry, namespace)

    ET.indent(feed)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def atom_etag(body: bytes) -> str:
    """A strong ETag for ``body``: the same bytes always give the same tag (RFC 9110 §8.8.3)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def conditional_response(if_none_match: str | None, etag: str) -> bool:
    """Whether a GET with this If-None-Match header should get 304 Not Modified.

    RFC 9110 §13.1.2: ``*`` matches any current representation, otherwise a
    listed entity tag must equal ``etag`` by the weak comparison (a ``W/``
    prefix on either side is ignored).
    """
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = _ENTITY_TAG.fullmatch(etag.strip())
    if wanted is None:
        return False
    return wanted.group(1) in _ENTITY_TAG.findall(if_none_match)


def entry_id(namespace: uuid.UUID, item: Item) -> str:
    """The permanent Atom id of ``item`` within the feed whose id gave ``namespace``."""
    # NUL cannot occur in a feed name or item key, so the pair maps to one name.
    return uuid.uuid5(namespace, f"{item.feed}\x00{item.key}").urn


def _normalize(entry: DigestEntry | StoredItem, topics: Collection[str] | None) -> _AtomEntry:
    if isinstance(entry, DigestEntry):
        wanted: Collection[str] = {entry.best_topic, *entry.other_topics}
        matches = tuple(match for match in entry.item.matches if match.topic in wanted)
        return _AtomEntry(entry.item, matches, entry.also_reported_by)
    matches = tuple(match for match in entry.matches if topics is None or match.topic in topics)
    return _AtomEntry(entry, matches, ())


def _entry_element(feed: ET.Element, entry: _AtomEntry, namespace: uuid.UUID) -> None:
    item = entry.stored.item
    element = ET.SubElement(feed, "entry")
    _text_element(element, "id", entry_id(namespace, item))
    title = truncate(normalize_text(item.title), TITLE_LIMIT)
    if not title:
        title = truncate(normalize_text(item.url or "(untitled)"), TITLE_LIMIT)
    _text_element(element, "title", title).set("type", "text")
    link = safe_link(item.url)
    if link is not None:
        ET.SubElement(element, "link", {"rel": "alternate", "href": _xml_text(link)})
    for other in entry.also_reported_by:
        related = safe_link(other.url)
        if related is not None:
            ET.SubElement(
                element,
                "link",
                {
                    "rel": "related",
                    "href": _xml_text(related),
                    "title": _xml_text(_source_label(other)),
                },
            )
    if item.published is not None:
        _text_element(element, "published", _timestamp(item.published))
    _text_element(element, "updated", _timestamp(item.updated or entry.sort_time))
    if normalize_text(item.author):
        author = ET.SubElement(element, "author")
        _text_element(author, "name", truncate(normalize_text(item.author), TITLE_LIMIT))
    for topic in dict.fromkeys(match.topic for match in entry.matches):
        ET.SubElement(element, "category", {"term": _xml_text(topic)})

    hits = [hit for match in entry.matches for hit in match.hits]
    snippet = snippet_parts(item, hits)
    if snippet:
        summary = "".join(part.text for part in snippet)
        _text_element(element, "summary", summary).set("type", "text")
    _text_element(element, "content", _content_html(snippet, entry.also_reported_by)).set(
        "type", "html"
    )
    source = ET.SubElement(element, "source")
    feed_title = truncate(normalize_text(entry.stored.feed_title), TITLE_LIMIT) or item.feed
    _text_element(source, "title", feed_title)


def _content_html(snippet: Sequence[TextPart], also: Sequence[SourceLink]) -> str:
    """The entry's HTML: every text escaped here, every URL checked, nothing from a feed raw."""
    paragraphs: list[str] = []
    if snippet:
        # <strong> inside <mark>: readers whose sanitizers drop <mark> (feedparser's
        # does) still show the matched terms in bold.
        marked = "".join(
            f"<mark><strong>{html.escape(part.text)}</strong></mark>"
            if part.marked
            else html.escape(part.text)
            for part in snippet
        )
        paragraphs.append(f"<p>{marked}</p>")
    if also:
        links = []
        for source in also:
            label = html.escape(_source_label(source))
            url = safe_link(source.url)
            if url is None:
                links.append(label)
            else:
                title = html.escape(truncate(normalize_text(source.title), TITLE_LIMIT))
                links.append(f'<a href="{html.escape(url)}" title="{title}">{label}</a>')
        paragraphs.append(f"<p>Also reported by: {', '.join(links)}</p>")
    return "".join(paragraphs)


def _source_label(source: SourceLink) -> str:
    return truncate(normalize_text(source.feed_title) or "another outlet", TITLE_LIMIT)


def _text_element(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = _xml_text(text)
    return element


def _xml_text(text: str) -> str:
    return _NOT_XML_CHAR.sub("", text)


def _timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC (RFC 4287 §3.3), e.g. ``2025-09-02T07:30:00Z``."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} is naive; Atom times need a timezone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
