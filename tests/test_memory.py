"""Memory bounded under load (issue #16): the tokenizer, the story window, the daemon.

The quick tests measure with tracemalloc what one text or one indexed item costs;
the slow one runs `watcher run` as a process against a local server whose feeds
bring more than 12,000 new items, and reads the daemon's RSS from /proc.
"""

from __future__ import annotations

import gc
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.feed_server import serving
from watcher.cluster import StoryIndex, fingerprint
from watcher.match.item_text import ItemText
from watcher.models import Item
from watcher.store import ItemRow, Store

REPO = Path(__file__).resolve().parents[1]
HAS_PROC = Path("/proc/self/status").exists()

# What README's Performance section states; the measured figures are below these.
TOKENIZER_BYTES_PER_CHAR = {"latin": 12, "cjk": 40}
STORY_INDEX_BYTES_PER_ITEM = 1024


def _words(rng: random.Random, count: int) -> str:
    syllables = ["ka", "lo", "mi", "ren", "sto", "va", "dor", "bel", "tri", "nu", "gas", "pol"]
    return " ".join(
        "".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(count)
    )


def _cjk(rng: random.Random, count: int) -> str:
    characters = "北京阅兵首相访问峰会总统主席抵达国事军事金正恩習近平会談訪問김정은방문"
    return "".join(rng.choice(characters + "。、 ") for _ in range(count))


def _peak_bytes(make: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        kept = make()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del kept
    return peak


@pytest.mark.parametrize("script", ["latin", "cjk"])
def test_tokenized_item_costs_a_small_multiple_of_its_text(script: str) -> None:
    rng = random.Random(16)
    text = _words(rng, 40_000) if script == "latin" else _cjk(rng, 200_000)
    item = Item(feed="f", key="k", url=None, title=text, summary="")
    peak = _peak_bytes(lambda: ItemText(item))
    assert peak / len(text) < TOKENIZER_BYTES_PER_CHAR[script], (
        f"{peak / len(text):.1f} bytes per character"
    )


def test_story_index_holds_no_python_objects_per_item() -> None:
    """Its items live in SQLite's page cache: the Python heap does not grow with them."""
    rng = random.Random(7)
    published = datetime(2025, 9, 2, tzinfo=UTC)
    fingerprints = [fingerprint(_words(rng, 8).title(), _words(rng, 120) + ".") for _ in range(400)]
    index = StoryIndex()
    for number, fp in enumerate(fingerprints[:100]):
        index.place(number, fp, published + timedelta(seconds=number))  # warm-up
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number, fp in enumerate(fingerprints[100:], start=100):
            index.place(number, fp, published + timedelta(seconds=number))
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(index) == 400
    per_item = grown / 300
    assert per_item < STORY_INDEX_BYTES_PER_ITEM, f"{per_item:.0f} bytes per item"
    # The items are there: a copy of the first joins its story.
    assert index.assign(fingerprints[0], published).duplicate_of == 0
    index.close()


def _rss_kib(pid: int) -> int:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert found is not None
    return int(found.group(1))


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc for RSS")
def test_story_index_memory_is_its_page_cache() -> None:
    """RSS grows by the cache (256 KiB here), not by the 1,500 items put in the index."""
    rng = random.Random(9)
    published = datetime(2025, 9, 2, tzinfo=UTC)
    fingerprints = [fingerprint(_words(rng, 8), _words(rng, 120)) for _ in range(300)]
    index = StoryIndex(cache_kib=256)
    number = 0

    def fill(count: int) -> None:
        nonlocal number
        for _ in range(count):
            index.add(number, number, fingerprints[number % 300], published)
            number += 1

    fill(500)
    gc.collect()
    warm = _rss_kib(os.getpid())
    fill(1500)
    gc.collect()
    grown = _rss_kib(os.getpid()) - warm
    index.close()
    # 1,500 items at the bound would be 1,500 KiB; allocator noise is well below.
    assert grown < 1500 * STORY_INDEX_BYTES_PER_ITEM // 1024, f"RSS grew {grown} KiB"


# The daemon run: FEEDS feeds, each bringing BATCH new items a poll, BATCHES times.
FEEDS = 50
BATCH = 40
BATCHES = 7
WARM_UP_ITEMS = 2_000
NEW_ITEMS = 12_000
RSS_GROWTH_KIB = 30 * 1024
STALL_SECONDS = 600  # a hang guard for a loaded machine, not a speed requirement


class Wire(ThreadingHTTPServer):
    """Feeds whose every poll brings a fresh batch of items, until BATCHES are out."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _WireDesk)
        self.lock = threading.Lock()
        self.batches = dict.fromkeys(range(FEEDS), 0)

    def document(self, feed: int) -> bytes:
        with self.lock:
            batch = min(self.batches[feed], BATCHES - 1)
            self.batches[feed] += 1
        rng = random.Random(feed * 1000 + batch)
        items = []
        for number in range(batch * BATCH, (batch + 1) * BATCH):
            # Names and words of their own, as news has: the story window's
            # vocabulary grows with the items, as it does in a real day.
            lead = "Premier visits" if number % 200 == 0 else _words(rng, 6).title()
            items.append(
                f"<item><title>{lead} {feed}-{number}</title><guid>w{feed}-{number}</guid>"
                f"<link>https://wire.example/{feed}/{number}</link>"
                f"<description>{_words(rng, 25)}. {_words(rng, 10).title()}.</description>"
                "</item>"
            )
        head = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire {feed}</title>'
        return (head + "".join(items) + "</channel></rss>").encode()


class _WireDesk(BaseHTTPRequestHandler):
    server: Wire

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        found = re.fullmatch(r"/wire/(\d+)\.xml", self.path)
        if found is None:
            self.send_error(404)
            return
        body = self.server.document(int(found.group(1)))
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return


@pytest.fixture
def wire() -> Iterator[Wire]:
    with serving(Wire()) as server:
        yield server


def _items_in_stories(database: str) -> int:
    with Store.open(database) as store, store.engine.connect() as db:
        found = db.scalar(
            select(func.count()).select_from(ItemRow).where(ItemRow.story_id.is_not(None))
        )
    return int(found or 0)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PROC, reason="needs /proc for RSS")
def test_daemon_rss_flat_over_12000_new_items(tmp_path: Path, wire: Wire) -> None:
    port = wire.server_address[1]
    feeds = "\n".join(
        f'  - {{name: wire-{n}, url: "http://127.0.0.1:{port}/wire/{n}.xml", '
        f"interval: 1s, allow_private: true}}"
        for n in range(FEEDS)
    )
    config = tmp_path / "feeds.yaml"
    config.write_text(
        f"""\
database: sqlite:///{tmp_path}/watcher.db
daemon: {{dispatch_interval: 0.5s, shutdown_wait: 10s}}
defaults: {{timeout: 5s, per_host_concurrency: 8, per_host_delay: 0.01s, workers: 8}}
feeds:
{feeds}
topics:
  - {{name: travel, query: "premier AND visits"}}
digests:
  - {{name: alerts, recipients: [desk@example.org], topics: [travel], immediate: true}}
""",
        encoding="utf-8",
    )
    database = f"sqlite:///{tmp_path}/watcher.db"
    watcher = [sys.executable, "-m", "watcher", "--config", str(config)]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    # Migrated first, so the test can count from the start.
    subprocess.run([*watcher, "db", "upgrade"], cwd=tmp_path, env=environment, check=True)
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w", encoding="utf-8") as log:
        daemon = subprocess.Popen(
            [*watcher, "run"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=environment
        )

        def wait_for(items: int) -> None:
            deadline = time.monotonic() + STALL_SECONDS
            while _items_in_stories(database) < items:
                assert daemon.poll() is None, f"the daemon exited:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, f"stalled below {items} items"
                time.sleep(0.5)

        try:
            wait_for(WARM_UP_ITEMS)
            warm = _rss_kib(daemon.pid)
            wait_for(WARM_UP_ITEMS + NEW_ITEMS)
            end = _rss_kib(daemon.pid)
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=60)
    output = log_path.read_text()
    assert code == 0, output
    assert "Traceback" not in output
    assert FEEDS * BATCH * BATCHES >= WARM_UP_ITEMS + NEW_ITEMS
    print(f"daemon RSS {warm} KiB after warm-up, {end} KiB after {NEW_ITEMS} more items")
    assert end - warm < RSS_GROWTH_KIB, f"RSS grew from {warm} KiB to {end} KiB"
