"""Parsing and matching on every core.

Fetching waits on the network and runs in threads; parsing (feedparser) and
matching are pure Python and hold the GIL, so in one process they use one core
however many threads poll. ``CpuStages`` runs those two stages either in this
process (``LocalCpuStages``) or in a pool of worker processes
(``ProcessCpuStages``), each of which builds the topic index once at start.

What crosses to a worker is a fetched body and its headers, or a batch of
items; what comes back is a ``ParsedFeed`` or the matches: frozen values,
pickled. Workers start with ``forkserver`` (never ``fork``: the daemon has
threads and open connections a forked child must not share), import only the
parse and match stages, and never touch the database or the network.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Literal, Protocol, TypeVar

from watcher import cpu_worker
from watcher.config import ListConfig, TopicConfig
from watcher.exceptions import WorkerLostError
from watcher.match import TopicIndex
from watcher.models import Item, TopicMatch
from watcher.sources.feeds import ParsedFeed, parse_feed

log = logging.getLogger(__name__)
_Result = TypeVar("_Result")

# Below this many sources a poll stays in one process: starting workers costs
# about a second, more than parsing a few feeds.
PROCESS_POOL_MIN_SOURCES = 64
# A poll that is not a first one starts worker processes only when it expects at
# least this much CPU of parsing and matching still to come: starting two costs
# about 0.65 s of CPU (the fork server's imports, each worker's topic index), on
# two cores the polling process keeps one busy fetching and storing, and one-off
# costs early in a poll (the first parse, a list's index built on first use) can
# add a second or two to the estimate. A warm poll of 1,000 feeds with a tenth
# changed expects ~1 s; one after a long pause, with most changed, ~10 s.
POOL_WORTH_CPU_SECONDS = 6.0
# Matches made with a parse and not (yet) asked for, kept at most: one per poll in
# flight is enough (a poll whose items all turned out stored unchanged never asks).
MATCHED_KEPT = 256
# The first sources' parses carry one-off costs (lazy imports, compiled patterns):
# the estimate counts only the sources done after these, and at least as many again.
POOL_WARM_UP_SOURCES = 32
# One parse or match counts toward the estimate as at most this much CPU. One-off
# costs that land after the warm-up (a list's alternatives compiled on its first
# use: 0.1-0.5 s) would otherwise be extrapolated to every source left and start
# workers for a warm poll that needs none; a feed that truly costs more (a huge
# one) still counts this much, so a poll of many of them still starts the pool.
POOL_CALL_CPU_COUNTED = 0.05


class CpuStages(Protocol):
    """The CPU-bound stages of a feed poll, wherever they run."""

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
        """The feed in ``body``. ``match_items``: the caller will ``match`` the items
        as parsed (most of a feed's), so stages that match elsewhere may match them
        now, in the same trip."""
        ...

    def match(self, items: Sequence[Item]) -> list[tuple[TopicMatch, ...]]: ...


class ItemMatcher(Protocol):
    """What polls need of the matcher: the topics an item matches."""

    def match(self, item: Item) -> list[TopicMatch]: ...


class TopicsOnDemand:
    """The topic index of a configuration, built on the first ``match``.

    A process whose matching all happens in worker processes (a first poll of many
    sources, the daemon with workers) never builds it: with the shipped topics and
    lists, about 32 MB resident and 0.15 s of start-up saved. ``load_config`` has
    parsed every query already, so a late build fails no more than an early one
    would. Thread-safe.
    """

    def __init__(self, topics: Sequence[TopicConfig], lists: Mapping[str, ListConfig]) -> None:
        self._topics = tuple(topics)
        self._lists = dict(lists)
        self._index: TopicIndex | None = None
        self._lock = threading.Lock()

    def index(self) -> TopicIndex:
        index = self._index
        if index is None:
            with self._lock:
                index = self._index
                if index is None:
                    index = self._index = TopicIndex.build(self._topics, self._lists)
        return index

    @property
    def built(self) -> bool:
        return self._index is not None

    def match(self, item: Item) -> list[TopicMatch]:
        return self.index().match(item)


class LocalCpuStages:
    """Parse and match in this process (one poll, a small config, a Celery worker)."""

    def __init__(self, matcher: ItemMatcher) -> None:
        self.matcher = matcher

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
        # Here matching costs no trip: it waits for ``match``, and only the items the
        # store does not hold unchanged get there.
        return parse_feed(body, feed=feed, url=url, headers=headers, seen_entries=seen_entries)

    def match(self, items: Sequence[Item]) -> list[tuple[TopicMatch, ...]]:
        return [tuple(self.matcher.match(item)) for item in items]


class ProcessCpuStages:
    """Parse and match in ``processes`` worker processes; callers block on the result.

    Thread-safe: the poll threads share one pool. Exceptions raised in a worker
    (a ParseError for a body that is no feed) are raised again in the caller.
    """

    def __init__(
        self,
        topics: Sequence[TopicConfig],
        lists: Mapping[str, ListConfig],
        processes: int,
    ) -> None:
        context = multiprocessing.get_context("forkserver")
        # The fork server imports the stages once and every worker forks from it with
        # them loaded; otherwise each worker imports them (and the main module) itself,
        # seconds apiece on a busy 2-core machine (bench/RESULTS.md).
        context.set_forkserver_preload(_preloaded_modules())
        self._new_pool = partial(
            ProcessPoolExecutor,
            max_workers=processes,
            mp_context=context,
            initializer=cpu_worker.start_worker,
            initargs=(
                tuple(map(cpu_worker.WorkerTopic.of, topics)),
                {name: cpu_worker.WorkerList.of(entry) for name, entry in lists.items()},
            ),
        )
        self._processes = processes
        self._lock = threading.Lock()
        self._closed = False
        # Matches made with a parse, by feed, until that feed's ``match`` takes them.
        self._matched: dict[str, tuple[tuple[Item, ...], list[tuple[TopicMatch, ...]]]] = {}
        self._pool = self._started_pool()

    def _started_pool(self) -> ProcessPoolExecutor:
        pool = self._new_pool()
        # Start the workers now, while the first fetches are on the wire, not at the
        # first parse.
        for _ in range(self._processes):
            pool.submit(os.getpid)
        return pool

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
        if not match_items:
            return self._run(cpu_worker.parse, body, feed, url, dict(headers), seen_entries)
        # Matched in the same trip: otherwise the items come back here, go to a worker
        # again to be matched, and only their matches return (issue #18). The matches
        # wait, by feed, for the ``match`` of these very items.
        parsed, matches = self._run(
            cpu_worker.parse_and_match, body, feed, url, dict(headers), seen_entries
        )
        with self._lock:
            self._matched[feed] = (parsed.items, matches)
            while len(self._matched) > MATCHED_KEPT:
                del self._matched[next(iter(self._matched))]
        return parsed

    def match(self, items: Sequence[Item]) -> list[tuple[TopicMatch, ...]]:
        if not items:
            return []
        known = self._matched_with_parse(items)
        if known is not None:
            return known
        return self._run(cpu_worker.match, tuple(items))

    def _matched_with_parse(self, items: Sequence[Item]) -> list[tuple[TopicMatch, ...]] | None:
        """The matches made at the parse of ``items``' feed, if every one of ``items``
        is an item of that parse (the same object: one changed since, by a fetched
        article's text, is matched again)."""
        with self._lock:
            kept = self._matched.pop(items[0].feed, None)
        if kept is None:
            return None
        parsed, matches = kept
        numbers = {id(item): number for number, item in enumerate(parsed)}
        found: list[tuple[TopicMatch, ...]] = []
        for item in items:
            number = numbers.get(id(item))
            if number is None or parsed[number] is not item:
                return None
            found.append(matches[number])
        return found

    def _run(self, function: Callable[..., _Result], *args: object) -> _Result:
        """``function(*args)`` in a worker. A worker that dies (killed, out of memory,
        a crash in a C extension) breaks the whole pool: the calls in flight fail
        with WorkerLostError and a new pool takes the next ones, so one bad document
        costs a round of polls, never every poll after it."""
        pool = self._pool
        try:
            return pool.submit(function, *args).result()
        except BrokenProcessPool as exc:
            self._replace(pool)
            raise WorkerLostError(
                "a worker process parsing and matching for this poll died (with this "
                "document or another one in flight); new ones have started"
            ) from exc

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is not broken or self._closed:
                return  # another thread replaced it, or the poll is over
            log.warning("a worker process for parsing and matching died; starting new ones")
            self._pool = self._started_pool()
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool = self._pool
        pool.shutdown(wait=True, cancel_futures=True)


class AdaptiveCpuStages:
    """Parse and match here until the work still to come pays for worker processes.

    A poll of many sources does not know how many bodies changed: a cold poll
    parses every source, a warm one a tenth or none. So the poll starts here and
    measures the CPU its parses and matches take. After a warm-up, the CPU per
    source since then times the sources left is the work to come; once that
    reaches POOL_WORTH_CPU_SECONDS, ``start_pool`` makes the pool and every later
    parse and match goes there. Thread-safe.
    """

    def __init__(
        self,
        matcher: ItemMatcher,
        total_sources: int,
        start_pool: Callable[[], CpuStages],
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        # A matcher built on demand is built before the first match is timed: its
        # build is a one-off cost, not work per source.
        self._prepare_matcher = matcher.index if isinstance(matcher, TopicsOnDemand) else None
        self._local = LocalCpuStages(matcher)
        self._cpu_clock = cpu_clock
        self._total = total_sources
        self._start_pool = start_pool
        self._pool: CpuStages | None = None
        self._starting = False
        self._lock = threading.Lock()
        self._cpu_seconds = 0.0
        self._done = 0
        self._cpu_after_warm_up = 0.0

    @property
    def pool_started(self) -> bool:
        return self._pool is not None

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
        pool = self._pool
        if pool is not None:
            return pool.parse(
                body,
                feed=feed,
                url=url,
                headers=headers,
                seen_entries=seen_entries,
                match_items=match_items,
            )
        started = self._cpu_clock()
        try:
            return self._local.parse(
                body, feed=feed, url=url, headers=headers, seen_entries=seen_entries
            )
        finally:
            self._spent(self._cpu_clock() - started)

    def match(self, items: Sequence[Item]) -> list[tuple[TopicMatch, ...]]:
        pool = self._pool
        if pool is not None:
            return pool.match(items)
        if self._prepare_matcher is not None:
            self._prepare_matcher()
        started = self._cpu_clock()
        try:
            return self._local.match(items)
        finally:
            self._spent(self._cpu_clock() - started)

    def source_done(self) -> None:
        """One more source of the poll finished (whatever it cost); may start the pool.

        The pool is started outside the lock: the first worker waits for the fork
        server's imports, and meanwhile the other threads go on parsing here."""
        with self._lock:
            self._done += 1
            if self._done == POOL_WARM_UP_SOURCES:
                self._cpu_after_warm_up = self._cpu_seconds
            measured = self._done - POOL_WARM_UP_SOURCES
            if self._starting or measured < POOL_WARM_UP_SOURCES:
                return
            per_source = (self._cpu_seconds - self._cpu_after_warm_up) / measured
            if per_source * (self._total - self._done) < POOL_WORTH_CPU_SECONDS:
                return
            self._starting = True
        self._pool = self._start_pool()

    def _spent(self, seconds: float) -> None:
        with self._lock:
            self._cpu_seconds += min(seconds, POOL_CALL_CPU_COUNTED)


def _preloaded_modules() -> list[str]:
    """What the fork server imports once for every worker: the worker's module (not
    this one, whose package imports the store), and the main module, which each
    worker would otherwise run again itself: "__main__" stands for a script (the
    ``watcher`` command), a name for ``python -m watcher.x``. ``python -m watcher``
    needs neither: a worker never runs a package's ``__main__``."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    main = spec.name if spec is not None else "__main__"
    wanted = main == "__main__" or (main.startswith("watcher.") and not main.endswith(".__main__"))
    return [cpu_worker.__name__, *([main] if wanted else [])]


# ``processes: auto`` uses one worker per CPU up to this many: each holds its own
# topic index and lists (~32 MB resident with the shipped ones), and past four the
# polling process, which fetches and stores for them all, is the limit.
AUTO_PROCESSES_MAX = 4


def worker_processes(requested: int | Literal["auto"]) -> int:
    """How many worker processes a poll of many sources uses: ``requested`` (or, for
    "auto", up to AUTO_PROCESSES_MAX), at most one per CPU this process may run on."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    wanted = AUTO_PROCESSES_MAX if requested == "auto" else requested
    return max(1, min(wanted, cpus))
