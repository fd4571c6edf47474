"""Fetched bytes -> ``ParsedFeed`` of normalized ``Item``s.

RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 go through feedparser; JSON Feed 1.0/1.1
(https://www.jsonfeed.org/version/1.1/) through a small reader of our own.
Either way every entry becomes an ``Item`` with an absolute, de-tracked URL,
plain-text title and summary, UTC datetimes, a stable ``key`` and a
``content_hash`` that changes when the entry is edited.

Raises ``ParseError`` only when the bytes are not a feed at all (empty, an HTML
page, broken JSON) or are built to hurt the parser; a broken feed that still
yields entries is returned with ``bozo_reason`` set.

Hostile XML is refused before feedparser sees it (watcher/sources/hazards.py);
every item's fields are capped at parse time (watcher/sources/itemcaps.py).

    feeditems  ParsedFeed, item identity and hash, HTML -> text (both formats)
    feedentries  one entry -> Item, and which entries a parse keeps
    rawentries   entries seen at the last parse, cut out before feedparser reads them
    jsonfeed   JSON Feed;  hazards  the XML pre-scan;  hints  ttl, sy:update*
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import feedparser
import feedparser.api
import feedparser.encodings

from watcher.exceptions import ParseError
from watcher.sources.feedbase import StandInBase
from watcher.sources.feedentries import entry_text, kept_normalized_entries, kept_raw_entries
from watcher.sources.feeditems import (
    MAX_ITEMS_PER_FEED,
    ParsedFeed,
    content_hash,
    entry_context,
    html_to_text,
    item_key,
    one_line,
)
from watcher.sources.hazards import (
    MAX_ATTRIBUTES,
    MAX_ENTITIES,
    MAX_ENTITY_EXPANSION_BYTES,
    MAX_TAG_BYTES,
    MAX_XML_DEPTH,
    xml_hazard,
)
from watcher.sources.hints import parse_syndication_period, parse_ttl
from watcher.sources.itemcaps import MAX_TITLE_CHARS, MAX_URL_CHARS
from watcher.sources.jsonfeed import looks_like_json, parse_json_feed
from watcher.sources.rawentries import (
    NOTHING_SEEN,
    SeenEntries,
    context_token,
    find_raw_entries,
    raw_digest,
    without_spans,
)
from watcher.urls import clean_url

# Importable from here, where the rest of the code has always found them.
__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_ENTITIES",
    "MAX_ENTITY_EXPANSION_BYTES",
    "MAX_ITEMS_PER_FEED",
    "MAX_TAG_BYTES",
    "MAX_XML_DEPTH",
    "ParsedFeed",
    "content_hash",
    "html_to_text",
    "item_key",
    "parse_feed",
    "xml_hazard",
]


def parse_feed(
    body: bytes,
    *,
    feed: str,
    url: str,
    headers: Mapping[str, str],
    seen_entries: frozenset[str] = frozenset(),
) -> ParsedFeed:
    """Parse a fetched body into items belonging to the feed named ``feed``.

    ``url`` is the URL the body came from (the base for relative links);
    ``headers`` are the response headers (lower-cased keys), so a declared
    charset, Content-Location and Content-Language are honoured.
    ``seen_entries`` are the ``entry_digests`` of the source's last stored parse:
    an RSS or Atom entry whose digest is among them is counted as unchanged and
    not normalized (its item is stored as it was then).

    Raises ParseError when the body is empty, is not a feed (an HTML page, say)
    or is a JSON document that is not a valid JSON Feed.
    """
    lowered_headers = {name.lower(): value for name, value in headers.items()}
    if not body.strip():
        raise ParseError(f"{url}: empty body, not a feed")
    if looks_like_json(body):
        return parse_json_feed(body, feed=feed, url=url)
    return _parse_xml_feed(
        body, feed=feed, url=url, headers=lowered_headers, seen_entries=seen_entries
    )


def _advertised_feed(body: bytes, url: str) -> str | None:
    """The first feed an HTML page points at (``<link rel=alternate>``, feed-like links)."""
    # Imported here, on this error path: it brings lxml and cssselect, which no worker
    # process parsing feeds otherwise needs (about 20 ms and 6 MB each).
    from watcher.sources.advertised import discover_feeds

    found = discover_feeds(body, page_url=url)
    return found[0].url if found else None


# --- RSS and Atom (feedparser) ------------------------------------------------------------

# feedparser asks xml.sax for libxml2's SAX driver first ("drv_libxml2", from the
# libxml2 package's own Python bindings) and takes expat when it is missing.
# Expat always: the hazard checks (hazards.py) and the entries cut out before
# feedparser reads (rawentries.py) are made for what expat reads, which libxml2
# would read otherwise on a machine that has it; and asking for the missing
# driver was a failed import per parse, taken under the import lock by every
# polling thread (0.5 ms of CPU a parse, issue #18).
feedparser.api.PREFERRED_XML_PARSERS = ["xml.sax.expatreader"]


def _parse_xml_feed(
    body: bytes,
    *,
    feed: str,
    url: str,
    headers: Mapping[str, str],
    seen_entries: frozenset[str],
) -> ParsedFeed:
    response_headers = dict(headers)
    # feedparser takes its base URI from Content-Location (a relative one is
    # resolved against the request URL, RFC 9110 §8.7) when parsing from bytes.
    location = response_headers.get("content-location", "").strip()
    stand_in = StandInBase(clean_url(location, base=url) if location else url)
    response_headers["content-location"] = stand_in.base
    # Without a Content-Type (a local file, a careless server) feedparser flags
    # the feed bozo; application/xml means "trust the XML declaration" (RFC 7303
    # §8.5), which is what it does anyway.
    response_headers.setdefault("content-type", "application/xml")
    reading: dict[str, Any] = {}
    converted = feedparser.encodings.convert_to_utf8(dict(response_headers), body, reading)
    response_headers["content-location"] = stand_in.feedparser_base(
        converted if isinstance(converted, bytes) else body
    )
    # What the entries' items depend on besides their own bytes, known before parsing.
    raw = find_raw_entries(body)
    frame = entry_context(
        feed,
        stand_in.base,
        stand_in.real_origin,
        str(stand_in.links_deferred),
        str(stand_in.guids_deferred),
        response_headers["content-type"],
        str(headers.get("content-language")),
        raw.frame if raw is not None else "",
    )
    spans = raw.spans if raw is not None else ()
    digests = [raw_digest(frame, body[start:end]) for start, end in spans]
    seen = SeenEntries.from_tokens(seen_entries) if raw is not None else NOTHING_SEEN
    skipped = [span for span, digest in zip(spans, digests, strict=True) if digest in seen.entries]
    # Only what feedparser will read is scanned for hazards: expat has read the
    # entries cut out, and it is safe on them (see find_raw_entries). When both
    # read the document as UTF-8, expat has checked it all already.
    checked = raw is not None and raw.utf8 and reading.get("encoding") == "utf-8"
    document = without_spans(body, skipped) if skipped else body
    read = _read(document, response_headers, url, checked=checked)
    context = context_token(frame, read.feed_language)
    if skipped and (
        context != seen.context
        or len(read.entries) != len(digests) - len(skipped)
        or not read.parsed.get("version")
    ):
        # The channel changed what its entries mean (its language), or feedparser did
        # not find the entries expat found, or told the format by an entry (CDF):
        # read the whole document after all.
        seen, skipped = NOTHING_SEEN, []
        read = _read(body, response_headers, url, checked=checked)
    parsed, entries, channel = read.parsed, read.entries, read.channel
    bozo_reason = one_line(str(parsed.get("bozo_exception")))[:300] if parsed.get("bozo") else None
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
    language = read.feed_language
    if raw is not None and len(entries) == len(digests) - len(skipped):
        kept = kept_raw_entries(
            entries,
            digests=digests,
            seen=seen,
            context=context,
            feed=feed,
            base=stand_in,
            feed_language=language,
        )
    else:  # expat could not cut it up (feedparser read it loosely), or saw it otherwise
        kept = kept_normalized_entries(
            entries, feed=feed, base=stand_in, feed_language=language, seen=seen_entries
        )
    link = channel.get("link")
    link = link if isinstance(link, str) and len(link) <= MAX_URL_CHARS else None
    return ParsedFeed(
        title=entry_text(channel, "title")[:MAX_TITLE_CHARS] or None,
        link=clean_url(stand_in.restore(stand_in.link(link)), base=url) if link else None,
        items=tuple(kept.items),
        bozo_reason=bozo_reason,
        ttl=parse_ttl(channel.get("ttl")),
        update_period=parse_syndication_period(
            channel.get("sy_updateperiod"), channel.get("sy_updatefrequency")
        ),
        entry_digests=tuple(kept.digests),
        unchanged=kept.unchanged,
        unchanged_published=tuple(kept.unchanged_published),
    )


@dataclass(frozen=True, slots=True)
class _Read:
    parsed: Any  # feedparser's FeedParserDict
    entries: list[Any]
    channel: Any
    feed_language: str | None


def _read(document: bytes, response_headers: dict[str, str], url: str, *, checked: bool) -> _Read:
    """feedparser's reading of ``document``; ParseError when it is refused as hostile
    (unless ``checked``: its bytes are known to be within xml_hazard's limits)."""
    hazard = None if checked else xml_hazard(document, response_headers)
    if hazard:
        raise ParseError(f"{url}: refused to parse: {hazard}")
    # Pass a stream, never bytes: feedparser treats a bytes/str argument that
    # names an existing path as a file to open.
    parsed = feedparser.parse(
        io.BytesIO(document),
        response_headers=response_headers,
        # Relative links are resolved in the content we keep as HTML only
        # (feedentries._resolved_content): feedparser would re-parse every title and
        # summary too, a fifth of its time, for fields we keep only as text.
        resolve_relative_uris=False,
        # Item.content_html keeps the feed's HTML as served; the digest
        # sanitizes (nh3) on output, with the allow-list our templates need.
        sanitize_html=False,
    )
    channel = parsed.get("feed") or {}
    language = channel.get("language") or response_headers.get("content-language")
    return _Read(
        parsed=parsed,
        entries=parsed.get("entries") or [],
        channel=channel,
        feed_language=str(language) if language else None,
    )
