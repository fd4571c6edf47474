"""Matches as Atom feeds: the topic and digest feeds read back with feedparser, served
with ETags, and showing the stories the last digest showed."""

from __future__ import annotations

import email
import email.policy
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from tests.e2e_news import serve_news, write_news_config
from tests.feed_server import running_feed_server
from watcher.cli import cli
from watcher.clock import utc_now
from watcher.config import load_config
from watcher.daemon.endpoint import EndpointServer, Health
from watcher.outputs.publish import FeedCache, digest_feed, topic_feed
from watcher.pipeline import Pipeline
from watcher.store import Store


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    with running_feed_server() as server:
        serve_news(server)
        config = load_config(write_news_config(tmp_path, server.base_url))
        with Store.open(config.database) as store:
            store.upgrade()
            store.sync_sources(config.feeds, utc_now())
            with Pipeline(config, store) as running:
                running.poll(running.enabled_sources())
                yield running


def test_digest_feed_shows_the_stories_of_the_last_digest(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    pipeline.digests.send_digest(pipeline.config.digest("morning"))
    eml = next((tmp_path / "outbox").glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    emailed = set(re.findall(r'href="(https://[^"]+)"[^>]*>', html))
    parsed = feedparser.parse(
        digest_feed(pipeline, "morning", self_url="http://127.0.0.1/feeds/digests/morning.atom")
    )
    assert not parsed.bozo, parsed.get("bozo_exception")
    links = {entry.link for entry in parsed.entries}
    assert links == {
        "https://northwind.example/world/aldous-verania",
        "https://courier.example/asia/parade-rehearsal",
    }
    assert links <= emailed  # the feed reader sees the digest's stories


def test_topic_feed_is_valid_atom_newest_first(pipeline: Pipeline) -> None:
    body = topic_feed(pipeline, "parade-coverage", self_url="http://x/feeds/topics/p.atom")
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    assert parsed.feed.title.startswith("Parade coverage")
    titles = [entry.title for entry in parsed.entries]
    assert len(titles) == 2 and any("parade rehearsal" in t for t in titles)
    assert all(entry.get("source", {}).get("title") for entry in parsed.entries)
    assert topic_feed(pipeline, "parade-coverage", self_url="http://x/feeds/topics/p.atom") == body
    with pytest.raises(KeyError):
        topic_feed(pipeline, "nope", self_url="http://x")


def test_endpoint_serves_feeds_with_etag_and_304(pipeline: Pipeline) -> None:
    def feeds(kind: str, name: str, self_url: str) -> bytes:
        render = topic_feed if kind == "topic" else digest_feed
        return render(pipeline, name, self_url=self_url)

    server = EndpointServer(
        "127.0.0.1", 0, health=lambda: Health(True, {}), metrics=lambda: b"", feeds=feeds
    )
    server.start()
    try:
        url = server.url + "/feeds/topics/leader-travel.atom"
        with urllib.request.urlopen(url, timeout=5) as response:
            etag = response.headers["ETag"]
            assert response.headers["Content-Type"].startswith("application/atom+xml")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert not feedparser.parse(response.read()).bozo
        request = urllib.request.Request(url, headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as not_modified:
            urllib.request.urlopen(request, timeout=5)
        assert not_modified.value.code == 304
        not_modified.value.close()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.url + "/feeds/topics/nope.atom", timeout=5)
        assert missing.value.code == 404
        missing.value.close()
    finally:
        server.stop()


def test_export_feed_writes_the_same_without_the_daemon(pipeline: Pipeline) -> None:
    config_path = Path(pipeline.config.source)
    result = CliRunner().invoke(cli, ["--config", str(config_path), "export-feed", "leader-travel"])
    assert result.exit_code == 0, result.output
    parsed = feedparser.parse(result.stdout_bytes)
    assert [e.link for e in parsed.entries] == ["https://northwind.example/world/aldous-verania"]


def test_feed_cache_builds_again_only_when_the_feed_changes(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty store's feed is dated "now": one fixed now, so the two builds
    # compared below cannot straddle a second.
    fixed_now = utc_now()
    monkeypatch.setattr("watcher.outputs.publish.utc_now", lambda: fixed_now)
    cache = FeedCache(pipeline, fresh_for=0)
    url = "http://x/feeds/topics/parade-coverage.atom"
    first = cache.document("topic", "parade-coverage", url)
    assert first == topic_feed(pipeline, "parade-coverage", self_url=url)
    assert cache.document("topic", "parade-coverage", url) == first
    assert cache.builds == 1
    # Retention deletes the items: the feed shows none now, and is built again.
    pipeline.store.delete_items_before(fixed_now + timedelta(days=1), fixed_now + timedelta(days=1))
    emptied = cache.document("topic", "parade-coverage", url)
    assert cache.builds == 2
    assert emptied == topic_feed(pipeline, "parade-coverage", self_url=url) != first
    assert not feedparser.parse(emptied).entries
    with pytest.raises(KeyError):
        cache.document("topic", "nope", url)
    with pytest.raises(KeyError):
        cache.document("digest", "nope", url)


def test_feed_cache_serves_the_kept_feed_without_reading_while_fresh(pipeline: Pipeline) -> None:
    now = [100.0]
    cache = FeedCache(pipeline, fresh_for=5, clock=lambda: now[0])
    url = "http://x/feeds/digests/morning.atom"
    first = cache.document("digest", "morning", url)
    pipeline.digests.send_digest(pipeline.config.digest("morning"))  # the digest shows more
    now[0] += 4
    assert cache.document("digest", "morning", url) == first
    now[0] += 2
    fresh = cache.document("digest", "morning", url)
    assert fresh == digest_feed(pipeline, "morning", self_url=url) != first
    assert cache.builds == 2


def test_concurrent_requests_for_a_feed_share_one_build(pipeline: Pipeline) -> None:
    cache = FeedCache(pipeline, fresh_for=0)
    url = "http://x/feeds/topics/leader-travel.atom"
    with ThreadPoolExecutor(16) as pool:
        bodies = set(pool.map(lambda _: cache.document("topic", "leader-travel", url), range(64)))
    assert len(bodies) == 1 and cache.builds == 1


def test_200_concurrent_requests_through_the_endpoint_all_succeed(pipeline: Pipeline) -> None:
    cache = FeedCache(pipeline)
    server = EndpointServer(
        "127.0.0.1", 0, health=lambda: Health(True, {}), metrics=lambda: b"", feeds=cache.document
    )
    server.start()
    url = server.url + "/feeds/topics/leader-travel.atom"

    def get(_: int) -> tuple[int, str]:
        with urllib.request.urlopen(url, timeout=20) as response:
            response.read()
            return response.status, response.headers["ETag"]

    try:
        with ThreadPoolExecutor(200) as pool:
            replies = list(pool.map(get, range(200)))
    finally:
        server.stop()
    assert {status for status, _ in replies} == {200}
    assert len({etag for _, etag in replies}) == 1
    assert cache.builds == 1
