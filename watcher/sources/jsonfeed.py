"""JSON Feed 1.0/1.1 (https://www.jsonfeed.org/version/1.1/) bytes -> ``ParsedFeed``."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from watcher.exceptions import ParseError
from watcher.models import Item
from watcher.sources.feeditems import (
    ParsedFeed,
    collapse_lines,
    content_hash,
    html_to_text,
    item_key,
    one_line,
    unique_items,
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
from watcher.urls import clean_url

_JSON_FEED_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")


def looks_like_json(body: bytes) -> bool:
    """A feed body that opens with ``{`` can only be JSON (XML opens with ``<``)."""
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def parse_json_feed(body: bytes, *, feed: str, url: str) -> ParsedFeed:
    try:
        # RFC 8259 §8.1: JSON is UTF-8; tolerate a byte order mark.
        document = json.loads(body.decode("utf-8-sig"))
    except RecursionError as exc:  # arrays or objects nested ~1000 deep
        raise ParseError(f"{url}: invalid JSON Feed: nested too deeply") from exc
    except ValueError as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors; so is a number
        # of more than 4300 digits (int limit against CVE-2020-10735).
        raise ParseError(f"{url}: invalid JSON Feed: {one_line(str(exc))[:300]}") from exc
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
    items = unique_items(
        _item_from_json(entry, feed=feed, base=url, feed_language=feed_language)
        for entry in entries
        if isinstance(entry, dict)
    )
    return ParsedFeed(
        title=one_line(_string(document.get("title"))) or None,
        link=clean_url(home, base=url) if home else None,
        items=items,
        bozo_reason=None,
        ttl=None,
        update_period=None,
    )


def _item_from_json(
    entry: Mapping[str, Any], *, feed: str, base: str, feed_language: str | None
) -> Item:
    cutter = FieldCutter()
    # JSON Feed 1.1: id is a string, but 1.0 feeds in the wild use numbers.
    raw_id = entry.get("id")
    guid = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    link = _string(entry.get("url")) or _string(entry.get("external_url"))
    if len(link) > MAX_URL_CHARS:
        url = cutter.url("url", link)  # None, and the cut recorded
        link_key: str | None = link  # item_key keys the item by its hash
    else:
        url = link_key = clean_url(link, base=base) if link else None
    title = cutter.text(
        "title",
        one_line(cutter.raw("title", _string(entry.get("title")), MAX_TITLE_CHARS)),
        MAX_TITLE_CHARS,
    )
    content_html = cutter.text(
        "content_html", _string(entry.get("content_html")), MAX_CONTENT_HTML_CHARS
    )
    plain_content = cutter.raw(
        "content_text", _string(entry.get("content_text")), MAX_CONTENT_TEXT_CHARS
    )
    if not content_html and plain_content:
        content_html = html.escape(plain_content, quote=False).replace("\n", "<br>\n")
    content_text = cutter.text(
        "content_text",
        html_to_text(cutter.raw("content_text", content_html, MAX_CONTENT_TEXT_CHARS)),
        MAX_CONTENT_TEXT_CHARS,
    )
    summary = cutter.text(
        "summary",
        collapse_lines(cutter.raw("summary", _string(entry.get("summary")), MAX_SUMMARY_CHARS)),
        MAX_SUMMARY_CHARS,
    )
    published = _json_datetime(entry.get("date_published"))
    updated = _json_datetime(entry.get("date_modified"))
    tags = entry.get("tags")
    key = item_key(guid, link_key, title, published or updated)
    author = cutter.text("author", _json_author(entry), MAX_AUTHOR_CHARS)
    tag_names = (
        cutter.tags(
            one_line(tag[: raw_limit(MAX_TAG_CHARS)]) for tag in tags if isinstance(tag, str)
        )
        if isinstance(tags, list)
        else ()
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
        tags=tag_names,
        published=published,
        updated=updated,
        language=_string(entry.get("language"))[:64] or feed_language,
        content_hash=content_hash(title, summary, content_text),
        cut=cut,
    )


# More names than fit in MAX_AUTHOR_CHARS are never shown.
_MAX_AUTHORS = 50


def _json_author(entry: Mapping[str, Any]) -> str:
    # Version 1.1 has "authors" (a list); 1.0 had a single "author".
    authors = entry.get("authors")
    candidates = authors if isinstance(authors, list) else [entry.get("author")]
    names = [
        one_line(_string(author.get("name"))[: raw_limit(MAX_AUTHOR_CHARS)])
        for author in candidates[:_MAX_AUTHORS]
        if isinstance(author, dict)
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
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is past the last datetime in UTC
        return None


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""
