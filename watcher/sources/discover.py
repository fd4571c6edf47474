"""Finding a site's feeds, and writing them as entries to paste into feeds.yaml.

Three ways, strongest first (the first in watcher.sources.advertised):

- ``discover_feeds``: the page's ``<link rel="alternate">`` elements with a feed
  media type (the RSS Advisory Board's autodiscovery, RFC 4287's Atom media
  type, JSON Feed 1.1's ``application/feed+json``), then ``<a>`` links whose
  address or ``type`` looks like a feed (``/feed``, ``/rss``, ``.rss``,
  ``atom.xml``, ``?feed=rss2``). Pure.
- ``probe_common_paths``: asks for the paths blog engines put feeds at
  (``COMMON_FEED_PATHS``) and keeps what parses as a feed. The only HTTP is
  the ``fetch`` callable the caller passes (a ``watcher.sources.fetch.Fetcher`` in the
  daemon, canned results in tests).
- ``look_up_feeds``: what a URL a user typed is — a feed itself, or a page whose
  feeds the two ways above find — with the title and item count of each feed.
- ``feeds_yaml`` (and ``discovered_yaml``, ``watcher.sources.opml.opml_to_yaml``):
  entries with slugified, unique names, ready for ``feeds:``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import yaml

# lxml ships no type hints (and lxml-stubs is not a dependency): its names are Any here.
from watcher.exceptions import ParseError
from watcher.sources.advertised import (
    DiscoveredFeed,
    DiscoveryMethod,
    _media_type,
    _title,
    discover_feeds,
)
from watcher.sources.feeds import parse_feed
from watcher.sources.fetch import Fetched, FetchFailed, FetchFailureKind, FetchResult

COMMON_FEED_PATHS: tuple[str, ...] = (
    "/feed",  # WordPress, Ghost
    "/rss",  # Ghost, Substack, many CMSs
    "/rss.xml",  # Drupal, Gatsby, Eleventy
    "/atom.xml",  # Jekyll (jekyll-feed alternative), Octopress, Zola
    "/feed.xml",  # Jekyll (jekyll-feed)
    "/index.xml",  # Hugo
    "/feeds/posts/default",  # Blogger
    "/feed.json",  # JSON Feed (micro.blog, Eleventy, Hugo templates)
)
"""Paths ``probe_common_paths`` asks for, in this order."""

# Config names (watcher.config): a letter or digit, then up to 63 more of [A-Za-z0-9_.-].
MAX_NAME_LENGTH = 64
_NON_NAME_CHARACTERS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One feed to write into feeds.yaml; ``feeds_yaml`` gives it a name."""

    url: str
    title: str | None = None
    tags: tuple[str, ...] = ()
    allow_private: bool = False


def probe_common_paths(
    site_url: str,
    fetch: Callable[[str], FetchResult],
    *,
    paths: Sequence[str] = COMMON_FEED_PATHS,
) -> tuple[DiscoveredFeed, ...]:
    """Fetch each of ``paths`` on the site and keep the ones that answer with a feed.

    For a site below a path (``https://example.org/blog/``) each path is tried
    below it first, then at the root. A body counts as a feed when
    ``watcher.sources.feeds.parse_feed`` reads it; an HTML page answering for every path
    does not. Several paths redirecting to one feed give one result, under the
    first path that reached it (or where a permanent redirect points).

    Raises ValueError when ``site_url`` is not an http(s) URL with a host.
    """
    parts = urlsplit(site_url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{site_url!r} is not an http:// or https:// URL")
    root = f"{parts.scheme.lower()}://{parts.netloc}/"
    directory = urljoin(site_url.strip(), ".")
    bases = [directory, root] if directory != root else [root]
    candidates = dict.fromkeys(urljoin(base, path.lstrip("/")) for base in bases for path in paths)
    found: dict[str, DiscoveredFeed] = {}
    for url in candidates:
        result = fetch(url)
        if not isinstance(result, Fetched):
            continue
        try:
            parsed = parse_feed(
                result.body, feed="discover", url=result.url, headers=result.headers
            )
        except ParseError:
            continue
        if result.url in found:
            continue
        found[result.url] = DiscoveredFeed(
            url=result.permanent_url or url,
            title=_title(parsed.title),
            media_type=_media_type(result.headers.get("content-type")),
            method=DiscoveryMethod.COMMON_PATH,
        )
    return tuple(found.values())


@dataclass(frozen=True, slots=True)
class FeedLookup:
    """What a URL turned out to be.

    ``is_feed`` when the URL itself answered with a feed (then ``feeds`` holds just
    it, with the feed's own title); otherwise ``feeds`` are what the page points at
    or what answered at the usual paths, possibly none. ``page_url`` is where the
    URL led after redirects.
    """

    page_url: str
    is_feed: bool
    feeds: tuple[DiscoveredFeed, ...]
    # How many items the URL carried when it is a feed itself.
    item_count: int | None = None


def look_up_feeds(url: str, fetch: Callable[[str], FetchResult]) -> FeedLookup | FetchFailed:
    """Fetch ``url`` and say whether it is a feed, else which feeds its page offers.

    A failed fetch of ``url`` itself is returned as it is; failures at the probed
    paths only mean no feed there. ``fetch`` is the only HTTP.
    """
    page = fetch(url)
    if isinstance(page, FetchFailed):
        return page
    if not isinstance(page, Fetched):  # 304 to a request without validators: nothing to read
        return FetchFailed(FetchFailureKind.HTTP_SERVER, f"{url}: answered 304 Not Modified")
    try:
        parsed = parse_feed(page.body, feed="discover", url=page.url, headers=page.headers)
    except ParseError:
        found = discover_feeds(page.body, page_url=page.url) or probe_common_paths(page.url, fetch)
        return FeedLookup(page_url=page.url, is_feed=False, feeds=found)
    itself = DiscoveredFeed(
        url=page.permanent_url or url,
        title=_title(parsed.title),
        media_type=_media_type(page.headers.get("content-type")),
        method=DiscoveryMethod.ALTERNATE_LINK,
    )
    return FeedLookup(
        page_url=page.url, is_feed=True, feeds=(itself,), item_count=len(parsed.items)
    )


def discovered_yaml(
    feeds: Sequence[DiscoveredFeed],
    *,
    existing_names: Collection[str] = (),
    allow_private: bool = False,
) -> str:
    """feeds.yaml entries for discovered feeds (see ``feeds_yaml``); ``allow_private``
    adds ``allow_private: true`` to each (the site needed it to be reached)."""
    entries = [
        FeedEntry(url=feed.url, title=feed.title, allow_private=allow_private) for feed in feeds
    ]
    return feeds_yaml(entries, existing_names)


def feeds_yaml(entries: Sequence[FeedEntry], existing_names: Collection[str] = ()) -> str:
    """A YAML list of feeds to paste under ``feeds:`` in feeds.yaml.

    Each entry has a ``name`` made from its title (else its address), unique
    among the entries and ``existing_names`` (compared without case), then
    ``url``, ``title`` and ``tags`` when it has them. Every ``${`` is written as
    ``$${`` so the loader does not expand a title like ``${SMTP_PASSWORD}`` that
    came from a hostile page or OPML file from the environment.
    """
    taken = {name.casefold() for name in existing_names}
    documents: list[dict[str, object]] = []
    for entry in entries:
        name = unique_name(feed_name(entry.title, entry.url), taken)
        taken.add(name.casefold())
        document: dict[str, object] = {"name": name, "url": _literal(entry.url)}
        if entry.title:
            document["title"] = _literal(entry.title)
        if entry.tags:
            document["tags"] = [_literal(tag) for tag in entry.tags]
        if entry.allow_private:
            document["allow_private"] = True
        documents.append(document)
    if not documents:
        return ""
    return yaml.safe_dump(
        documents, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )


def feed_name(title: str | None, url: str) -> str:
    """A config name for a feed: its title slugified, else its host and path.

    Lower-case ASCII letters, digits and ``-``, at most ``MAX_NAME_LENGTH``
    characters; ``"feed"`` when neither gives any.
    """
    slug = slugify(title or "")
    if not slug:
        parts = urlsplit(url)
        host = (parts.hostname or "").removeprefix("www.")
        slug = slugify(f"{host} {parts.path}")
    return slug or "feed"


def slugify(text: str) -> str:
    """``"Harbour News: Ferries & Tides"`` -> ``"harbour-news-ferries-tides"`` (ASCII, <= 64)."""
    # NFKD splits accented letters into letter + accent, so "Café" keeps its "e".
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NON_NAME_CHARACTERS.sub("-", ascii_text.lower()).strip("-")
    return slug[:MAX_NAME_LENGTH].rstrip("-")


def unique_name(name: str, taken: Collection[str]) -> str:
    """``name``, or ``name-2``, ``name-3``, ... the first not in ``taken`` (case-folded names)."""
    if name.casefold() not in taken:
        return name
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = name[: MAX_NAME_LENGTH - len(suffix)].rstrip("-") + suffix
        if candidate.casefold() not in taken:
            return candidate
        number += 1


def _literal(value: str) -> str:
    return value.replace("${", "$${")
