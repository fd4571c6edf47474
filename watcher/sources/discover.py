"""Finding a site's feeds, and writing them as entries to paste into feeds.yaml.

Three ways, strongest first:

- ``discover_feeds``: the page's ``<link rel="alternate">`` elements with a feed
  media type (the RSS Advisory Board's autodiscovery, RFC 4287's Atom media
  type, JSON Feed 1.1's ``application/feed+json``), then ``<a>`` links whose
  address or ``type`` looks like a feed (``/feed``, ``/rss``, ``.rss``,
  ``atom.xml``, ``?feed=rss2``). Pure.
- ``probe_common_paths``: asks for the paths blog engines put feeds at
  (``COMMON_FEED_PATHS``) and keeps what parses as a feed. The only HTTP is
  the ``fetch`` callable the caller passes (a ``watcher.sources.fetch.Fetcher`` in the
  daemon, canned results in tests).
- ``feeds_yaml`` (and ``discovered_yaml``, ``watcher.sources.opml.opml_to_yaml``):
  entries with slugified, unique names, ready for ``feeds:``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urljoin, urlsplit

import yaml

# lxml ships no type hints (and lxml-stubs is not a dependency): its names are Any here.
from lxml.html import HtmlElement  # type: ignore[import-untyped]

from watcher.exceptions import ParseError
from watcher.sources.feeds import parse_feed
from watcher.sources.fetch import Fetched, FetchResult
from watcher.sources.pages import document_base_url, link_text, parse_html, resolve_link

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

# Config names (watcher.config): a letter or digit, then up to 63 more of [A-Za-z0-9_.-].
MAX_NAME_LENGTH = 64

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
_NON_NAME_CHARACTERS = re.compile(r"[^a-z0-9]+")


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


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One feed to write into feeds.yaml; ``feeds_yaml`` gives it a name."""

    url: str
    title: str | None = None
    tags: tuple[str, ...] = ()


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


def discovered_yaml(
    feeds: Sequence[DiscoveredFeed], *, existing_names: Collection[str] = ()
) -> str:
    """feeds.yaml entries for discovered feeds (see ``feeds_yaml``)."""
    return feeds_yaml([FeedEntry(url=feed.url, title=feed.title) for feed in feeds], existing_names)


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


def _media_type(value: str | None) -> str | None:
    """``"application/rss+xml; charset=utf-8"`` -> ``"application/rss+xml"``."""
    if not value:
        return None
    return value.split(";", 1)[0].strip().lower() or None


def _title(value: str | None) -> str | None:
    if not value:
        return None
    return " ".join(value.split())[:MAX_TITLE_LENGTH] or None
