"""The offline demo: sample feeds served locally, polled, matched and written as a digest."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from watcher.config import load_config
from watcher.demo import (
    DEMO_RECIPIENT,
    DemoResult,
    demo_topics,
    render_outlet,
    run_demo,
)
from watcher.demo.feeds import DEMO_OUTLETS, Coverage, DemoOutlet
from watcher.sources.feeds import parse_feed

REPOSITORY_FEEDS_YAML = Path(__file__).resolve().parents[1] / "feeds.yaml"


def article_urls(coverage: Coverage) -> dict[str, DemoOutlet]:
    """URL -> outlet of every sample article of the given coverage."""
    return {
        outlet.article_url(article): outlet
        for outlet in DEMO_OUTLETS
        for article in outlet.articles
        if article.coverage == coverage
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("demo"))


def read_message(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_digest_lists_every_write_up_of_the_parade_trip(demo: DemoResult) -> None:
    html = demo.html_path.read_text(encoding="utf-8")
    parade_trip = article_urls("parade-trip")
    missing = [url for url in parade_trip if url not in html]
    assert not missing
    # One event, written up by several outlets, not one outlet's story repeated.
    assert len({outlet.name for outlet in parade_trip.values()}) >= 4
    for outlet in set(parade_trip.values()):
        assert outlet.title in html


def test_digest_leaves_out_confusers_and_unrelated_news(demo: DemoResult) -> None:
    html = demo.html_path.read_text(encoding="utf-8")
    for coverage in ("confuser", "unrelated"):
        shown = [url for url in article_urls(coverage) if url in html]
        assert not shown, f"{coverage} articles in the digest: {shown}"
    # Write-ups grouped into one story are listed once, the others as its sources.
    assert 1 <= demo.digest_item_count <= len(article_urls("parade-trip"))


def test_demo_counts_every_feed_and_item(demo: DemoResult) -> None:
    assert demo.feed_count == len(DEMO_OUTLETS)
    assert demo.item_count == sum(len(outlet.articles) for outlet in DEMO_OUTLETS)
    # Most write-ups match both topics; no item matches a topic twice.
    trip = len(article_urls("parade-trip"))
    assert trip < demo.match_count <= 2 * trip


def test_digest_files_are_in_the_outbox(demo: DemoResult) -> None:
    assert demo.html_path.is_file()
    assert demo.eml_path.is_file()
    assert demo.html_path.parent == demo.eml_path.parent
    assert demo.html_path.parent.name == "outbox"
    message = read_message(demo.eml_path)
    assert message["To"] == DEMO_RECIPIENT
    assert f"{demo.digest_item_count} new" in str(message["Subject"])
    plain = message.get_body(preferencelist=("plain",))
    assert isinstance(plain, EmailMessage)
    text = plain.get_content()
    missing = [url for url in article_urls("parade-trip") if url not in text]
    assert not missing  # every write-up, as an entry or as another source of its story


@pytest.mark.slow
def test_second_run_in_the_same_folder_writes_the_same_digest(tmp_path: Path) -> None:
    first = run_demo(tmp_path)
    first_html = first.html_path.read_bytes()
    second = run_demo(tmp_path)
    # A fresh database each run: the items are new again and the digest is identical.
    assert second.item_count == first.item_count
    assert second.html_path == first.html_path
    assert second.html_path.read_bytes() == first_html


@pytest.mark.parametrize("outlet", DEMO_OUTLETS, ids=lambda outlet: outlet.name)
def test_each_sample_feed_parses_into_its_articles(outlet: DemoOutlet) -> None:
    document = render_outlet(outlet)
    parsed = parse_feed(
        document.body,
        feed=outlet.name,
        url=f"http://127.0.0.1/{outlet.name}",
        headers={"content-type": document.content_type},
    )
    assert parsed.title == outlet.title
    assert {item.url for item in parsed.items} == {
        outlet.article_url(article) for article in outlet.articles
    }
    published = {item.url: item.published for item in parsed.items}
    for article in outlet.articles:
        assert published[outlet.article_url(article)] == article.published


def test_sample_day_mixes_rss_and_atom() -> None:
    assert {outlet.syndication for outlet in DEMO_OUTLETS} == {"rss", "atom"}


def test_demo_topics_are_loaded_and_validated_from_the_package() -> None:
    topics = demo_topics()
    assert topics == load_config(REPOSITORY_FEEDS_YAML, environ={}).topics
    assert all(topic.query.strip() for topic in topics)
