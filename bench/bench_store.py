"""The store's share of a poll: record_poll of new, changed and no items (SQLite).

    python bench/bench_store.py [--feeds 200] [--items 25]

A fresh SQLite store with ``--feeds`` feeds; then, per feed, what a poll writes:
cold (``--items`` new items, one match each for one in ten), warm with one changed
item and two new ones, and a 304 (source_state + record_feed_result). Prints CPU
milliseconds per feed and per item for each; nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watcher.config import FeedConfig
from watcher.models import Hit, Item, PollOutcome, TopicMatch
from watcher.store import MatchedItem, SourceUpdate, Store

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def make_item(feed: str, number: int, version: int = 0) -> Item:
    text = f"Leaders meet in city {number} for talks on trade and security, version {version}. "
    return Item(
        feed=feed,
        key=f"https://example.org/{feed}/{number}",
        url=f"https://example.org/{feed}/{number}",
        title=f"Headline {number} v{version}",
        summary=text * 3,
        content_html=f"<p>{text * 6}</p>",
        content_text=text * 6,
        author="Desk",
        tags=("world", "politics"),
        published=NOW - timedelta(hours=number),
        updated=None,
        language="en",
        content_hash=f"{number:032x}{version:032x}",
    )


def matched(item: Item, number: int) -> MatchedItem:
    found = (
        (TopicMatch("leader-travel", 1.5, (Hit("title", 0, 8, "headline"),)),)
        if number % 10 == 0
        else ()
    )
    return MatchedItem(item, found)


def update(name: str) -> SourceUpdate:
    return SourceUpdate(
        name=name,
        polled_at=NOW,
        result=PollOutcome.NEW_ITEMS,
        next_poll_at=NOW + timedelta(minutes=15),
        etag='"v1"',
        body_hash="0" * 64,
        title="A feed",
        replace_validators=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=25)
    options = parser.parse_args()
    names = [f"feed-{n:05d}" for n in range(options.feeds)]
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'store.db'}")
        store.upgrade()
        store.sync_sources(
            [FeedConfig(name=name, url=f"https://example.org/{name}.xml") for name in names], NOW
        )

        def cold(name: str) -> None:
            items = [make_item(name, n) for n in range(options.items)]
            keys = [item.key for item in items]
            store.known_hashes(name, keys)
            store.record_poll(update(name), new=[matched(i, n) for n, i in enumerate(items)])

        def warm(name: str) -> None:
            items = [make_item(name, n) for n in range(options.items + 2)]
            store.known_hashes(name, [item.key for item in items])
            changed = [matched(make_item(name, 3, version=1), 3)]
            fresh = [matched(items[-1], 1), matched(items[-2], 2)]
            store.record_poll(update(name), new=fresh, changed=changed)

        def not_modified(name: str) -> None:
            store.source_state(name)
            store.record_feed_result(
                SourceUpdate(
                    name=name,
                    polled_at=NOW,
                    result=PollOutcome.NOT_MODIFIED,
                    next_poll_at=NOW + timedelta(minutes=15),
                )
            )

        for label, poll, items in (
            ("cold", cold, options.items),
            ("warm", warm, 3),
            ("304", not_modified, 0),
        ):
            started = time.process_time()
            for name in names:
                poll(name)
            seconds = time.process_time() - started
            per_item = f", {1000 * seconds / (items * len(names)):.3f} ms per item" if items else ""
            print(f"{label:>5}: {1000 * seconds / len(names):.2f} ms CPU per feed{per_item}")
        store.close()


if __name__ == "__main__":
    main()
