"""One RSS or Atom entry (as feedparser gives it) -> ``Item``, and which entries of a
document a parse keeps: the first per key, at most MAX_ITEMS_PER_FEED, those seen at
the source's last stored parse counted rather than normalized again.

Two ways to have seen an entry (watcher/sources/feeds.py picks one per document):
its raw bytes (watcher/sources/rawentries.py; feedparser never read it) or, for a
document expat cannot cut up, the digest of feedparser's entry.
"""

from __future__ import annotations

import calendar
import html
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser.urls

from watcher.models import Item
from watcher.sources.feedbase import StandInBase
from watcher.sources.feeditems import (
    MAX_ITEMS_PER_FEED,
    content_hash,
    entry_context,
    entry_digest,
    html_to_text,
    item_key,
    one_line,
    reference_key,
)
from watcher.sources.itemcaps import (
    MAX_AUTHOR_CHARS,
    MAX_CONTENT_HTML_CHARS,
    MAX_CONTENT_TEXT_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TAG_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    FieldCutter,
    raw_limit,
)
from watcher.sources.rawentries import SeenEntries, entry_token, key_digest
from watcher.urls import clean_url

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
# The content types feedparser resolves relative links in (its html_types).
_RESOLVED_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_NOT_A_DECLARATION = re.compile(r"<!(?!DOCTYPE|--|\[)", re.IGNORECASE)


@dataclass(slots=True)
class KeptEntries:
    """A document's entries as ``unique_items`` would keep them (first per key, at most
    MAX_ITEMS_PER_FEED): the new or edited ones as Items, the rest only counted."""

    items: list[Item] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    unchanged: int = 0
    unchanged_published: list[datetime] = field(default_factory=list)


def kept_normalized_entries(
    entries: Iterable[dict[str, Any]],
    *,
    feed: str,
    base: StandInBase,
    feed_language: str | None,
    seen: frozenset[str],
) -> KeptEntries:
    """Normalize the entries whose digest (of feedparser's entry) is not in ``seen``;
    count the others.

    A seen entry is one the last stored parse kept, so the store holds its item as
    this parse would build it. Its key is still read (cheap for a guid) so that the
    first entry per key wins exactly as when every entry is normalized.
    """
    # What an Item depends on besides its entry (see _item_from_entry); feedparser's
    # entry holds the rest, its repr every value it parsed, in document order.
    context = entry_context(
        feed,
        base.base,
        base.real_origin,
        str(base.links_deferred),
        str(base.guids_deferred),
        str(feed_language),
    )
    kept = KeptEntries()
    keys: set[str] = set()
    for entry in entries:
        if len(keys) >= MAX_ITEMS_PER_FEED:
            break
        digest = entry_digest(context, repr(entry))
        if digest in seen:
            key = _entry_key(entry, base)
            if key in keys:
                continue
            kept.unchanged += 1
            published = _utc(dict.get(entry, "published_parsed"))
            if published is not None:
                kept.unchanged_published.append(published)
        else:
            item = _item_from_entry(entry, feed=feed, base=base, feed_language=feed_language)
            key = item.key
            if key in keys:
                continue
            kept.items.append(item)
        keys.add(key)
        kept.digests.append(digest)
    return kept


def kept_raw_entries(
    entries: Iterable[dict[str, Any]],
    *,
    digests: Sequence[str],
    seen: SeenEntries,
    context: str,
    feed: str,
    base: StandInBase,
    feed_language: str | None,
) -> KeptEntries:
    """The kept entries of a document whose seen entries feedparser never read.

    ``digests`` are the raw digests of all its entries, in document order;
    ``entries`` are feedparser's entries of those not in ``seen``, in the same
    order. A seen entry's key and date come from its token, so the first entry per
    key wins exactly as when every entry is read. ``context`` is remembered too.
    """
    kept = KeptEntries()
    keys: set[str] = set()
    unseen = iter(entries)
    for digest in digests:
        if len(keys) >= MAX_ITEMS_PER_FEED:
            break
        remembered = seen.entries.get(digest)
        if remembered is not None:
            key, published = remembered.key, remembered.published
            if key in keys:
                continue
            kept.unchanged += 1
            if published is not None:
                kept.unchanged_published.append(published)
        else:
            item = _item_from_entry(next(unseen), feed=feed, base=base, feed_language=feed_language)
            key, published = key_digest(item.key), item.published
            if key in keys:
                continue
            kept.items.append(item)
        keys.add(key)
        kept.digests.append(entry_token(digest, key, published))
    kept.digests.append(context)
    return kept


def _item_from_entry(
    entry: dict[str, Any], *, feed: str, base: StandInBase, feed_language: str | None
) -> Item:
    cutter = FieldCutter()
    title = cutter.text("title", entry_text(entry, "title", cutter), MAX_TITLE_CHARS)
    summary_html = cutter.raw(
        "summary",
        _as_html(entry.get("summary_detail") or {}, entry.get("summary", "")),
        MAX_SUMMARY_CHARS,
    )
    # Only real content (content:encoded, Atom content): a copy of the summary would
    # be stored, tokenized and searched twice for nothing.
    content_html = cutter.text(
        "content_html",
        base.restore(_richest_content(entry.get("content") or [], base)),
        MAX_CONTENT_HTML_CHARS,
    )
    summary = cutter.text("summary", _markup_text(base.restore(summary_html)), MAX_SUMMARY_CHARS)
    content_text = cutter.text(
        "content_text",
        html_to_text(cutter.raw("content_text", content_html, MAX_CONTENT_TEXT_CHARS)),
        MAX_CONTENT_TEXT_CHARS,
    )
    url, link_key = _entry_link(entry, base, cutter)
    guid = _entry_guid(entry, base)
    # dict.get: FeedParserDict.get("updated_parsed") falls back to the published
    # date with a DeprecationWarning; we want the feed's own updated date or None.
    published = _utc(dict.get(entry, "published_parsed"))
    updated = _utc(dict.get(entry, "updated_parsed"))
    key = item_key(guid, link_key, title, published or updated)
    author = cutter.text("author", _author(entry), MAX_AUTHOR_CHARS)
    tags = cutter.tags(
        one_line(str(tag.get("term") or tag.get("label") or "")[: raw_limit(MAX_TAG_CHARS)])
        for tag in entry.get("tags") or []
    )
    cut = cutter.cut(feed, key)
    return Item(
        feed=feed,
        key=key,
        url=url,
        title=title,
        summary=summary,
        content_html=content_html,
        content_text=content_text,
        author=author,
        tags=tags,
        published=published,
        updated=updated,
        language=_entry_language(entry) or feed_language,
        content_hash=content_hash(title, summary, content_text),
        cut=cut,
    )


def _entry_link(
    entry: Mapping[str, Any], base: StandInBase, cutter: FieldCutter
) -> tuple[str | None, str | None]:
    """An entry's display URL and the link its key may come from."""
    link = base.link(entry.get("link") or "") or None
    if link is not None and len(link) > MAX_URL_CHARS:
        return cutter.url("url", link), link  # no URL (the cut recorded); keyed by its hash
    if not link:
        return None, None
    cleaned = clean_url(link)
    restored = base.restore(link)
    # An absolute link (most of them) is its own display URL: clean it once.
    return (cleaned if restored == link else clean_url(restored)), base.key(cleaned)


def _entry_guid(entry: Mapping[str, Any], base: StandInBase) -> str | None:
    raw_id = entry.get("id")
    return base.key(base.guid(raw_id)) if isinstance(raw_id, str) else None


def _entry_key(entry: dict[str, Any], base: StandInBase) -> str:
    """The key ``_item_from_entry`` gives an entry, reading no more of it than needed."""
    guid = _entry_guid(entry, base)
    key = reference_key(guid, None)  # a guid: the link is not even read
    if key is not None:
        return key
    cutter = FieldCutter()  # its cuts are not kept: the item is not built
    _, link_key = _entry_link(entry, base, cutter)
    key = reference_key(None, link_key)
    if key is not None:
        return key
    title = cutter.text("title", entry_text(entry, "title", cutter), MAX_TITLE_CHARS)
    published = _utc(dict.get(entry, "published_parsed"))
    updated = _utc(dict.get(entry, "updated_parsed"))
    return item_key(guid, link_key, title, published or updated)


def entry_text(node: Mapping[str, Any], name: str, cutter: FieldCutter | None = None) -> str:
    """A title-like field as one line of plain text, whatever its declared type.

    At most ``raw_limit(MAX_TITLE_CHARS)`` characters of it are read.
    """
    value = node.get(name)
    if not value:
        return ""
    text = str(value)
    limit = raw_limit(MAX_TITLE_CHARS)
    if len(text) > limit:
        text = cutter.raw(name, text, MAX_TITLE_CHARS) if cutter else text[:limit]
    detail = node.get(f"{name}_detail") or {}
    if str(detail.get("type", "")).lower() in _HTML_TYPES:
        return one_line(_markup_text(text))
    return one_line(text)


def _markup_text(markup: str) -> str:
    """The text of a title's or summary's HTML, as it read when feedparser's link
    resolver rewrote that HTML first: a ``<!`` that opens no doctype, comment or
    CDATA is text ("<!'"), where html.parser would drop it as a bogus comment."""
    if "<!" in markup:
        markup = _NOT_A_DECLARATION.sub("&lt;!", markup)
    return html_to_text(markup)


def _as_html(detail: Mapping[str, Any], value: str) -> str:
    """Content as HTML: plain-text content is escaped so it reads the same as markup."""
    if not value:
        return ""
    if str(detail.get("type", "text/html")).lower() in _HTML_TYPES:
        return str(value)
    return html.escape(str(value), quote=False)


def _richest_content(contents: Iterable[Mapping[str, Any]], base: StandInBase) -> str:
    """The longest of an entry's content alternatives (content:encoded, atom:content),
    its relative links resolved."""
    candidates = [_as_html(content, _resolved_content(content, base)) for content in contents]
    return max(candidates, key=len, default="")


def _resolved_content(content: Mapping[str, Any], stand_in: StandInBase) -> str:
    """HTML content with its relative links made absolute, as feedparser's
    ``resolve_relative_uris`` would have made them: by its resolver, against the
    base in force where the content stood (``xml:base`` included), and only in
    HTML or XHTML content."""
    value = str(content.get("value") or "")
    kind = str(content.get("type") or "")
    if not value or kind not in _RESOLVED_TYPES:
        return value
    base = stand_in.content_base(str(content.get("base") or ""))
    # feedparser parses every document as UTF-8 (it converts the bytes first).
    return str(feedparser.urls.resolve_relative_uris(value, base, "utf-8", kind))


def _author(entry: Mapping[str, Any]) -> str:
    detail = entry.get("author_detail") or {}
    name = str(detail.get("name") or entry.get("author") or "")
    return one_line(name[: raw_limit(MAX_AUTHOR_CHARS)])


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
