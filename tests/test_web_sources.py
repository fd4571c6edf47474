"""Web sources end to end against a local server: listing pages, page watches,
full text for teaser feeds, and robots.txt."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.feed_server import FeedServer, running_feed_server
from watcher.config import load_config_text
from watcher.pipeline import Pipeline
from watcher.store import Store

PAGES = Path(__file__).parent / "data" / "pages"
WEB = Path(__file__).parent / "data" / "web"
HTML = "text/html; charset=utf-8"


def listing(*slugs: str) -> str:
    cards = "\n".join(
        f'<li class="story"><a href="/lakes/{slug}.html">Story {slug}</a></li>' for slug in slugs
    )
    return f"""<!DOCTYPE html><html><body>
<nav><a href="/">Home</a> <a href="/about">About us</a></nav>
<ul class="stories">{cards}</ul>
<footer><a href="/privacy">Privacy</a></footer></body></html>"""


def article(slug: str, sentence: str) -> str:
    body = " ".join([sentence] * 3)
    return f"""<!DOCTYPE html><html lang="en"><head><title>{slug} | Lake Courier</title>
<meta property="og:title" content="Lake report {slug}"></head><body>
<nav><a href="/">Home</a> <a href="/weather">Weather</a> Subscribe to our morning briefing</nav>
<article><h1>Lake report {slug}</h1><p>{body}</p><p>{sentence} The council will meet
again in the spring to review how the new arrangement has worked for residents.</p></article>
<footer>© 2026 Lake Courier. We use cookies to improve the site.</footer></body></html>"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with running_feed_server() as running:
        running.put(
            "/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain"
        )
        yield running


def make_pipeline(tmp_path: Path, yaml: str, clock: Clock) -> tuple[Store, Pipeline]:
    config = load_config_text(
        f"database: sqlite:///{tmp_path}/watcher.db\noutbox: {tmp_path}/outbox\n"
        "defaults: {per_host_delay: 0.001s, per_host_concurrency: 4}\n" + yaml,
        str(tmp_path / "feeds.yaml"),
    )
    store = Store.open(config.database)
    store.upgrade()
    store.sync_sources(config.sources, clock())
    return store, Pipeline(config, store, clock=clock, rng=random.Random(2))


def test_listing_page_links_become_items_with_article_text(
    tmp_path: Path, server: FeedServer
) -> None:
    server.put("/news", listing("ferry", "pier"), content_type=HTML)
    server.put(
        "/lakes/ferry.html", (PAGES / "news_with_boilerplate.html").read_bytes(), content_type=HTML
    )
    server.put(
        "/lakes/pier.html",
        article("pier", "The old pier at Orvell will be rebuilt."),
        content_type=HTML,
    )
    server.put(
        "/lakes/dock.html", article("dock", "A new dock opens for rowing clubs."), content_type=HTML
    )
    yaml = f"""\
pages:
  - {{name: courier, url: "{server.url("/news")}", link_selector: "ul.stories a",
      allow_private: true}}
topics:
  - {{name: ferries, query: "ferry OR ferries"}}
"""
    clock = Clock()
    store, pipeline = make_pipeline(tmp_path, yaml, clock)
    with store, pipeline:
        first = pipeline.poll_one(pipeline.config.pages[0])
        assert (first.result, first.new_items) == ("new_items", 2)
        stored = {s.item.key: s for s in store.items(feed="courier")}
        ferry = stored[server.url("/lakes/ferry.html")]
        expected = json.loads((PAGES / "news_with_boilerplate.expected.json").read_text())
        assert ferry.item.title == expected["article"]["title"]
        for sentence in expected["kept"]:
            assert sentence in ferry.item.content_text
        for noise in expected["dropped"]:
            assert noise not in ferry.item.content_text
        assert [m.topic for m in ferry.matches] == ["ferries"]  # matched on the article
        assert stored[server.url("/lakes/pier.html")].matches == ()

        # The page gains one link: only that one is fetched and becomes an item.
        server.put("/news", listing("dock", "ferry", "pier"), content_type=HTML)
        clock.now += timedelta(hours=1)
        fetched_before = server.hits("/lakes/ferry.html")
        second = pipeline.poll_one(pipeline.config.pages[0])
        assert second.new_items == 1
        assert server.hits("/lakes/ferry.html") == fetched_before
        assert len(store.items(feed="courier")) == 3


def test_robots_txt_disallow_keeps_the_link_but_not_the_fetch(
    tmp_path: Path, server: FeedServer
) -> None:
    server.put(
        "/news",
        '<ul class="stories"><li><a href="/private/memo.html">Memo</a></li>'
        '<li><a href="/lakes/pier.html">Pier</a></li></ul>',
        content_type=HTML,
    )
    server.put("/private/memo.html", article("memo", "Internal memo text."), content_type=HTML)
    server.put(
        "/lakes/pier.html", article("pier", "The old pier will be rebuilt."), content_type=HTML
    )
    yaml = f"""\
pages:
  - {{name: courier, url: "{server.url("/news")}", link_selector: "ul.stories a",
      allow_private: true}}
"""
    store, pipeline = make_pipeline(tmp_path, yaml, Clock())
    with store, pipeline:
        assert pipeline.poll_one(pipeline.config.pages[0]).new_items == 2
        assert server.hits("/private/memo.html") == 0
        memo = {s.item.key: s.item for s in store.items()}[server.url("/private/memo.html")]
        assert (memo.title, memo.content_text) == ("Memo", "")
        assert server.hits("/robots.txt") == 1  # cached per host


def test_watched_page_alerts_on_content_not_on_timestamps(
    tmp_path: Path, server: FeedServer
) -> None:
    server.put("/hours", (WEB / "notice_v1.html").read_bytes(), content_type=HTML)
    yaml = f"""\
watches:
  - {{name: library, title: Library notices, url: "{server.url("/hours")}",
      allow_private: true}}
digests:
  - {{name: changes, recipients: [desk@example.org], watches: [library], immediate: true}}
"""
    clock = Clock()
    store, pipeline = make_pipeline(tmp_path, yaml, clock)
    with store, pipeline:
        watch = pipeline.config.watches[0]
        assert pipeline.poll_one(watch).new_items == 0  # the first look is the baseline
        server.put(
            "/hours", (WEB / "notice_v2_timestamps_only.html").read_bytes(), content_type=HTML
        )
        clock.now += timedelta(hours=1)
        assert pipeline.poll_one(watch).new_items == 0  # only timestamps and counters moved
        server.put("/hours", (WEB / "notice_v3_hours_changed.html").read_bytes(), content_type=HTML)
        clock.now += timedelta(hours=1)
        changed = pipeline.poll_one(watch)
        assert changed.new_items == 1 and changed.matched_topics == ("watch.library",)
        outcomes = pipeline.digests.send_immediate_alerts()
        assert [(o.status, o.items) for o in outcomes] == [("sent", 1)]
    eml = next((tmp_path / "outbox").glob("*.eml")).read_text(encoding="utf-8")
    assert "Library notices: the page changed" in eml
    assert "- " in eml and "+ " in eml  # the diff's removed and added lines


def test_full_text_feed_matches_on_the_article(tmp_path: Path, server: FeedServer) -> None:
    server.put(
        "/lakes/pier.html",
        article("pier", "The ferry pier at Orvell will be rebuilt."),
        content_type=HTML,
    )
    server.put(
        "/teasers.rss",
        f"""<?xml version="1.0"?><rss version="2.0"><channel>
<title>Lake Courier teasers</title><item><title>Lake report pier</title>
<link>{server.url("/lakes/pier.html")}</link><guid>pier</guid>
<description>Read more on our site.</description></item></channel></rss>""",
    )
    yaml = f"""\
feeds:
  - {{name: teasers, url: "{server.url("/teasers.rss")}", full_text: true, allow_private: true}}
topics:
  - {{name: ferries, query: "ferry"}}
"""
    store, pipeline = make_pipeline(tmp_path, yaml, Clock())
    with store, pipeline:
        result = pipeline.poll_one(pipeline.config.feeds[0])
        assert result.matched_topics == ("ferries",)
        item = store.items(feed="teasers")[0].item
        assert "ferry pier at Orvell" in item.content_text
        assert "Subscribe to our morning briefing" not in item.content_text


def test_discover_prints_yaml_for_the_sites_feeds(tmp_path: Path, server: FeedServer) -> None:
    from click.testing import CliRunner

    from watcher.cli import cli

    server.put("/blog", (WEB / "blog_with_alternates.html").read_bytes(), content_type=HTML)
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--config", str(config), "discover", "--allow-private", server.url("/blog")]
    )
    assert result.exit_code == 0, result.output
    pasted = load_config_text("feeds:\n" + result.stdout, "pasted.yaml")
    assert pasted.feeds and all(feed.url.startswith("http") for feed in pasted.feeds)


def test_opml_import_and_export_round_trip(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from watcher.cli import cli
    from watcher.sources.opml import parse_opml

    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n", encoding="utf-8")
    imported = CliRunner().invoke(
        cli, ["--config", str(config), "opml", "import", str(WEB / "subscriptions.opml")]
    )
    assert imported.exit_code == 0, imported.output
    assert "added" in imported.stdout  # written into feeds.yaml itself
    exported = CliRunner().invoke(cli, ["--config", str(config), "opml", "export"])
    assert exported.exit_code == 0, exported.output
    original = {f.xml_url for f in parse_opml((WEB / "subscriptions.opml").read_bytes())}
    assert {f.xml_url for f in parse_opml(exported.stdout_bytes)} == original
