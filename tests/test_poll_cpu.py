"""Where a poll of many sources parses and matches: here, or in worker processes it
starts once the work still to come pays for them (watcher.poll.cpu)."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

import watcher.poll.cpu as cpu_module
from tests.chaos_server import ChaosServer, running_chaos_server
from tests.test_poll import NOW, Clock, make_config, open_pipeline
from watcher.config import FeedConfig, ListConfig, TopicConfig
from watcher.exceptions import WorkerLostError
from watcher.match import TopicIndex
from watcher.models import Item, TopicMatch
from watcher.pipeline import Pipeline
from watcher.poll.cpu import (
    POOL_WARM_UP_SOURCES,
    AdaptiveCpuStages,
    CpuStages,
    ProcessCpuStages,
    TopicsOnDemand,
)
from watcher.sources.feeds import ParsedFeed

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>High tide at noon</title><link>https://example.org/1</link></item>
</channel></rss>"""


class NoTopics:
    def match(self, item: Item) -> list[TopicMatch]:
        return []


class FakeCpuClock:
    """Thread CPU seconds: each stage measured (two readings) takes ``per_source / 2``,
    so a source's parse and match take ``per_source``."""

    def __init__(self, per_source: float) -> None:
        self.per_source = per_source
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.per_source / 4
        return self.now


class CountingPool:
    """A stand-in for the worker processes, parsing here and counting what it is given."""

    def __init__(self) -> None:
        self.parsed = 0
        self.matched = 0

    def parse(
        self,
        body: bytes,
        *,
        feed: str,
        url: str,
        headers: Mapping[str, str],
        seen_entries: frozenset[str] = frozenset(),
        match_items: bool = False,
    ) -> ParsedFeed:
        self.parsed += 1
        return cpu_module.parse_feed(
            body, feed=feed, url=url, headers=headers, seen_entries=seen_entries
        )

    def match(self, items: Sequence[Item]) -> list[tuple[TopicMatch, ...]]:
        self.matched += 1
        return [() for _ in items]


def poll_like(stages: AdaptiveCpuStages, sources: int) -> None:
    """What a poll does per source: parse its body, match its items, say it is done."""
    for number in range(sources):
        parsed = stages.parse(FEED, feed=f"f{number}", url="https://example.org/", headers={})
        stages.match(parsed.items)
        stages.source_done()


def test_a_cold_poll_starts_the_workers_once_after_the_warm_up() -> None:
    pools: list[CountingPool] = []

    def start_pool() -> CpuStages:
        pools.append(CountingPool())
        return pools[-1]

    # 30 ms of parsing and matching per source, 1,000 sources: ~28 s to come.
    stages = AdaptiveCpuStages(NoTopics(), 1000, start_pool, cpu_clock=FakeCpuClock(0.03))
    poll_like(stages, 2 * POOL_WARM_UP_SOURCES - 1)
    assert not pools and not stages.pool_started  # still measuring
    poll_like(stages, 1)
    assert len(pools) == 1 and stages.pool_started
    poll_like(stages, 100)
    assert len(pools) == 1
    assert pools[0].parsed == 100 and pools[0].matched == 100


def test_a_warm_poll_stays_in_this_process() -> None:
    started: list[int] = []

    def start_pool() -> CpuStages:
        started.append(1)
        return CountingPool()

    # One source in ten changed: ~1 ms a source, ~1 s for all 1,000.
    stages = AdaptiveCpuStages(NoTopics(), 1000, start_pool, cpu_clock=FakeCpuClock(0.0005))
    poll_like(stages, 1000)
    assert not started


def test_the_warm_up_sources_do_not_count_toward_the_estimate() -> None:
    """The first sources' parses carry one-off costs; a slow start alone starts nothing."""
    started: list[int] = []

    def start_pool() -> CpuStages:
        started.append(1)
        return CountingPool()

    clock = FakeCpuClock(0.5)  # the warm-up: half a second a source
    stages = AdaptiveCpuStages(NoTopics(), 1000, start_pool, cpu_clock=clock)
    poll_like(stages, POOL_WARM_UP_SOURCES)
    clock.per_source = 0.0005
    poll_like(stages, 1000 - POOL_WARM_UP_SOURCES)
    assert not started


def test_a_one_off_cost_after_the_warm_up_is_not_extrapolated() -> None:
    """A list compiled on its first use, late in a warm poll, is one slow match: it
    counts as one dear source, not as what every source left will cost."""
    started: list[int] = []

    def start_pool() -> CpuStages:
        started.append(1)
        return CountingPool()

    clock = FakeCpuClock(0.0005)
    stages = AdaptiveCpuStages(NoTopics(), 1000, start_pool, cpu_clock=clock)
    poll_like(stages, 2 * POOL_WARM_UP_SOURCES)
    clock.per_source = 2.0  # one source's parse and match: a second each
    poll_like(stages, 1)
    clock.per_source = 0.0005
    poll_like(stages, 1000 - 2 * POOL_WARM_UP_SOURCES - 1)
    assert not started
    # Sources that all cost that much still start the pool.
    stages = AdaptiveCpuStages(NoTopics(), 1000, start_pool, cpu_clock=FakeCpuClock(2.0))
    poll_like(stages, 2 * POOL_WARM_UP_SOURCES)
    assert started == [1]


def test_building_the_topic_index_on_demand_is_not_counted_as_work_to_come() -> None:
    """The first local match builds the index (a one-off ~0.2 s); counted as the work
    of one source it would start workers for a warm poll that needs none."""
    clock = FakeCpuClock(0.0005)

    class SlowToBuild(TopicsOnDemand):
        def index(self) -> TopicIndex:
            if not self.built:
                clock.now += 10.0  # a build that costs far more than the threshold
            return super().index()

    started: list[int] = []

    def start_pool() -> CpuStages:
        started.append(1)
        return CountingPool()

    matcher = SlowToBuild((TopicConfig(name="tides", query="tide*"),), {})
    stages = AdaptiveCpuStages(matcher, 1000, start_pool, cpu_clock=clock)
    for _ in range(3 * POOL_WARM_UP_SOURCES):  # 304s: nothing parsed, nothing matched
        stages.source_done()
    poll_like(stages, 1000 - 3 * POOL_WARM_UP_SOURCES)
    assert matcher.built
    assert not started


@pytest.fixture
def chaos() -> Iterator[ChaosServer]:
    with running_chaos_server() as server:
        yield server


@pytest.mark.slow
def test_a_first_poll_of_many_starts_workers_at_once_a_later_one_measures(
    tmp_path: Path, chaos: ChaosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources never fetched will all be parsed: a first poll of 64 starts the workers
    before it polls; the next poll of the same (all 304s) only measures, and starts none."""
    feeds = [
        FeedConfig(name=f"feed-{n}", url=chaos.url(f"/feeds/{n}.xml"), allow_private=True)
        for n in range(cpu_module.PROCESS_POOL_MIN_SOURCES)
    ]
    # No estimate of work to come ever starts them here: only the first poll's rule can.
    monkeypatch.setattr(cpu_module, "POOL_WORTH_CPU_SECONDS", float("inf"))
    clock = Clock(NOW)
    config = make_config(tmp_path, feeds, processes=2)
    store, first = open_pipeline(config, clock)
    with store:
        with first:
            results = first.poll(first.enabled_sources())
            assert first.cpu is not None
            assert {r.result for r in results} == {"new_items"}
            # Every item was matched in a worker: this process never built the index.
            assert isinstance(first.matcher, TopicsOnDemand)
            assert not first.matcher.built
        clock.now += timedelta(hours=1)
        with Pipeline(config, store, clock=clock) as later:
            results = later.poll(later.enabled_sources())
            assert later.cpu is None
            assert {r.result for r in results} == {"not_modified"}


@pytest.mark.slow
def test_a_poll_that_starts_workers_midway_stores_what_one_process_stores(
    tmp_path: Path, chaos: ChaosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources parsed before the workers start and after: the same items and matches
    as a poll in one process. Half the sources were polled before (so this is no first
    poll, which would start the workers at once), half are new."""
    count = max(cpu_module.PROCESS_POOL_MIN_SOURCES, 3 * POOL_WARM_UP_SOURCES) + 16
    feeds = [
        FeedConfig(name=f"feed-{n}", url=chaos.url(f"/feeds/{n}.xml"), allow_private=True)
        for n in range(count)
    ]
    known = feeds[: count // 2]
    # Any work to come is worth the workers here, so they start after the warm-up.
    monkeypatch.setattr(cpu_module, "POOL_WORTH_CPU_SECONDS", 0.0)
    stored: dict[int, set[tuple[str, str, tuple[str, ...]]]] = {}
    for processes in (1, 2):
        folder = tmp_path / f"processes-{processes}"
        folder.mkdir()
        clock = Clock(NOW)
        store, before = open_pipeline(make_config(folder, known, 1), clock)
        with store:
            with before:
                before.poll(before.enabled_sources())
            config = make_config(folder, feeds, processes)
            store.sync_sources(config.feeds, clock())
            clock.now += timedelta(hours=1)
            with Pipeline(config, store, clock=clock) as pipeline:
                results = pipeline.poll(pipeline.enabled_sources())
                assert (pipeline.cpu is not None) == (processes > 1)
                # Built on demand when this process matches (with workers, whether any
                # source was parsed here before they started depends on timing).
                assert isinstance(pipeline.matcher, TopicsOnDemand)
                assert pipeline.matcher.built or processes > 1
            assert sorted(r.result for r in results) == sorted(
                ["not_modified"] * len(known) + ["new_items"] * (count - len(known))
            )
            stored[processes] = {
                (s.item.feed, s.item.key, tuple(sorted(m.topic for m in s.matches)))
                for s in store.items(limit=100_000)
            }
    assert len(stored[1]) == count * chaos.feeds_per_document
    assert stored[2] == stored[1]
    assert any(topics for _, _, topics in stored[2])


def test_a_killed_worker_process_costs_the_calls_in_flight_not_the_pool() -> None:
    """kill -9 of a parse-and-match worker breaks its pool: the next call fails with
    WorkerLostError (recorded on its source like a parse failure), and the calls after
    it parse and match in new worker processes."""
    stages = ProcessCpuStages((TopicConfig(name="tides", query="tide*"),), {}, 2)
    try:
        before = stages.parse(FEED, feed="f", url="https://example.org/", headers={})
        pids = {stages._pool.submit(os.getpid).result() for _ in range(8)}
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        outcomes: list[str] = []
        for _ in range(20):
            try:
                parsed = stages.parse(FEED, feed="f", url="https://example.org/", headers={})
            except WorkerLostError:
                outcomes.append("lost")
                continue
            outcomes.append("parsed")
            break
        assert outcomes[-1] == "parsed", outcomes
        assert parsed.items == before.items
        matches = stages.match(list(parsed.items))
        assert [m.topic for m in matches[0]] == ["tides"]
        assert pids.isdisjoint({stages._pool.submit(os.getpid).result() for _ in range(8)})
    finally:
        stages.close()


def test_a_worker_process_holds_only_the_parse_and_match_stages() -> None:
    """Issue #18: a worker imports neither the store, SQLAlchemy nor the poll package
    (about 30 MB a process), nor lxml (only an HTML page needs it), nor the
    configuration with pydantic and YAML (~11 MB: its topics and lists come as plain
    values), and what it inherited from the fork server, and its topic index, are
    frozen out of the cyclic collector's walks, which would copy their pages."""
    topics = (
        TopicConfig(name="tides", query="tide*", tags=(), min_score=0.1),
        TopicConfig(name="noon", query="@hours", exclude="midnight", stemming=True),
    )
    lists = {"hours": ListConfig(terms=("noon", "dusk"), tagged={"GB": ("teatime",)})}
    stages = ProcessCpuStages(topics, lists, 2)
    heavy = (
        "sqlalchemy", "watcher.store", "watcher.poll", "lxml", "cssselect",
        "watcher.config", "pydantic", "yaml",
    )  # fmt: skip
    try:
        loaded = stages._pool.submit(
            eval, f"sorted(m for m in __import__('sys').modules if m.startswith({heavy!r}))"
        ).result()
        assert loaded == []
        # The index of one topic alone is some thousands of objects; the imports, more.
        assert stages._pool.submit(gc.get_freeze_count).result() > 20_000
        parsed = stages.parse(FEED, feed="f", url="https://example.org/", headers={})
        in_worker = stages.match(list(parsed.items))[0]
        # As this process's own index of the same configuration matches.
        assert list(in_worker) == TopicIndex.build(topics, lists).match(parsed.items[0])
        assert [m.topic for m in in_worker] == ["tides", "noon"]
    finally:
        stages.close()


def test_items_matched_in_the_trip_of_their_parse_need_no_second_one() -> None:
    """Issue #18: a worker that parses a feed also matches its items, so they need not
    come back here and go out again; an item changed since its parse (a full text
    fetched) is matched in a worker anew."""
    stages = ProcessCpuStages((TopicConfig(name="tides", query="tide*"),), {}, 2)
    trips: list[str] = []
    run = stages._run

    def counted(function: Callable[..., object], *args: object) -> object:
        trips.append(function.__name__)
        return run(function, *args)

    stages._run = counted  # type: ignore[method-assign]
    try:
        parsed = stages.parse(
            FEED, feed="f", url="https://example.org/", headers={}, match_items=True
        )
        assert [m.topic for m in stages.match(list(parsed.items))[0]] == ["tides"]
        assert trips == ["parse_and_match"]
        parsed = stages.parse(
            FEED, feed="f", url="https://example.org/", headers={}, match_items=True
        )
        low_water = replace(parsed.items[0], title="Low water at noon")
        assert stages.match([low_water]) == [()]
        assert trips[-1] == "match"
        # Without match_items a parse only parses, and match makes its own trip.
        parsed = stages.parse(FEED, feed="f", url="https://example.org/", headers={})
        assert [m.topic for m in stages.match(list(parsed.items))[0]] == ["tides"]
        assert trips[-2:] == ["parse", "match"]
    finally:
        stages.close()


class MatchLostPool(CountingPool):
    """Parses here; its worker dies at every match (as a separate match trip can)."""

    def match(self, items: Sequence[Item]) -> list[tuple[TopicMatch, ...]]:
        raise WorkerLostError("a worker process parsing and matching for this poll died")


def test_a_worker_lost_while_matching_fails_the_source_as_a_parse_does(
    tmp_path: Path, chaos: ChaosServer
) -> None:
    """The source is recorded as failed (kind parse) with its backoff, nothing stored;
    the next poll takes its items, none lost."""
    feed = FeedConfig(name="tides", url=chaos.url("/feeds/1.xml"), allow_private=True)
    clock = Clock(NOW)
    store, pipeline = open_pipeline(make_config(tmp_path, [feed]), clock)
    with store, pipeline:
        lost = pipeline.poll_one(feed, cpu=MatchLostPool())
        assert (lost.result, lost.error_kind) == ("failed", "parse")
        assert store.items(limit=100) == []
        assert store.source_state("tides").error_count == 1
        clock.now += timedelta(hours=2)
        again = pipeline.poll_one(feed)
        assert again.new_items == chaos.feeds_per_document


_FRAGMENTED_HEAP = """
import sys
from watcher.cpu_worker import freed_memory_releaser

def resident_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

# 40 KB blocks come from the C heap; a 1 KB block kept after each pins the heap,
# so freeing the big ones leaves holes that only a trim hands back.
big, kept = [], []
for number in range(2_500):
    big.append(bytes(40_000) + bytes([number % 256]))
    kept.append(bytes(1_000) + bytes([number % 256]))
del big
before = resident_kb()
freed_memory_releaser()()
print(before - resident_kb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_a_worker_hands_back_the_heap_a_call_freed() -> None:
    """Issue #18: a worker trims the C heap after each call. Without it, 100 MB freed
    in holes of a heap stays resident; the releaser gives most of it back."""
    released_kb = int(
        subprocess.run(
            [sys.executable, "-c", _FRAGMENTED_HEAP], check=True, capture_output=True, text=True
        ).stdout
    )
    assert released_kb > 50_000
