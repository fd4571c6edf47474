"""Five outlets, one event: the shared seed articles, served as five feeds among other
news, become one story with five sources in the digest."""

from __future__ import annotations

import email
import email.policy
from html import escape
from pathlib import Path

from tests.conftest import REPO, shared_dir
from tests.feed_server import running_feed_server
from watcher.clock import utc_now
from watcher.config import load_config
from watcher.pipeline import Pipeline
from watcher.store import Store

DISTRACTORS = [
    (
        "Harbour strike ends after pay deal",
        "Dockworkers in the port city voted to accept a "
        "three-year pay offer, ending a strike that had idled cranes for nine days.",
    ),
    (
        "Glacier survey finds faster melt",
        "Researchers measuring the northern ice field say it "
        "lost more mass this summer than in any year since records began.",
    ),
]


def rss(title: str, items: list[tuple[str, str, str]]) -> str:
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<description>{escape(text)}</description></item>"
        for t, text, link in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title>{entries}</channel></rss>"
    )


def test_five_seed_write_ups_are_one_story_with_five_sources(tmp_path: Path) -> None:
    seeds = sorted(shared_dir("seeds").glob("*.txt"))
    assert len(seeds) == 5
    with running_feed_server() as server:
        feeds = []
        for number, path in enumerate(seeds):
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            items = [(lines[0], "\n".join(lines[1:]), f"https://outlet{number}.example/story")]
            if number < len(DISTRACTORS):
                title, text = DISTRACTORS[number]
                items.append((title, text, f"https://outlet{number}.example/other"))
            server.put(f"/outlet{number}.rss", rss(f"Outlet {number}", items))
            feeds.append(
                f'  - {{name: outlet{number}, title: "Outlet {number}", '
                f'url: "{server.url(f"/outlet{number}.rss")}", allow_private: true}}'
            )
        shipped = (REPO / "feeds.yaml").read_text(encoding="utf-8")
        topics = shipped[shipped.index("topics:") : shipped.index("digests:")]
        config_path = tmp_path / "feeds.yaml"
        config_path.write_text(
            f"database: sqlite:///{tmp_path}/watcher.db\noutbox: {tmp_path}/outbox\n"
            "defaults: {per_host_delay: 0.001s, per_host_concurrency: 5}\nfeeds:\n"
            + "\n".join(feeds)
            + "\n"
            + topics
            + "digests:\n  - {name: morning, title: Morning digest, recipients: [d@example.org],"
            " topics: [leader-travel, parade-coverage], schedule: '0 7 * * *'}\n",
            encoding="utf-8",
        )
        config = load_config(config_path)
        with Store.open(config.database) as store:
            store.upgrade()
            store.sync_sources(config.sources, utc_now())
            with Pipeline(config, store) as pipeline:
                pipeline.poll(pipeline.enabled_sources())
                [outcome] = pipeline.digests.send_digest(config.digest("morning"))
    assert (outcome.status, outcome.items) == ("sent", 1)  # one story, not five alerts
    message = email.message_from_bytes(
        next((tmp_path / "outbox").glob("*.eml")).read_bytes(), policy=email.policy.default
    )
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    for number in range(5):
        assert f"https://outlet{number}.example/story" in text
    assert "Also reported by" in text
    assert ".example/other" not in text  # the unrelated news stays out
