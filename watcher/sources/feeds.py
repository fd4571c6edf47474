"""Fetched bytes -> ``ParsedFeed`` of normalized ``Item``s.

RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 go through feedparser; JSON Feed 1.0/1.1
(https://www.jsonfeed.org/version/1.1/) through a small reader of our own.
Either way every entry becomes an ``Item`` with an absolute, de-tracked URL,
plain-text title and summary, UTC datetimes, a stable ``key`` and a
``content_hash`` that changes when the entry is edited.

Raises ``ParseError`` only when the bytes are not a feed at all (empty, an HTML
page, broken JSON) or are built to hurt the parser; a broken feed that still
yields entries is returned with ``bozo_reason`` set.

Hostile XML is refused before feedparser sees it (``xml_hazard``), because
measurements showed feedparser does not bound it: its fallback "loose" parser
expands the entity declarations it deems safe without any limit (a 170 KB feed
declaring one 50 KB entity and using it 20,000 times took 134 s and 11 GB), and
its handlers are superlinear in nesting depth (200,000 levels: 37 s) and in
attributes per element (300,000: minutes). Expat itself (>= 2.4) already stops
billion laughs and does not read external entities; we refuse entity
declarations outright anyway, as defusedxml does.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import feedparser
import feedparser.encodings

from watcher.exceptions import ParseError
from watcher.models import Item
from watcher.sources.advertised import discover_feeds
from watcher.urls import clean_url

# Bounds memory and work for a feed that lists its whole archive.
MAX_ITEMS_PER_FEED = 1000
# Limits for hostile XML (see xml_hazard). Real feeds nest about ten deep (Atom
# XHTML content a few more); libxml2 refuses more than 256 levels by default too.
MAX_XML_DEPTH = 256
MAX_TAG_BYTES = 64 * 1024
MAX_ATTRIBUTES = 1024
# Internal entities are allowed only as short literals (feeds use them for a
# tag: URI prefix or &nbsp;), few of them, and expanding to little text in all.
MAX_ENTITIES = 32
MAX_ENTITY_EXPANSION_BYTES = 1024 * 1024

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
_JSON_FEED_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
# RSS 1.0 Syndication module (web.resource.org/rss/1.0/modules/syndication/):
# the feed updates updateFrequency times per updatePeriod.
_SYNDICATION_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's own fields and its items, in document order, without duplicate keys.

    ``ttl`` comes from RSS ``<ttl>`` (minutes); ``update_period`` from the
    Syndication module (``sy:updatePeriod`` / ``sy:updateFrequency``): both are
    hints for the scheduler, None when absent or unusable.
    """

    title: str | None
    link: str | None
    items: tuple[Item, ...]
    bozo_reason: str | None
    ttl: timedelta | None
    update_period: timedelta | None


def parse_feed(body: bytes, *, feed: str, url: str, headers: Mapping[str, str]) -> ParsedFeed:
    """Parse a fetched body into items belonging to the feed named ``feed``.

    ``url`` is the URL the body came from (the base for relative links);
    ``headers`` are the response headers (lower-cased keys), so a declared
    charset, Content-Location and Content-Language are honoured.

    Raises ParseError when the body is empty, is not a feed (an HTML page, say)
    or is a JSON document that is not a valid JSON Feed.
    """
    lowered_headers = {name.lower(): value for name, value in headers.items()}
    if not body.strip():
        raise ParseError(f"{url}: empty body, not a feed")
    if _looks_like_json(body):
        return _parse_json_feed(body, feed=feed, url=url)
    return _parse_xml_feed(body, feed=feed, url=url, headers=lowered_headers)


def _advertised_feed(body: bytes, url: str) -> str | None:
    """The first feed an HTML page points at (``<link rel=alternate>``, feed-like links)."""
    found = discover_feeds(body, page_url=url)
    return found[0].url if found else None


def xml_hazard(body: bytes, headers: Mapping[str, str]) -> str | None:
    """Why an XML body is refused before parsing, or None when it may be parsed.

    Refused: an entity declaration (outside CDATA and comments) other than a
    short literal, external entities (XXE, CWE-611) and parameter entities
    included; more than MAX_ENTITIES of them, or references that would expand to
    more than MAX_ENTITY_EXPANSION_BYTES (entity expansion: CVE-2003-1564
    "billion laughs" and its quadratic variant); elements nested deeper than
    MAX_XML_DEPTH, a tag longer
    than MAX_TAG_BYTES or with more than MAX_ATTRIBUTES attributes. The body is
    scanned as feedparser will parse it, after its conversion to UTF-8, so a
    UTF-16 or EBCDIC document cannot hide a declaration. One regular-expression
    pass: linear in the body, which fetch has already capped in size.
    """
    converted = feedparser.encodings.convert_to_utf8(dict(headers), body, {})
    data = converted if isinstance(converted, bytes) else body
    # Open elements, innermost last. An end tag closes back to its own start tag,
    # as an HTML parser would, so raw HTML with unclosed <p>s inside a malformed
    # RSS description is not mistaken for deep nesting.
    open_elements: list[bytes] = []
    entities: dict[bytes, int] = {}
    for markup in _MARKUP.finditer(data):
        if markup.group("entity"):
            literal = _LITERAL_ENTITY.match(data, markup.start())
            if literal is None:
                return (
                    "it declares an XML entity that is not a short literal "
                    "(external, parameter, nested or over 64 bytes)"
                )
            entities[literal.group("name")] = len(literal.group("value"))
            if len(entities) > MAX_ENTITIES:
                return f"it declares more than {MAX_ENTITIES} XML entities"
            continue
        name = markup.group("name")
        if name is None:
            continue  # CDATA or a comment: text, not markup
        attributes = markup.group("attributes")
        if len(attributes) > MAX_TAG_BYTES:
            return f"a <{_tag_name(name)}> tag is longer than {MAX_TAG_BYTES} bytes"
        if attributes.count(b"=") > MAX_ATTRIBUTES:
            return f"a <{_tag_name(name)}> tag has more than {MAX_ATTRIBUTES} attributes"
        name = name.lower()
        if markup.group("end"):
            if name in open_elements:
                del open_elements[len(open_elements) - 1 - open_elements[::-1].index(name) :]
        elif not attributes.endswith(b"/") and name not in _VOID_ELEMENTS:
            open_elements.append(name)
            if len(open_elements) > MAX_XML_DEPTH:
                return f"elements are nested more than {MAX_XML_DEPTH} deep"
    expansion = sum(data.count(b"&" + name + b";") * size for name, size in entities.items())
    if expansion > MAX_ENTITY_EXPANSION_BYTES:
        return f"its XML entities would expand to more than {MAX_ENTITY_EXPANSION_BYTES} bytes"
    return None


# CDATA and comments are matched whole so the markup-like text inside them is
# skipped; a tag's attributes stop at "<" (never legal inside an XML attribute
# value) so an unclosed "<a" cannot make the scan quadratic.
_MARKUP = re.compile(
    rb"<!\[CDATA\[.*?(?:\]\]>|\Z)"
    rb"|<!--.*?(?:-->|\Z)"
    rb"|(?P<entity><!ENTITY)"
    rb"|<(?P<end>/?)(?P<name>[A-Za-z_][^\s/<>]*)(?P<attributes>[^<>]*)",
    re.DOTALL | re.IGNORECASE,
)
# A declaration feedparser would keep (its "safe" pattern) and no longer than
# 64 bytes: literal text, or character references, never another entity.
_LITERAL_ENTITY = re.compile(
    rb"<!ENTITY\s+(?P<name>[A-Za-z_][\w.-]*)\s+"
    rb"(?P<quote>[\"'])(?P<value>(?:&#[0-9]+;|&#x[0-9a-f]+;|[^\"'&%<]){0,64})(?P=quote)\s*>",
    re.IGNORECASE,
)
# HTML elements that never have an end tag: raw HTML in a malformed RSS
# description (parsed by feedparser's loose parser) must not count as nesting.
_VOID_ELEMENTS = frozenset(
    {
        b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link",
        b"meta", b"param", b"source", b"track", b"wbr",
    }
)  # fmt: skip


def _tag_name(name: bytes) -> str:
    return name[:40].decode("utf-8", "replace")


def item_key(guid: str | None, link: str | None, title: str, published: datetime | None) -> str:
    """An entry's identity within its feed.

    The guid/id when the feed gives a non-empty one; else the cleaned link; else
    ``"sha256:"`` + a hash of the title and publication date (so two undated
    entries with the same title are one item, as a reader would see them).
    """
    if guid and guid.strip():
        return guid.strip()
    if link and link.strip():
        return clean_url(link)
    stamp = published.isoformat() if published else ""
    digest = hashlib.sha256(f"{title}\x00{stamp}".encode()).hexdigest()
    return f"sha256:{digest}"


def content_hash(title: str, summary: str, content_text: str) -> str:
    """sha256 hex of the parts a reader sees, so an edited entry hashes differently."""
    hasher = hashlib.sha256()
    for part in (title, summary, content_text):
        encoded = part.encode()
        # Length-prefix each part so moving text between fields changes the hash.
        hasher.update(len(encoded).to_bytes(8, "big"))
        hasher.update(encoded)
    return hasher.hexdigest()


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, one line per block element."""

    # Elements whose contents are never text a reader sees.
    SKIPPED = frozenset({"script", "style", "template", "head", "title"})
    # Elements that start a new line of text.
    BLOCKS = frozenset(
        {
            "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
            "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
            "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
            "td", "th", "tr", "ul",
        }
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping.append(tag)
        elif tag in self.BLOCKS:
            self.pieces.append("\n")
        elif tag in ("td", "th"):
            self.pieces.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and tag == self._skipping[-1]:
            self._skipping.pop()
        elif tag in self.BLOCKS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.pieces.append(data)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded, script/style dropped.

    Block elements (p, div, li, br, headings, ...) become line breaks; runs of
    whitespace inside a line become one space; blank lines are dropped. Never
    raises on malformed HTML.
    """
    if "<" not in markup and "&" not in markup:
        return _collapse_lines(markup)
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return _collapse_lines("".join(extractor.pieces))


def _collapse_lines(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- RSS and Atom (feedparser) ------------------------------------------------------------


class _StandInBase:
    """The feed's base URL with its origin swapped for a reserved one while parsing.

    feedparser resolves every relative URI against the base, including an RSS guid
    without ``isPermaLink="false"`` ("12345" becomes ``https://site/feed/12345``),
    so an item's identity would change when its feed moves to https or another
    host and every item would come back as new. Parsing against a stand-in origin
    (``.invalid`` is reserved, RFC 2606) tells resolved-relative from absolute: a
    relative guid or link keys the item by its path, and every stand-in URL is
    given the real origin back for display.
    """

    ORIGIN = "https://feed-base.invalid"

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.real_origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
        self.base = urlunsplit(("https", "feed-base.invalid", parts.path or "/", parts.query, ""))

    def is_relative(self, value: str) -> bool:
        return value.startswith(self.ORIGIN + "/")

    def restore(self, value: str) -> str:
        """``value`` with the stand-in origin replaced by the real one (anywhere in it)."""
        return value.replace(self.ORIGIN, self.real_origin) if self.real_origin else value

    def key(self, value: str) -> str:
        """An identity that does not depend on the feed's scheme and host."""
        return value[len(self.ORIGIN) :] if self.is_relative(value) else value


def _parse_xml_feed(body: bytes, *, feed: str, url: str, headers: Mapping[str, str]) -> ParsedFeed:
    response_headers = dict(headers)
    # feedparser takes its base URI from Content-Location (a relative one is
    # resolved against the request URL, RFC 9110 §8.7) when parsing from bytes.
    location = response_headers.get("content-location", "").strip()
    stand_in = _StandInBase(clean_url(location, base=url) if location else url)
    response_headers["content-location"] = stand_in.base
    # Without a Content-Type (a local file, a careless server) feedparser flags
    # the feed bozo; application/xml means "trust the XML declaration" (RFC 7303
    # §8.5), which is what it does anyway.
    response_headers.setdefault("content-type", "application/xml")
    hazard = xml_hazard(body, response_headers)
    if hazard:
        raise ParseError(f"{url}: refused to parse: {hazard}")
    # Pass a stream, never bytes: feedparser treats a bytes/str argument that
    # names an existing path as a file to open.
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=response_headers,
        resolve_relative_uris=True,
        # Item.content_html keeps the feed's HTML as served; the digest
        # sanitizes (nh3) on output, with the allow-list our templates need.
        sanitize_html=False,
    )
    entries: list[Any] = parsed.get("entries") or []
    bozo_reason = _one_line(str(parsed.get("bozo_exception")))[:300] if parsed.get("bozo") else None
    if not parsed.get("version") and not entries:
        content_type = headers.get("content-type", "no content type")
        advertised = _advertised_feed(body, url) if "html" in content_type.lower() else None
        if advertised is not None:
            raise ParseError(
                f"{url}: a web page, not a feed; it advertises the feed {advertised}: "
                f"`watcher feeds add {advertised}` adds it (then remove this entry)"
            )
        detail = f": {bozo_reason}" if bozo_reason else ""
        raise ParseError(
            f"{url}: not an RSS, Atom or JSON feed ({content_type}, no feed elements found{detail})"
        )
    channel = parsed.get("feed") or {}
    feed_language = channel.get("language") or headers.get("content-language")
    items = _unique_items(
        _item_from_entry(entry, feed=feed, base=stand_in, feed_language=feed_language)
        for entry in entries
    )
    link = channel.get("link")
    return ParsedFeed(
        title=_entry_text(channel, "title") or None,
        link=clean_url(stand_in.restore(link), base=url) if link else None,
        items=items,
        bozo_reason=bozo_reason,
        ttl=_minutes(channel.get("ttl")),
        update_period=_syndication_period(
            channel.get("sy_updateperiod"), channel.get("sy_updatefrequency")
        ),
    )


def _item_from_entry(
    entry: dict[str, Any], *, feed: str, base: _StandInBase, feed_language: str | None
) -> Item:
    title = _entry_text(entry, "title")
    summary_html = base.restore(
        _as_html(entry.get("summary_detail") or {}, entry.get("summary", ""))
    )
    # Only real content (content:encoded, Atom content): a copy of the summary would
    # be stored, tokenized and searched twice for nothing.
    content_html = base.restore(_richest_content(entry.get("content") or []))
    summary = html_to_text(summary_html)
    content_text = html_to_text(content_html)
    link = entry.get("link")
    url = clean_url(base.restore(link)) if link else None
    raw_id = entry.get("id")
    guid = base.key(raw_id) if isinstance(raw_id, str) else None
    link_key = base.key(clean_url(link)) if link else None
    # dict.get: FeedParserDict.get("updated_parsed") falls back to the published
    # date with a DeprecationWarning; we want the feed's own updated date or None.
    published = _utc(dict.get(entry, "published_parsed"))
    updated = _utc(dict.get(entry, "updated_parsed"))
    return Item(
        feed=feed,
        key=item_key(guid, link_key, title, published or updated),
        url=url,
        title=title,
        summary=summary,
        content_html=content_html,
        content_text=content_text,
        author=_author(entry),
        tags=_unique(
            _one_line(str(tag.get("term") or tag.get("label") or ""))
            for tag in entry.get("tags") or []
        ),
        published=published,
        updated=updated,
        language=_entry_language(entry) or feed_language,
        content_hash=content_hash(title, summary, content_text),
    )


def _entry_text(node: Mapping[str, Any], name: str) -> str:
    """A title-like field as one line of plain text, whatever its declared type."""
    value = node.get(name)
    if not value:
        return ""
    detail = node.get(f"{name}_detail") or {}
    if str(detail.get("type", "")).lower() in _HTML_TYPES:
        return _one_line(html_to_text(str(value)))
    return _one_line(str(value))


def _as_html(detail: Mapping[str, Any], value: str) -> str:
    """Content as HTML: plain-text content is escaped so it reads the same as markup."""
    if not value:
        return ""
    if str(detail.get("type", "text/html")).lower() in _HTML_TYPES:
        return str(value)
    return html.escape(str(value), quote=False)


def _richest_content(contents: Iterable[Mapping[str, Any]]) -> str:
    """The longest of an entry's content alternatives (content:encoded, atom:content)."""
    candidates = [_as_html(content, str(content.get("value") or "")) for content in contents]
    return max(candidates, key=len, default="")


def _author(entry: Mapping[str, Any]) -> str:
    detail = entry.get("author_detail") or {}
    return _one_line(str(detail.get("name") or entry.get("author") or ""))


def _entry_language(entry: Mapping[str, Any]) -> str | None:
    for detail in (
        *(entry.get("content") or []),
        entry.get("summary_detail"),
        entry.get("title_detail"),
    ):
        if detail and detail.get("language"):
            return str(detail["language"])
    return None


def _utc(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's *_parsed values are UTC struct_times (it normalizes the offset)."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _minutes(value: object) -> timedelta | None:
    try:
        minutes = int(str(value).strip())
    except ValueError:
        return None
    return timedelta(minutes=minutes) if minutes > 0 else None


def _syndication_period(period: object, frequency: object) -> timedelta | None:
    if not period:
        return None
    length = _SYNDICATION_PERIODS.get(str(period).strip().lower())
    if length is None:
        return None
    try:
        # The module's default frequency is 1 (once per period).
        times = int(str(frequency).strip()) if frequency else 1
    except ValueError:
        times = 1
    return length / times if times > 0 else length


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value for value in values if value))


def _unique_items(items: Iterator[Item]) -> tuple[Item, ...]:
    """First item per key, in document order, at most MAX_ITEMS_PER_FEED of them."""
    kept: dict[str, Item] = {}
    for item in items:
        if len(kept) >= MAX_ITEMS_PER_FEED:
            break
        kept.setdefault(item.key, item)
    return tuple(kept.values())


# --- JSON Feed ----------------------------------------------------------------------------


def _looks_like_json(body: bytes) -> bool:
    """A feed body that opens with ``{`` can only be JSON (XML opens with ``<``)."""
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _parse_json_feed(body: bytes, *, feed: str, url: str) -> ParsedFeed:
    try:
        # RFC 8259 §8.1: JSON is UTF-8; tolerate a byte order mark.
        document = json.loads(body.decode("utf-8-sig"))
    except RecursionError as exc:  # arrays or objects nested ~1000 deep
        raise ParseError(f"{url}: invalid JSON Feed: nested too deeply") from exc
    except ValueError as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors; so is a number
        # of more than 4300 digits (int limit against CVE-2020-10735).
        raise ParseError(f"{url}: invalid JSON Feed: {_one_line(str(exc))[:300]}") from exc
    if not isinstance(document, dict):
        raise ParseError(f"{url}: invalid JSON Feed: top level is not an object")
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(_JSON_FEED_VERSION_PREFIXES):
        raise ParseError(f"{url}: JSON but not a JSON Feed (no jsonfeed.org version)")
    entries = document.get("items")
    if not isinstance(entries, list):
        raise ParseError(f"{url}: invalid JSON Feed: 'items' is not a list")
    feed_language = _string(document.get("language")) or None
    home = _string(document.get("home_page_url"))
    items = _unique_items(
        _item_from_json(entry, feed=feed, base=url, feed_language=feed_language)
        for entry in entries
        if isinstance(entry, dict)
    )
    return ParsedFeed(
        title=_one_line(_string(document.get("title"))) or None,
        link=clean_url(home, base=url) if home else None,
        items=items,
        bozo_reason=None,
        ttl=None,
        update_period=None,
    )


def _item_from_json(
    entry: Mapping[str, Any], *, feed: str, base: str, feed_language: str | None
) -> Item:
    # JSON Feed 1.1: id is a string, but 1.0 feeds in the wild use numbers.
    raw_id = entry.get("id")
    guid = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    link = _string(entry.get("url")) or _string(entry.get("external_url"))
    url = clean_url(link, base=base) if link else None
    title = _one_line(_string(entry.get("title")))
    content_html = _string(entry.get("content_html"))
    plain_content = _string(entry.get("content_text"))
    if not content_html and plain_content:
        content_html = html.escape(plain_content, quote=False).replace("\n", "<br>\n")
    content_text = html_to_text(content_html) if content_html else ""
    summary = _collapse_lines(_string(entry.get("summary")))
    published = _json_datetime(entry.get("date_published"))
    updated = _json_datetime(entry.get("date_modified"))
    tags = entry.get("tags")
    return Item(
        feed=feed,
        key=item_key(guid, url, title, published or updated),
        url=url,
        title=title,
        summary=summary,
        content_html=content_html,
        content_text=content_text,
        author=_json_author(entry),
        tags=_unique(_one_line(tag) for tag in tags if isinstance(tag, str))
        if isinstance(tags, list)
        else (),
        published=published,
        updated=updated,
        language=_string(entry.get("language")) or feed_language,
        content_hash=content_hash(title, summary, content_text),
    )


def _json_author(entry: Mapping[str, Any]) -> str:
    # Version 1.1 has "authors" (a list); 1.0 had a single "author".
    authors = entry.get("authors")
    candidates = authors if isinstance(authors, list) else [entry.get("author")]
    names = [
        _one_line(_string(author.get("name"))) for author in candidates if isinstance(author, dict)
    ]
    return ", ".join(name for name in names if name)


def _json_datetime(value: object) -> datetime | None:
    """An RFC 3339 date-time (JSON Feed's date format) as aware UTC, else None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:  # RFC 3339 requires an offset; assume UTC when it is missing
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""
