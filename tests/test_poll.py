"""poll_feed and Pipeline.poll: pure decisions, and behaviour against real servers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

import watcher.poll.cpu as poll_module
import watcher.sources.feedentries as feedentries
import watcher.store as store_module
from tests.chaos_server import ChaosServer, running_chaos_server
from tests.feed_server import FeedServer, running_feed_server
from watcher.config import Config, Defaults, FeedConfig, TopicConfig
from watcher.models import Item, PollOutcome
from watcher.pipeline import Pipeline
from watcher.poll import (
    adaptive_interval,
    backoff_delay,
    success_interval,
    triage_items,
)
from watcher.poll.common import NotModifiedWrites
from watcher.poll.cpu import PROCESS_POOL_MIN_SOURCES
from watcher.sources.hints import parse_max_age as max_age
from watcher.store import SourceUpdate, Store, records

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def item(key: str, content_hash: str) -> Item:
    return Item(feed="f", key=key, url=None, title=key, summary="", content_hash=content_hash)


def test_triage_splits_new_changed_and_unchanged() -> None:
    triage = triage_items([item("a", "1"), item("b", "2"), item("c", "3")], {"b": "2", "c": "old"})
    assert [i.key for i in triage.new] == ["a"]
    assert [i.key for i in triage.changed] == ["c"]
    assert triage.unchanged == 1


def test_backoff_doubles_is_capped_and_jittered() -> None:
    rng = random.Random(7)
    interval, cap = timedelta(minutes=10), timedelta(hours=2)
    delays = [backoff_delay(n, interval, cap, rng) for n in range(1, 8)]
    for n, delay in enumerate(delays[:4], start=1):
        expected = interval * 2 ** (n - 1)
        assert expected * 0.8 <= delay <= expected * 1.2
    assert all(delay <= cap * 1.2 for delay in delays)
    assert delays[-1] >= cap * 0.8


def test_feed_hints_only_lengthen_the_interval_within_a_day() -> None:
    fifteen = timedelta(minutes=15)
    assert success_interval(fifteen, None) == fifteen
    assert success_interval(fifteen, timedelta(minutes=5)) == fifteen
    assert success_interval(fifteen, timedelta(hours=2)) == timedelta(hours=2)
    assert success_interval(fifteen, timedelta(days=7)) == timedelta(days=1)


@pytest.fixture
def chaos() -> Iterator[ChaosServer]:
    with running_chaos_server() as server:
        yield server


def make_config(tmp_path: Path, feeds: list[FeedConfig], processes: int = 1) -> Config:
    return Config(
        database=f"sqlite:///{tmp_path / 'watcher.db'}",
        outbox=str(tmp_path / "outbox"),
        defaults=Defaults(
            per_host_concurrency=8,
            per_host_delay=timedelta(milliseconds=1),
            # One total deadline per fetch (queueing for a host slot excluded): roomy,
            # so a loaded machine polling 500 local feeds does not time one out.
            timeout=timedelta(seconds=15),
            connect_timeout=timedelta(seconds=5),
            max_body_bytes=1024 * 1024,
            processes=processes,
        ),
        feeds=tuple(feeds),
        topics=(TopicConfig(name="tides", query="tide*"),),
    )


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def open_pipeline(config: Config, clock: Clock) -> tuple[Store, Pipeline]:
    store = Store.open(config.database)
    store.upgrade()
    store.sync_sources(config.feeds, clock())
    return store, Pipeline(config, store, clock=clock, rng=random.Random(1))


@pytest.mark.slow
def test_500_feeds_twice_store_every_item_once_and_parse_nothing_the_second_time(
    tmp_path: Path, chaos: ChaosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = [
        FeedConfig(name=f"feed-{n}", url=chaos.url(f"/feeds/{n}.xml"), allow_private=True)
        for n in range(500)
    ]
    config = make_config(tmp_path, feeds)  # one process, so every parse is counted here
    clock = Clock(NOW)
    store, pipeline = open_pipeline(config, clock)
    parsed: list[str] = []
    real_parse = poll_module.parse_feed

    def counting_parse(body: bytes, **kwargs: object) -> object:
        parsed.append(str(kwargs["feed"]))
        return real_parse(body, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(poll_module, "parse_feed", counting_parse)
    with store, pipeline:
        first = pipeline.poll(pipeline.enabled_sources())
        assert {r.result for r in first} == {"new_items"}
        per_feed = chaos.feeds_per_document
        assert sum(r.new_items for r in first) == 500 * per_feed
        assert len(parsed) == 500
        clock.now += timedelta(hours=1)
        second = pipeline.poll(pipeline.enabled_sources())
        assert {r.result for r in second} == {"not_modified"}
        assert len(parsed) == 500  # nothing parsed on the second poll
        with store.engine.connect() as connection:
            from sqlalchemy import func, select

            total = connection.scalar(select(func.count()).select_from(store_module.ItemRow))
            distinct = connection.scalar(
                select(func.count()).select_from(
                    select(store_module.ItemRow.feed_id, store_module.ItemRow.key)
                    .distinct()
                    .subquery()
                )
            )
        assert total == distinct == 500 * per_feed
        assert store.source_state("feed-7").etag is not None


def test_sources_that_answer_304_cost_two_statements_in_a_poll_of_many(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    """Issue #18: the states of a poll's sources are read together (one SELECT per 500),
    and their 304s written together (one executemany UPDATE per 250), each still
    recorded on its own source."""
    feeds = [
        FeedConfig(name=f"feed-{n}", url=chaos.url(f"/feeds/{n}.xml"), allow_private=True)
        for n in range(40)
    ]
    clock = Clock(NOW)
    store, pipeline = open_pipeline(make_config(tmp_path, feeds), clock)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    with store, pipeline:
        pipeline.poll(pipeline.enabled_sources())
        clock.now += timedelta(hours=1)
        event.listen(store.engine, "before_cursor_execute", record)
        try:
            second = pipeline.poll(pipeline.enabled_sources())
        finally:
            event.remove(store.engine, "before_cursor_execute", record)
    assert {r.result for r in second} == {"not_modified"}
    assert statements.count("SELECT") == 1
    assert statements.count("UPDATE") == 1
    assert statements.count("INSERT") == statements.count("DELETE") == 0
    for feed in feeds:
        state = store.source_state(feed.name)
        assert (state.last_polled_at, state.error_count) == (clock.now, 0)


def test_not_modified_writes_go_out_a_batch_at_a_time_and_at_the_end(tmp_path: Path) -> None:
    feeds = [FeedConfig(name=f"feed-{n}", url=f"https://example.org/{n}.xml") for n in range(5)]
    store, pipeline = open_pipeline(make_config(tmp_path, feeds), Clock(NOW))
    later = NOW + timedelta(hours=1)
    with store, pipeline:
        writes = NotModifiedWrites(store, batch=2)
        for feed in feeds:
            writes.add(
                SourceUpdate(
                    name=feed.name,
                    polled_at=later,
                    result=PollOutcome.NOT_MODIFIED,
                    next_poll_at=later + timedelta(hours=1),
                )
            )
        # Two full batches are written; the fifth waits for the end of the poll.
        assert [store.source_state(f.name).last_polled_at for f in feeds] == [later] * 4 + [None]
        writes.flush()
        assert store.source_state("feed-4").last_polled_at == later


def test_source_states_reads_the_known_ones_in_chunks(tmp_path: Path) -> None:
    feeds = [FeedConfig(name=f"feed-{n}", url=f"https://example.org/{n}.xml") for n in range(1203)]
    store, pipeline = open_pipeline(make_config(tmp_path, feeds), Clock(NOW))
    with store, pipeline:
        states = store.source_states([f.name for f in feeds] + ["not-configured"])
        assert sorted(states) == sorted(f.name for f in feeds)
        assert states["feed-1202"] == store.source_state("feed-1202")


@pytest.mark.parametrize(
    ("path", "result", "kind", "disabled"),
    [
        ("/status/500", "failed", "http_server", False),
        ("/status/404", "failed", "http_client", False),
        ("/status/410", "gone", "gone", True),
        ("/html", "failed", "parse", False),
        ("/empty", "failed", "parse", False),
        ("/loop/a", "failed", "redirect_loop", False),
        ("/gzip-bomb", "failed", "too_large", False),
    ],
)
def test_failures_are_recorded_on_the_feed(
    tmp_path: Path, chaos: ChaosServer, path: str, result: str, kind: str, disabled: bool
) -> None:
    config = make_config(
        tmp_path, [FeedConfig(name="bad", url=chaos.url(path), allow_private=True)]
    )
    clock = Clock(NOW)
    store, pipeline = open_pipeline(config, clock)
    with store, pipeline:
        outcome = pipeline.poll_one(config.feeds[0])
        assert (outcome.result, outcome.error_kind) == (result, kind)
        state = store.source_state("bad")
        assert state.error_count == 1
        assert state.last_error is not None and state.last_error.startswith(kind)
        assert state.next_poll_at is not None and state.next_poll_at > NOW
        assert (state.disabled_reason is not None) is disabled
        assert store.items(feed="bad") == []
        if disabled:
            assert store.count_due_sources(NOW + timedelta(days=30)) == 0


def test_retry_after_sets_the_next_poll(tmp_path: Path, chaos: ChaosServer) -> None:
    config = make_config(
        tmp_path, [FeedConfig(name="busy", url=chaos.url("/rate-limited"), allow_private=True)]
    )
    clock = Clock(NOW)
    store, pipeline = open_pipeline(config, clock)
    with store, pipeline:
        outcome = pipeline.poll_one(config.feeds[0])
        assert outcome.error_kind == "rate_limited"
        next_poll = store.source_state("busy").next_poll_at
        assert next_poll is not None and next_poll >= NOW + timedelta(seconds=120)


def test_errors_reset_on_success_and_301_moves_the_feed(tmp_path: Path, chaos: ChaosServer) -> None:
    config = make_config(
        tmp_path, [FeedConfig(name="moving", url=chaos.url("/moved"), allow_private=True)]
    )
    clock = Clock(NOW)
    store, pipeline = open_pipeline(config, clock)
    with store, pipeline:
        store.record_feed_result(
            store_module.SourceUpdate(
                name="moving",
                polled_at=NOW,
                result="failed:timeout",
                next_poll_at=NOW,
                error_count=3,
                last_error="timeout: earlier",
            )
        )
        outcome = pipeline.poll_one(config.feeds[0])
        assert outcome.result == "new_items"
        assert outcome.moved_to == chaos.url("/feed.xml")
        state = store.source_state("moving")
        assert state.url == chaos.url("/feed.xml")
        assert (state.error_count, state.last_error) == (0, None)
        matched = store.items(topic="tides")
        assert len(matched) == len(store.items(feed="moving")) == 3


def test_truncated_feed_keeps_recovered_items_and_the_bozo_reason(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    config = make_config(
        tmp_path, [FeedConfig(name="cut", url=chaos.url("/truncated"), allow_private=True)]
    )
    clock = Clock(NOW)
    store, pipeline = open_pipeline(config, clock)
    with store, pipeline:
        outcome = pipeline.poll_one(config.feeds[0])
        assert outcome.result == "new_items"
        assert outcome.new_items >= 2
        status = {s.state.name: s for s in store.source_statuses()}["cut"]
        assert status.items == outcome.new_items
        with store.engine.connect() as connection:
            from sqlalchemy import select

            bozo = connection.scalar(select(store_module.FeedRow.bozo_reason))
        assert bozo


def killed_before_feed_state(*_args: object) -> None:
    """Stands in for the feed-state write: the process dies after the items' writes."""
    raise KeyboardInterrupt("killed between writing items and writing feed state")


def test_a_crash_between_items_and_feed_state_leaves_both_as_before(
    tmp_path: Path, chaos: ChaosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(
        tmp_path, [FeedConfig(name="harbour", url=chaos.url("/feed.xml"), allow_private=True)]
    )
    clock = Clock(NOW)
    store, pipeline = open_pipeline(config, clock)
    real_apply = records.apply_feed_update

    with store, pipeline:
        monkeypatch.setattr(records, "apply_feed_update", killed_before_feed_state)
        with pytest.raises(KeyboardInterrupt):
            pipeline.poll_one(config.feeds[0])
        assert store.items(feed="harbour") == []
        assert store.source_state("harbour").etag is None
        monkeypatch.setattr(records, "apply_feed_update", real_apply)
        outcome = pipeline.poll_one(config.feeds[0])
        assert outcome.new_items == 3
        assert store.source_state("harbour").etag is not None


def test_adaptive_interval_follows_the_posting_rate_within_bounds() -> None:
    hourly = [NOW - timedelta(hours=h) for h in range(10)]
    bounds = {"lower": timedelta(minutes=5), "upper": timedelta(hours=6)}
    fallback = timedelta(minutes=15)
    assert adaptive_interval(hourly, now=NOW, fallback=fallback, **bounds) == timedelta(minutes=30)
    busy = [NOW - timedelta(minutes=m) for m in range(10)]
    assert adaptive_interval(busy, now=NOW, fallback=fallback, **bounds) == timedelta(minutes=5)
    quiet = [NOW - timedelta(days=d + 3) for d in range(3)]
    assert adaptive_interval(quiet, now=NOW, fallback=fallback, **bounds) == timedelta(hours=6)
    assert adaptive_interval([NOW], now=NOW, fallback=fallback, **bounds) == fallback


def test_cache_control_max_age_is_read() -> None:
    assert max_age({"cache-control": "public, max-age=3600"}) == timedelta(hours=1)
    assert max_age({"cache-control": "no-cache"}) is None
    assert max_age({}) is None


@pytest.mark.slow
def test_parsing_and_matching_in_worker_processes_store_what_one_process_stores(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    """A poll of many sources parses and matches in worker processes; what it stores
    is what a poll in one process stores, item for item and match for match."""
    feeds = [
        FeedConfig(name=f"feed-{n}", url=chaos.url(f"/feeds/{n}.xml"), allow_private=True)
        for n in range(PROCESS_POOL_MIN_SOURCES)
    ]
    stored: dict[int, set[tuple[str, str, tuple[str, ...]]]] = {}
    for processes in (1, 2):
        folder = tmp_path / f"processes-{processes}"
        folder.mkdir()
        store, pipeline = open_pipeline(make_config(folder, feeds, processes), Clock(NOW))
        with store, pipeline:
            # As the daemon does: a single poll of 64 sources would not expect enough
            # work to start them (see test_a_poll_starts_worker_processes_...).
            assert pipeline.use_processes_for(len(feeds)) == (processes > 1)
            results = pipeline.poll(pipeline.enabled_sources())
            assert (pipeline.cpu is not None) == (processes > 1)
            assert {r.result for r in results} == {"new_items"}
            stored[processes] = {
                (s.item.feed, s.item.key, tuple(sorted(m.topic for m in s.matches)))
                for s in store.items(limit=100_000)
            }
    assert len(stored[1]) == PROCESS_POOL_MIN_SOURCES * chaos.feeds_per_document
    assert stored[2] == stored[1]
    assert any(topics for _, _, topics in stored[2])  # the tides topic matched some


# --- entries seen last time are skipped before normalizing (issue #18) ----------------------


def tide_feed(*entries: tuple[str, str], built: str = "10:00") -> str:
    """RSS whose channel changes with ``built`` (as lastBuildDate does on every change)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Tides</title>'
        f"<link>https://tides.example/</link><lastBuildDate>Mon, 02 Mar 2026 {built}:00 GMT"
        "</lastBuildDate>"
        + "".join(
            f"<item><title>{title}</title><guid isPermaLink='false'>{guid}</guid>"
            f"<description>&lt;p&gt;{title}: tides and ships.&lt;/p&gt;</description>"
            "<pubDate>Mon, 02 Mar 2026 09:00:00 GMT</pubDate></item>"
            for guid, title in entries
        )
        + "</channel></rss>"
    )


@pytest.fixture
def tides() -> Iterator[FeedServer]:
    with running_feed_server() as server:
        yield server


def normalized_keys(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys of the entries normalized into Items from now on, in order."""
    keys: list[str] = []
    real = feedentries._item_from_entry

    def counting(*args: object, **kwargs: object) -> Item:
        made = real(*args, **kwargs)  # type: ignore[arg-type]
        keys.append(made.key)
        return made

    monkeypatch.setattr(feedentries, "_item_from_entry", counting)
    return keys


def test_a_changed_feed_normalizes_only_its_new_and_edited_entries(
    tmp_path: Path, tides: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tides.put("/tides.xml", tide_feed(("a", "High tide"), ("b", "Low tide")))
    config = make_config(tmp_path, [FeedConfig(name="tides", url=url, allow_private=True)])
    clock = Clock(NOW)
    store, pipeline = open_pipeline(config, clock)
    normalized = normalized_keys(monkeypatch)
    with store, pipeline:
        assert pipeline.poll_one(config.feeds[0]).new_items == 2
        assert normalized == ["a", "b"]
        assert len(store.source_state("tides").entry_digests) == 2 + 1  # and the context
        tides.put(
            "/tides.xml",
            tide_feed(
                ("c", "Spring tide"), ("a", "High tide"), ("b", "Low tide ebbing"), built="11:00"
            ),
        )
        clock.now += timedelta(hours=1)
        second = pipeline.poll_one(config.feeds[0])
        assert (second.new_items, second.changed_items) == (1, 1)
        assert normalized[2:] == ["c", "b"]  # "a" was counted, not normalized
        assert second.matched_topics == ("tides",)  # c's; b keeps the match it had
        assert {s.item.key: s.item.title for s in store.items(feed="tides")} == {
            "a": "High tide",
            "b": "Low tide ebbing",
            "c": "Spring tide",
        }
        assert len(store.source_state("tides").entry_digests) == 3 + 1
        # The same entries under a new channel date: nothing normalized, nothing stored.
        tides.put(
            "/tides.xml",
            tide_feed(
                ("c", "Spring tide"), ("a", "High tide"), ("b", "Low tide ebbing"), built="12:00"
            ),
        )
        third = pipeline.poll_one(config.feeds[0])
        assert (third.result, third.new_items, third.changed_items) == ("no_new_items", 0, 0)
        assert normalized[4:] == []


def test_a_crash_before_the_items_are_stored_forgets_their_entries_too(
    tmp_path: Path, tides: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tides.put("/tides.xml", tide_feed(("a", "High tide")))
    config = make_config(tmp_path, [FeedConfig(name="tides", url=url, allow_private=True)])
    clock = Clock(NOW)
    store, pipeline = open_pipeline(config, clock)
    real_apply = records.apply_feed_update

    with store, pipeline:
        assert pipeline.poll_one(config.feeds[0]).new_items == 1
        remembered = store.source_state("tides").entry_digests
        tides.put("/tides.xml", tide_feed(("b", "Low tide"), ("a", "High tide"), built="11:00"))
        monkeypatch.setattr(records, "apply_feed_update", killed_before_feed_state)
        with pytest.raises(KeyboardInterrupt):
            pipeline.poll_one(config.feeds[0])
        assert store.source_state("tides").entry_digests == remembered
        monkeypatch.setattr(records, "apply_feed_update", real_apply)
        after = pipeline.poll_one(config.feeds[0])
        assert after.new_items == 1
        assert sorted(s.item.key for s in store.items(feed="tides")) == ["a", "b"]


def test_the_first_poll_without_entry_digests_normalizes_every_entry(
    tmp_path: Path, tides: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after upgrading to the version that stores them: the poll works as before."""
    url = tides.put("/tides.xml", tide_feed(("a", "High tide"), ("b", "Low tide")))
    config = make_config(tmp_path, [FeedConfig(name="tides", url=url, allow_private=True)])
    store, pipeline = open_pipeline(config, Clock(NOW))
    normalized = normalized_keys(monkeypatch)
    with store, pipeline:
        pipeline.poll_one(config.feeds[0])
        with store.engine.begin() as connection:
            from sqlalchemy import update

            connection.execute(update(store_module.FeedRow).values(entry_digests=None))
        assert store.source_state("tides").entry_digests == frozenset()
        tides.put("/tides.xml", tide_feed(("c", "Spring tide"), ("a", "High tide"), built="11:00"))
        again = pipeline.poll_one(config.feeds[0])
        assert (again.new_items, again.changed_items) == (1, 0)
        assert normalized[2:] == ["c", "a"]
        assert len(store.source_state("tides").entry_digests) == 2 + 1  # and the context
