"""Feed discovery (watcher/discover.py): alternate links, feed-like links, common paths, YAML."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from tests.feed_server import FeedServer, running_feed_server
from watcher.config import load_config_text
from watcher.sources.advertised import (
    DiscoveredFeed,
    DiscoveryMethod,
    discover_feeds,
    looks_like_feed_url,
)
from watcher.sources.discover import (
    COMMON_FEED_PATHS,
    FeedEntry,
    discovered_yaml,
    feed_name,
    feeds_yaml,
    probe_common_paths,
    slugify,
    unique_name,
)
from watcher.sources.fetch import (
    Fetched,
    Fetcher,
    FetchFailed,
    FetchFailureKind,
    FetchRequest,
    FetchResult,
)

DATA = Path(__file__).parent / "data" / "web"
BLOG = (DATA / "blog_with_alternates.html").read_bytes()
RSS = (Path(__file__).parent / "data" / "feeds" / "rss20.xml").read_bytes()
ATOM = (Path(__file__).parent / "data" / "feeds" / "atom10.xml").read_bytes()
JSON_FEED = (Path(__file__).parent / "data" / "feeds" / "jsonfeed11.json").read_bytes()

ALTERNATE = DiscoveryMethod.ALTERNATE_LINK
FEED_LINK = DiscoveryMethod.FEED_LINK


def test_a_blog_page_gives_its_alternate_links_then_its_feed_like_links() -> None:
    feeds = discover_feeds(BLOG, page_url="https://allotment.example.net/2024/03/broad-beans")
    assert feeds == (
        DiscoveredFeed(
            "https://allotment.example.net/feed/",
            "Notes from the Allotment — posts",
            "application/rss+xml",
            ALTERNATE,
        ),
        DiscoveredFeed(
            "https://allotment.example.net/atom.xml",
            "Notes from the Allotment (Atom)",
            "application/atom+xml",
            ALTERNATE,
        ),
        # Relative to the page: rel and type match without regard to case.
        DiscoveredFeed(
            "https://allotment.example.net/2024/03/feed.json",
            "Notes (JSON)",
            "application/feed+json",
            ALTERNATE,
        ),
        DiscoveredFeed(
            "https://allotment.example.net/comments/feed/", "comments feed", None, FEED_LINK
        ),
        DiscoveredFeed(
            "https://allotment.example.net/category/seeds/index.xml", "seeds only", None, FEED_LINK
        ),
        DiscoveredFeed(
            "https://allotment.example.net/?feed=rss2&cat=4", "tools (RSS)", None, FEED_LINK
        ),
        DiscoveredFeed(
            "https://allotment.example.net/podcast",
            "the podcast",
            "application/rss+xml",
            FEED_LINK,
        ),
    )


def test_a_base_element_moves_relative_feed_links() -> None:
    html = (
        '<base href="https://cdn.example.org/site/">'
        "<link rel=alternate type=application/rss+xml href=rss.xml>"
    )
    (feed,) = discover_feeds(html, page_url="https://example.org/")
    assert feed.url == "https://cdn.example.org/site/rss.xml"
    assert feed.title is None


@pytest.mark.parametrize(
    "html",
    [
        b"",
        b"<html>",
        b"\xff\xfe\x00",
        "<link rel=alternate type=application/rss+xml>",
        "<a>no href</a>",
    ],
)
def test_pages_without_feeds_give_nothing(html: str | bytes) -> None:
    assert discover_feeds(html, page_url="https://example.org/") == ()


def test_discovery_is_capped() -> None:
    links = "".join(f"<a href='/f{n}/feed'>f{n}</a>" for n in range(200))
    assert len(discover_feeds(links, page_url="https://example.org/")) == 50


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/feed", True),
        ("https://example.org/feed/", True),
        ("https://example.org/blog/rss", True),
        ("https://example.org/atom.xml", True),
        ("https://example.org/posts.rss", True),
        ("https://example.org/news/rss2.xml", True),
        ("https://example.org/index.xml", True),
        ("https://example.org/blog/news-feed.xml", True),
        ("https://example.org/feed.json", True),
        ("https://example.org/?feed=atom", True),
        ("https://example.org/blog?format=rss", True),
        ("https://example.org/sitemap.xml", False),
        ("https://example.org/feedback", False),
        ("https://example.org/rss-guide/", False),
        ("https://example.org/data.xml", False),
        ("https://example.org/?feedback=1", False),
    ],
)
def test_looks_like_feed_url(url: str, expected: bool) -> None:
    assert looks_like_feed_url(url) is expected


def canned(responses: dict[str, FetchResult], asked: list[str]) -> Callable[[str], FetchResult]:
    def fetch(url: str) -> FetchResult:
        asked.append(url)
        return responses.get(url, FetchFailed(FetchFailureKind.HTTP_CLIENT, f"{url}: 404", 404))

    return fetch


def fetched(url: str, body: bytes, content_type: str, **extra: str | None) -> Fetched:
    headers = types.MappingProxyType({"content-type": content_type})
    return Fetched(
        url=extra.get("final_url") or url,
        status=200,
        headers=headers,
        body=body,
        body_hash="",
        etag=None,
        last_modified=None,
        permanent_url=extra.get("permanent_url"),
    )


def test_probing_keeps_only_what_parses_as_a_feed() -> None:
    home = "https://example.org/"
    responses: dict[str, FetchResult] = {
        home + "feed": fetched(home + "feed", RSS, "application/rss+xml"),
        # A site that answers every path with its home page.
        home + "rss": fetched(home + "rss", BLOG, "text/html"),
        # Two paths redirecting to one feed: one result.
        home + "rss.xml": fetched(
            home + "rss.xml", ATOM, "application/atom+xml", final_url=home + "atom.xml"
        ),
        home + "atom.xml": fetched(home + "atom.xml", ATOM, "application/atom+xml"),
        home + "feed.json": fetched(
            home + "feed.json",
            JSON_FEED,
            "application/feed+json",
            final_url=home + "v2/feed.json",
            permanent_url=home + "v2/feed.json",
        ),
        home + "index.xml": FetchFailed(FetchFailureKind.TIMEOUT, "timed out"),
    }
    asked: list[str] = []
    feeds = probe_common_paths("https://example.org", canned(responses, asked))
    assert asked == [home + path.lstrip("/") for path in COMMON_FEED_PATHS]
    assert [(feed.url, feed.method) for feed in feeds] == [
        (home + "feed", DiscoveryMethod.COMMON_PATH),
        (home + "rss.xml", DiscoveryMethod.COMMON_PATH),
        (home + "v2/feed.json", DiscoveryMethod.COMMON_PATH),
    ]
    assert all(feed.title for feed in feeds)
    assert feeds[0].media_type == "application/rss+xml"


def test_a_site_below_a_path_is_probed_there_first_then_at_the_root() -> None:
    asked: list[str] = []
    probe_common_paths("https://example.org/blog/", canned({}, asked), paths=["/feed", "/rss"])
    assert asked == [
        "https://example.org/blog/feed",
        "https://example.org/blog/rss",
        "https://example.org/feed",
        "https://example.org/rss",
    ]


@pytest.mark.parametrize("site", ["ftp://example.org/", "example.org", "https:///nohost"])
def test_probing_needs_an_http_site(site: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        probe_common_paths(site, canned({}, []))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with running_feed_server() as running:
        yield running


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(
        user_agent="watcher-tests/1.0",
        timeout=timedelta(seconds=5),
        connect_timeout=timedelta(seconds=5),
        max_body_bytes=1_000_000,
        max_redirects=5,
        per_host_concurrency=2,
        per_host_delay=timedelta(0),
    ) as opened:
        yield opened


def test_probing_a_real_server_through_the_fetcher(server: FeedServer, fetcher: Fetcher) -> None:
    server.put("/index.xml", RSS)
    server.put("/feed", BLOG, content_type="text/html; charset=utf-8")
    feeds = probe_common_paths(
        server.base_url, lambda url: fetcher.fetch(FetchRequest(url, allow_private=True))
    )
    assert [feed.url for feed in feeds] == [server.url("/index.xml")]
    assert server.hits("/feed") == 1
    assert server.hits("/feed.json") == 1  # a 404 is asked once and left


@pytest.mark.parametrize(
    ("title", "url", "expected"),
    [
        ("Harbour News: Ferries & Tides", "https://x.example/", "harbour-news-ferries-tides"),
        ("Café Société", "https://x.example/", "cafe-societe"),
        ("港口新闻", "https://www.harbour.example.org/news/rss", "harbour-example-org-news-rss"),
        (None, "https://www.example.org/", "example-org"),
        ("!!!", "http://[::1]/", "1"),
        ("", "not a url", "not-a-url"),
        ("", "", "feed"),
        ("word " * 30, "https://x.example/", ("word-" * 13).rstrip("-")),
    ],
)
def test_feed_names(title: str | None, url: str, expected: str) -> None:
    name = feed_name(title, url)
    assert name == expected
    assert len(name) <= 64


def test_slugify_never_leaves_edge_dashes() -> None:
    assert slugify("  --Hello,  World--  ") == "hello-world"
    assert slugify("a" * 63 + " b") == "a" * 63


def test_unique_names_count_up_and_stay_within_the_length_limit() -> None:
    assert unique_name("news", set()) == "news"
    assert unique_name("news", {"news", "news-2"}) == "news-3"
    long_name = "n" * 64
    assert unique_name(long_name, {long_name}) == "n" * 62 + "-2"


def test_discovered_yaml_is_a_list_the_config_accepts() -> None:
    feeds = discover_feeds(BLOG, page_url="https://allotment.example.net/")[:3]
    snippet = discovered_yaml(feeds, existing_names=["Notes-From-The-Allotment-Posts"])
    entries = yaml.safe_load(snippet)
    assert entries[0] == {
        "name": "notes-from-the-allotment-posts-2",
        "url": "https://allotment.example.net/feed/",
        "title": "Notes from the Allotment — posts",
    }
    assert [entry["name"] for entry in entries] == [
        "notes-from-the-allotment-posts-2",
        "notes-from-the-allotment-atom",
        "notes-json",
    ]
    config = load_config_text("outbox: var/mail\nfeeds:\n" + snippet, environ={})
    assert [feed.url for feed in config.feeds] == [feed.url for feed in feeds]


def test_feeds_yaml_keeps_environment_references_literal() -> None:
    snippet = feeds_yaml(
        [
            FeedEntry("https://evil.example/${SMTP_PASSWORD}", "Leak ${SMTP_PASSWORD}", ("${X}",)),
            FeedEntry("https://evil.example/b", "Leak ${SMTP_PASSWORD}"),
        ]
    )
    config = load_config_text(
        "outbox: var/mail\nfeeds:\n" + snippet, environ={"SMTP_PASSWORD": "hunter2", "X": "y"}
    )
    first, second = config.feeds
    assert first.title == "Leak ${SMTP_PASSWORD}"
    assert first.tags == ("${X}",)
    assert first.url == "https://evil.example/${SMTP_PASSWORD}"
    assert (first.name, second.name) == ("leak-smtp-password", "leak-smtp-password-2")


def test_feeds_yaml_of_nothing_is_empty() -> None:
    assert feeds_yaml([]) == ""
