"""The feeds an HTML page advertises: ``<link rel="alternate">`` elements with a feed
media type (the RSS Advisory Board's autodiscovery, RFC 4287's Atom media type,
JSON Feed 1.1's ``application/feed+json``), then ``<a>`` links whose address or
``type`` looks like a feed (``/feed``, ``/rss``, ``.rss``, ``atom.xml``,
``?feed=rss2``). Pure; below both the feed parser (which names the feed of a page
polled by mistake) and ``watcher.sources.discover``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

# lxml ships no type hints (and lxml-stubs is not a dependency): its names are Any here.
from lxml.html import HtmlElement  # type: ignore[import-untyped]

from watcher.sources.pages import document_base_url, link_text, parse_html, resolve_link

FEED_MEDIA_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",  # RFC 4287 §7
        "application/feed+json",  # JSON Feed 1.1
        "application/json",  # JSON Feed 1.0 discovery used plain JSON
    }
)

MAX_DISCOVERED_FEEDS = 50
MAX_ANCHORS_EXAMINED = 5_000
MAX_TITLE_LENGTH = 200

# WordPress advertises its REST API as rel="alternate" type="application/json";
# those documents are not feeds.
_NOT_FEED_PATH_PARTS = ("/wp-json/", "/oembed")
# A last path segment that names a feed: feed, rss, atom (with or without an
# extension or a trailing slash), *.rss, *.atom, or an .xml file named like one.
_FEED_LIKE_PATH = re.compile(
    r"/(?:feed|rss|atom|rss2)(?:\.xml|\.json)?/?$"
    r"|\.(?:rss|atom)$"
    r"|/(?:[\w.-]*[._-])?(?:feed|rss|atom|rss2|index)\.xml$",
    re.I,
)
# WordPress (?feed=rss2), Squarespace and others (?format=rss).
_FEED_LIKE_QUERY = re.compile(r"(?:^|&)(?:feed=(?:rss2?|atom)|format=(?:rss|atom))(?:&|$)", re.I)


class DiscoveryMethod(StrEnum):
    """How a feed was found, strongest evidence first."""

    ALTERNATE_LINK = "alternate-link"  # <link rel="alternate" type="application/rss+xml">
    FEED_LINK = "feed-link"  # an <a> whose address or type looks like a feed
    COMMON_PATH = "common-path"  # a well-known path that answered with a feed


@dataclass(frozen=True, slots=True)
class DiscoveredFeed:
    """A feed found for a site.

    ``url`` is absolute and cleaned; ``title`` is what the page or the feed
    calls it, if anything; ``media_type`` is the declared type, if any.
    """

    url: str
    title: str | None
    media_type: str | None
    method: DiscoveryMethod


def discover_feeds(html: str | bytes, *, page_url: str) -> tuple[DiscoveredFeed, ...]:
    """The feeds a page points at: alternate links first, then feed-like ``<a>`` links.

    Each URL appears once (with its first title), relative to the page's
    ``<base href>`` when it has one; at most ``MAX_DISCOVERED_FEEDS``. Malformed
    HTML gives an empty tuple; never raises on the content of ``html``.
    """
    root = parse_html(html)
    if root is None:
        return ()
    base_url = document_base_url(root, page_url)
    found: dict[str, DiscoveredFeed] = {}
    for feed in (*_alternate_links(root, base_url), *_feed_like_anchors(root, base_url)):
        if len(found) >= MAX_DISCOVERED_FEEDS:
            break
        found.setdefault(feed.url, feed)
    return tuple(found.values())


def _alternate_links(root: HtmlElement, base_url: str) -> Iterator[DiscoveredFeed]:
    for link in root.iter("link"):
        rel_tokens = str(link.get("rel") or "").lower().split()
        media_type = _media_type(link.get("type"))
        if "alternate" not in rel_tokens or media_type not in FEED_MEDIA_TYPES:
            continue
        url = resolve_link(link.get("href"), base_url)
        if url is None or any(part in url for part in _NOT_FEED_PATH_PARTS):
            continue
        yield DiscoveredFeed(
            url=url,
            title=_title(link.get("title")),
            media_type=media_type,
            method=DiscoveryMethod.ALTERNATE_LINK,
        )


def _feed_like_anchors(root: HtmlElement, base_url: str) -> Iterator[DiscoveredFeed]:
    for examined, anchor in enumerate(root.iter("a")):
        if examined >= MAX_ANCHORS_EXAMINED:
            return
        url = resolve_link(anchor.get("href"), base_url)
        if url is None:
            continue
        media_type = _media_type(anchor.get("type"))
        if media_type in FEED_MEDIA_TYPES or looks_like_feed_url(url):
            yield DiscoveredFeed(
                url=url,
                title=_title(link_text(anchor)),
                media_type=media_type if media_type in FEED_MEDIA_TYPES else None,
                method=DiscoveryMethod.FEED_LINK,
            )


def looks_like_feed_url(url: str) -> bool:
    """True when a URL's path or query names a feed (``/blog/rss.xml``, ``?feed=rss2``)."""
    parts = urlsplit(url)
    return bool(_FEED_LIKE_PATH.search(parts.path) or _FEED_LIKE_QUERY.search(parts.query))


def _media_type(value: str | None) -> str | None:
    """``"application/rss+xml; charset=utf-8"`` -> ``"application/rss+xml"``."""
    if not value:
        return None
    return value.split(";", 1)[0].strip().lower() or None


def _title(value: str | None) -> str | None:
    if not value:
        return None
    return " ".join(value.split())[:MAX_TITLE_LENGTH] or None
