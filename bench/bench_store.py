"""The store's share of a poll: record_poll of new, changed and no items (SQLite),
and the parse of a changed feed whose other entries were seen last time.

    python bench/bench_store.py [--feeds 200] [--items 25] [--threads 16]

A fresh SQLite store with ``--feeds`` feeds; then, per feed, what a poll writes:
cold (``--items`` new items, one match each for one in ten), warm with one changed
item and two new ones, and a 304 (source_state + record_feed_result), the 304s once
in one thread and once from ``--threads`` threads at a time, as a poll's threads
write them. Then ``--feeds`` farm feeds (bench/farm.py) that gained 1-3 entries
are parsed with every entry new, and with the entries of their previous body seen
(issue #18). Prints CPU milliseconds per feed and per item for each (and wall for
the threads); nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watcher.config import FeedConfig
from watcher.models import Hit, Item, PollOutcome, TopicMatch
from watcher.sources.feeds import ParsedFeed, parse_feed
from watcher.store import MatchedItem, SourceUpdate, Store

sys.path.insert(0, str(Path(__file__).resolve().parent))

import farm

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
    parser.add_argument("--threads", type=int, default=16)
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
            print(f"{label:>9}: {1000 * seconds / len(names):.2f} ms CPU per feed{per_item}")
        with ThreadPoolExecutor(options.threads) as pool:
            started, wall = time.process_time(), time.perf_counter()
            list(pool.map(not_modified, names))
            seconds, wall = time.process_time() - started, time.perf_counter() - wall
        print(
            f"{f'304 x{options.threads}':>9}: {1000 * seconds / len(names):.2f} ms CPU per feed, "
            f"{1000 * wall / len(names):.2f} ms wall per feed"
        )
        store.close()
    bench_parse(options.feeds)


def bench_parse(count: int) -> None:
    """Parse changed farm feeds with every entry new, then with last time's seen."""
    feed_farm = farm.FeedFarm(count, seed=20250601)
    before = {feed.number: feed.rendered for feed in feed_farm.feeds}
    feed_farm.advance(1.0)
    url = "http://news.example/feed.xml"

    def parse(body: bytes, content_type: str, seen: frozenset[str]) -> ParsedFeed:
        headers = {"content-type": content_type}
        if not seen:  # also a checkout from before the entry digests
            return parse_feed(body, feed="farm", url=url, headers=headers)
        return parse_feed(body, feed="farm", url=url, headers=headers, seen_entries=seen)

    seen: dict[int, frozenset[str]] = {}
    for number, rendered in before.items():
        assert rendered is not None
        digests = getattr(
            parse(rendered.body, rendered.content_type, frozenset()), "entry_digests", None
        )
        seen[number] = frozenset(digests or ())
    random.Random(1).shuffle(feed_farm.feeds)
    for label, skipping in (("parse", False), ("parse seen", True)):
        started = time.process_time()
        entries = 0
        for feed in feed_farm.feeds:
            assert feed.rendered is not None
            parsed = parse(
                feed.rendered.body,
                feed.rendered.content_type,
                seen[feed.number] if skipping else frozenset(),
            )
            entries += len(parsed.items) + getattr(parsed, "unchanged", 0)
        seconds = time.process_time() - started
        print(
            f"{label:>9}: {1000 * seconds / count:.2f} ms CPU per changed feed "
            f"({entries / count:.1f} entries)"
        )


if __name__ == "__main__":
    main()
