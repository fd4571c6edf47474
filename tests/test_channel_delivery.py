"""Digests through channels with outbox semantics: claimed once, each target retried alone."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.feed_server import SHUTDOWN_POLL_SECONDS
from watcher.config import Config, DigestConfig, FeedConfig, TopicConfig
from watcher.models import Hit, Item, TopicMatch
from watcher.pipeline import Pipeline
from watcher.store import MatchedItem, SourceUpdate, Store

NOW = datetime(2026, 9, 2, 7, tzinfo=UTC)


class Hook(ThreadingHTTPServer):
    """A webhook receiver that answers ``status`` and keeps every body it got."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HookHandler)
        self.status = 200
        self.bodies: list[dict[str, object]] = []
        self.keys: list[str] = []

    @property
    def url(self) -> str:
        return f"webhook+http://127.0.0.1:{self.server_address[1]}/hook"


class _HookHandler(BaseHTTPRequestHandler):
    server: Hook

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        if self.server.status == 200:
            self.server.bodies.append(body)
            self.server.keys.append(self.headers.get("Idempotency-Key", ""))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def hooks() -> Iterator[tuple[Hook, Hook]]:
    servers = (Hook(), Hook())
    threads = [
        threading.Thread(target=s.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True)
        for s in servers
    ]
    for thread in threads:
        thread.start()
    try:
        yield servers
    finally:
        for server, thread in zip(servers, threads, strict=True):
            server.shutdown()
            server.server_close()
            thread.join()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_a_failing_channel_is_retried_alone_and_never_doubles_the_others(
    tmp_path: Path, hooks: tuple[Hook, Hook]
) -> None:
    good, flaky = hooks
    flaky.status = 503
    digest = DigestConfig(
        name="alerts",
        recipients=("desk@example.org",),
        topics=("travel",),
        channels=(good.url, flaky.url),
        schedule="0 7 * * *",
    )
    config = Config(
        database=f"sqlite:///{tmp_path / 'watcher.db'}",
        outbox=str(tmp_path / "outbox"),
        feeds=(FeedConfig(name="wire", url="http://127.0.0.1:9/x", title="Northwind Wire"),),
        topics=(TopicConfig(name="travel", title="Leader travel", query="visit"),),
        digests=(digest,),
    )
    clock = Clock()
    with Store.open(config.database) as store:
        store.upgrade()
        store.sync_sources(config.feeds, NOW)
        item = Item(
            feed="wire",
            key="v1",
            url="https://northwind.example/v1",
            title="Premier opens state visit to Arland",
            summary="Talks on grain.",
            content_hash="v1",
        )
        store.record_poll(
            SourceUpdate(name="wire", polled_at=NOW, result="new_items", next_poll_at=NOW),
            new=[MatchedItem(item, (TopicMatch("travel", 1.0, (Hit("title", 25, 30, "visit"),)),))],
        )
        with Pipeline(config, store, clock=clock) as pipeline:
            first = pipeline.digests.send_digest(digest)
            assert [o.status for o in first] == ["retry"]
            assert len(good.bodies) == 1 and not flaky.bodies
            assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
            flaky.status = 200
            clock.now += timedelta(hours=2)
            second = pipeline.digests.send_digest(digest)
            assert [o.status for o in second] == ["sent"]
            clock.now += timedelta(hours=2)
            assert pipeline.digests.send_digest(digest) == []
    assert len(good.bodies) == 1  # never doubled by the other channel's retry
    assert len(flaky.bodies) == 1
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert good.keys == flaky.keys  # one digest run, one idempotency key everywhere
    payload = flaky.bodies[0]
    assert "Premier opens state visit to Arland" in str(payload["text"])
    assert payload["idempotency_key"] == good.keys[0].strip('"')
