"""A small news day in our own words for end-to-end tests: two feeds, two topics, a digest."""

from __future__ import annotations

from pathlib import Path

from tests.feed_server import FeedServer

DATA = Path(__file__).parent / "data" / "e2e"

CONFIG = """\
database: sqlite:///{tmp}/watcher.db
outbox: {tmp}/outbox
defaults:
  interval: 15m
  per_host_delay: 0.01s
feeds:
  - name: wire
    title: Northwind Wire
    url: {base}/wire.rss
    allow_private: true
  - name: courier
    url: {base}/courier.atom
    allow_private: true
topics:
  - name: leader-travel
    title: Leader travel
    query: (premier OR president OR "prime minister") AND (visit* OR depart*)
  - name: parade-coverage
    title: Parade coverage
    query: parade AND (military OR tanks OR troops)
digests:
  - name: morning
    title: Morning digest
    recipients: [desk@example.org]
    topics: [leader-travel, parade-coverage]
    schedule: "0 7 * * *"
    timezone: Europe/Berlin
"""


def serve_news(server: FeedServer) -> None:
    """Put the two fixture feeds on ``server``."""
    server.put("/wire.rss", (DATA / "wire.rss").read_bytes())
    server.put(
        "/courier.atom", (DATA / "courier.atom").read_bytes(), content_type="application/atom+xml"
    )


def write_news_config(folder: Path, base_url: str) -> Path:
    """feeds.yaml for the news day, with its database and outbox in ``folder``."""
    path = folder / "feeds.yaml"
    path.write_text(CONFIG.format(tmp=folder, base=base_url), encoding="utf-8")
    return path
