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
    unique,
    unique_items,
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
    # JSON Feed 1.1: id is a string, but 1.0 feeds in the wild use numbers.
    raw_id = entry.get("id")
    guid = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    link = _string(entry.get("url")) or _string(entry.get("external_url"))
    url = clean_url(link, base=base) if link else None
    title = one_line(_string(entry.get("title")))
    content_html = _string(entry.get("content_html"))
    plain_content = _string(entry.get("content_text"))
    if not content_html and plain_content:
        content_html = html.escape(plain_content, quote=False).replace("\n", "<br>\n")
    content_text = html_to_text(content_html) if content_html else ""
    summary = collapse_lines(_string(entry.get("summary")))
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
        tags=unique(one_line(tag) for tag in tags if isinstance(tag, str))
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
        one_line(_string(author.get("name"))) for author in candidates if isinstance(author, dict)
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
